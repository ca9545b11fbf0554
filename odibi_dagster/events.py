"""A node's :class:`~odibi_core.results.NodeResult` as Dagster materialization metadata.

The only module that knows both the core's result records and Dagster's metadata types.
"""

from __future__ import annotations

from typing import Any

import dagster as dg

from odibi_core.results import NodeResult
from odibi_dagster import metadata as md

__all__ = ["materialization_metadata", "profile_metadata", "summary_markdown"]


def materialization_metadata(result: NodeResult, *, target: str | None = None,
                             story_html: str | None = None) -> dict[str, Any]:
    """``target`` is the asset definition's ``odibi/target`` (``connection:path`` as configured),
    so a materialization names its target as the definition does; without one, the connection
    and the resolved location (never with credentials)."""
    meta: dict[str, Any] = {
        md.ENGINE: result.engine,
        md.DURATION: dg.MetadataValue.float(result.duration_seconds),
        md.SUMMARY: dg.MetadataValue.md(summary_markdown(result)),
    }
    if result.rows_out is not None:
        meta[md.ROW_COUNT] = dg.MetadataValue.int(result.rows_out)
        meta[md.ROWS_OUT] = dg.MetadataValue.int(result.rows_out)
    if result.rows_in is not None:
        meta[md.ROWS_IN] = dg.MetadataValue.int(result.rows_in)
    if result.rows_written is not None:
        meta[md.ROWS_WRITTEN] = dg.MetadataValue.int(result.rows_written)
    if result.schema_out:
        meta[md.COLUMN_SCHEMA] = dg.TableSchema(
            columns=[dg.TableColumn(c.name, c.type) for c in result.schema_out])
    if result.write is not None:
        write = result.write
        meta[md.URI] = dg.MetadataValue.path(write.location)
        meta[md.TARGET] = target or f"{write.connection}:{write.location}"
        meta[md.WRITE_MODE] = write.mode
        if write.delta_version is not None:
            meta[md.DELTA_VERSION] = dg.MetadataValue.int(write.delta_version)
        if write.batch_id is not None:
            meta[md.BATCH_ID] = write.batch_id
            meta[md.SKIPPED_DUPLICATE_BATCH] = dg.MetadataValue.bool(write.skipped_duplicate_batch)
        if write.skipped is not None:
            meta[md.WRITE_SKIPPED] = write.skipped
        if write.transaction is not None:
            meta[md.TRANSACTION] = write.transaction
    if result.sql_executed:
        meta[md.SQL] = dg.MetadataValue.md(
            "\n\n".join(f"```sql\n{q}\n```" for q in result.sql_executed))
    if result.sample_rows:
        meta[md.SAMPLE] = dg.MetadataValue.json(list(result.sample_rows))
    if result.quarantine is not None:
        meta[md.QUARANTINE_ROWS] = dg.MetadataValue.int(result.quarantine.rows)
        meta[md.QUARANTINE_WRITTEN] = dg.MetadataValue.int(result.quarantine.rows_written)
        meta[md.QUARANTINE_TARGET] = result.quarantine.destination
    dead = result.extra.get("dead_letters")
    if dead:
        meta[md.DEAD_LETTERS] = dg.MetadataValue.int(dead["bad_records"])
        meta[md.DEAD_LETTER_TARGET] = dead["destination"]
    meta.update(_stream_metadata(result.extra.get("streaming")))
    meta.update(_change_feed_metadata(result.extra.get("incremental")))
    if result.gate is not None:
        meta[md.GATE] = dg.MetadataValue.json(result.gate.summary())
    meta[md.ATTEMPT] = dg.MetadataValue.int(result.attempt)
    meta[md.MAX_ATTEMPTS] = dg.MetadataValue.int(result.max_attempts)
    if result.retries:
        meta[md.RETRIES] = dg.MetadataValue.json([r.summary() for r in result.retries])
    if result.dry_run:
        meta[md.DRY_RUN] = True
    meta.update(profile_metadata(result))
    if story_html:
        meta[md.STORY] = dg.MetadataValue.path(story_html)
    return meta


_PROFILE_COLUMNS = (("column", "string"), ("type", "string"), ("null_percentage", "float"),
                    ("unique_count", "int"), ("unique_approximate", "bool"), ("min", "string"),
                    ("max", "string"), ("histogram", "string"))


def _stream_metadata(stream: dict[str, Any] | None) -> dict[str, Any]:
    """A streaming node's run of its query (see ``odibi_core.streaming.StreamSummary``)."""
    if not stream:
        return {}
    meta: dict[str, Any] = {
        md.STREAM_BATCHES: dg.MetadataValue.int(stream["batches"]),
        md.STREAM_ROWS_IN: dg.MetadataValue.int(stream["rows_in"]),
        md.LATE_ROWS_DROPPED: dg.MetadataValue.int(stream["late_rows_dropped"]),
        md.CHECKPOINT: dg.MetadataValue.path(stream["checkpoint"]),
        md.STREAM: dg.MetadataValue.json(stream),
    }
    if stream.get("watermark"):
        meta[md.WATERMARK] = stream["watermark"]
    return meta


def _change_feed_metadata(window: dict[str, Any] | None) -> dict[str, Any]:
    """The versions a change-feed read consumed (the ``incremental`` window of mode
    ``change_feed``, see ``odibi_core.change_feed``)."""
    if not window or window.get("mode") != "change_feed":
        return {}
    meta: dict[str, Any] = {}
    if window.get("lower_bound") is not None:
        meta[md.CHANGE_FEED_AFTER] = dg.MetadataValue.int(int(window["lower_bound"]))
    if window.get("new_high_water_mark") is not None:
        meta[md.CHANGE_FEED_UP_TO] = dg.MetadataValue.int(int(window["new_high_water_mark"]))
    return meta


def profile_metadata(result: NodeResult) -> dict[str, Any]:
    """The output's profile (when ``profiling`` is enabled): a table with one row per column,
    and a markdown summary; nothing when there is no profile."""
    from odibi_core.profiling import profile_markdown, profile_of
    from odibi_core.profiling.render import sparkline

    data = result.extra.get("profile")
    if not data:
        return {}
    profile = profile_of(result)
    meta: dict[str, Any] = {md.PROFILE_SUMMARY: dg.MetadataValue.md(profile_markdown(data))}
    if profile is None:
        return meta
    records = [dg.TableRecord({
        "column": c.name, "type": c.type, "null_percentage": c.null_percentage,
        "unique_count": c.unique_count, "unique_approximate": c.approximate,
        "min": None if c.min is None else str(c.min),
        "max": None if c.max is None else str(c.max),
        "histogram": sparkline(list(c.histogram.counts)) if c.histogram else None,
    }) for c in profile.columns]
    schema = dg.TableSchema(columns=[dg.TableColumn(name, kind) for name, kind in _PROFILE_COLUMNS])
    meta[md.PROFILE] = dg.MetadataValue.table(records, schema=schema)
    return meta


def summary_markdown(result: NodeResult) -> str:
    lines = [f"**{result.key}** — {result.status} in {result.duration_seconds:.2f}s on "
             f"`{result.engine}`", "",
             "| rows in | rows out | rows written | Delta version |", "|---|---|---|---|",
             f"| {_n(result.rows_in)} | {_n(result.rows_out)} | {_n(result.rows_written)} | "
             f"{_n(result.delta_version)} |"]
    if result.write is not None:
        lines += ["", write_sentence(result.write)]
    if result.quarantine is not None:
        lines += ["", f"Quarantined {result.quarantine.rows:,} row(s) "
                      f"({result.quarantine.rows_written:,} written to "
                      f"`{result.quarantine.destination}`)."]
    dead = result.extra.get("dead_letters")
    if dead:
        lines += ["", f"Dead-lettered {dead['bad_records']:,} of {dead['rows_read']:,} record(s) "
                      f"to `{dead['destination']}`."]
    for block in (result.contracts, result.validation):
        failed = block.failed_tests if block is not None else ()
        if failed:
            lines += ["", f"Failing {block.kind} tests: " + ", ".join(
                f"{t.name} ({t.failing_rows if t.failing_rows is not None else 'aggregate'}"
                f", {t.on_fail})" for t in failed)]
    if result.retries:
        lines += ["", f"{_attempt_sentence(result)}:"]
        lines += [f"- attempt {r.attempt}: `{r.category}` {r.error_type}: "
                  f"{_one_line(r.error)} (retried after {r.delay_seconds:g}s)"
                  for r in result.retries]
    if result.dry_run:
        lines += ["", "_Dry run: nothing was written._"]
    if result.timings:
        lines += ["", "Phases: " + ", ".join(f"{t.phase} {t.seconds:.3f}s"
                                             for t in result.timings)]
    return "\n".join(lines)


def write_sentence(write: Any) -> str:
    """One line on the write: where, how, which batch, and why nothing was written."""
    where = f"`{write.location}` ({write.format}, {write.mode})"
    batch = f" Batch `{write.batch_id}`." if write.batch_id else ""
    if write.skipped == "duplicate_batch":
        return f"Nothing written to {where}: the batch was committed before.{batch}"
    if write.skipped == "unchanged":
        return f"Nothing written to {where}: input and node unchanged (skip_if_unchanged).{batch}"
    if write.skipped == "no_rows_unknown_types":
        return (f"Nothing written to {where}: no rows, and their column types are unknown; the "
                f"table is created by the first write with rows.{batch}")
    if write.skipped == "no_rows":
        return f"Nothing written to {where}: no rows to append, nothing committed.{batch}"
    return f"Written to {where}.{batch}"


def _attempt_sentence(result: NodeResult) -> str:
    """``Attempt 3 of 3 (2 retries)``."""
    retries = len(result.retries)
    plural = "retry" if retries == 1 else "retries"
    return f"Attempt {result.attempt} of {result.max_attempts} ({retries} {plural})"


def _one_line(text: str) -> str:
    return " ".join(text.split())[:300]


def _n(value: int | None) -> str:
    return "–" if value is None else f"{value:,}"
