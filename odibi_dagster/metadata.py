"""Metadata keys odibi puts on assets and materializations, defined once."""

from __future__ import annotations

# Dagster's well-known keys (shown specially in the UI).
ROW_COUNT = "dagster/row_count"
COLUMN_SCHEMA = "dagster/column_schema"
URI = "dagster/uri"
TABLE_NAME = "dagster/table_name"

# odibi's own keys.
PIPELINE = "odibi/pipeline"
NODE = "odibi/node"
LAYER = "odibi/layer"
ENGINE = "odibi/engine"
TARGET = "odibi/target"
FORMAT = "odibi/format"
WRITE_MODE = "odibi/write_mode"
ROWS_IN = "odibi/rows_in"
ROWS_OUT = "odibi/rows_out"
ROWS_WRITTEN = "odibi/rows_written"
DELTA_VERSION = "odibi/delta_version"
DURATION = "odibi/duration_seconds"
SUMMARY = "odibi/summary"
SAMPLE = "odibi/sample"
SQL = "odibi/sql"
STORY = "odibi/story"
DRY_RUN = "odibi/dry_run"
QUARANTINE_ROWS = "odibi/quarantine_rows"
QUARANTINE_WRITTEN = "odibi/quarantine_rows_written"
QUARANTINE_TARGET = "odibi/quarantine_target"
DEAD_LETTERS = "odibi/dead_letter_rows"
DEAD_LETTER_TARGET = "odibi/dead_letter_target"
GATE = "odibi/gate"
PARTITION = "odibi/partition"  # the Dagster partition key a materialization wrote

# Run tags.
TAG_ENV = "odibi/env"
TAG_DRY_RUN = "odibi/dry_run"
TAG_PROJECT = "odibi/project"
TAG_PARTITION = "dagster/partition"  # Dagster's own: the partition a run materializes

# A run a file-arrival sensor started: the watched ``connection:glob``, whether the nodes reading
# it read only the new files (``new_files``) or all of them, and the new files (a JSON list of
# paths relative to the connection, and their count).
TAG_WATCHED = "odibi/watched"
TAG_SENSOR_READS = "odibi/sensor_reads"
TAG_FILES = "odibi/files"
TAG_FILE_COUNT = "odibi/file_count"

# A run a source_change sensor started: the nodes whose source changed and those sources
# (``connection:path``), as JSON lists.
TAG_CHANGED_NODES = "odibi/changed_nodes"
TAG_CHANGED_SOURCES = "odibi/changed_sources"

# Exactly-once writes (SPEC §7): the batch a write carried, and whether it was skipped.
BATCH_ID = "odibi/batch_id"
SKIPPED_DUPLICATE_BATCH = "skipped_duplicate_batch"
WRITE_SKIPPED = "odibi/write_skipped"
TRANSACTION = "odibi/delta_transaction"

# Retries of transient failures (SPEC §8): the attempt that produced the materialization (or the
# failure), of how many allowed, and the earlier attempts that failed and were retried
# (a list of {attempt, error, category, delay, failed_at}).
ATTEMPT = "odibi/attempt"
MAX_ATTEMPTS = "odibi/max_attempts"
RETRIES = "odibi/retries"

# Data profiling (SPEC §10, `profiling.enabled`): a table with one row per column of the output,
# and the same profile as markdown.
PROFILE = "odibi/profile"
PROFILE_SUMMARY = "odibi/profile_summary"

# Streaming nodes (``read.streaming``): one bounded run of the node's query — its micro-batches,
# the rows its source delivered, the event-time watermark after the run, the rows Spark dropped
# for arriving behind it, the checkpoint, and the whole summary as JSON.
STREAM_BATCHES = "odibi/stream_batches"
STREAM_ROWS_IN = "odibi/stream_input_rows"
WATERMARK = "odibi/watermark"
LATE_ROWS_DROPPED = "odibi/late_rows_dropped"
CHECKPOINT = "odibi/checkpoint"
STREAM = "odibi/stream"

# A change-feed read (``read.change_feed``): the versions of the source table this run consumed —
# after the last version consumed before it, up to the version now committed as the node's state.
CHANGE_FEED_AFTER = "odibi/change_feed_after_version"
CHANGE_FEED_UP_TO = "odibi/change_feed_up_to_version"
