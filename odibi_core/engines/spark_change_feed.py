"""Delta change data feed reads on the Spark engine (``readChangeFeed``), with the rules and
messages of the delta-rs read (``delta_changes``).

The start version is resolved here (a timestamp from the log's commit timestamps, as delta-rs
does) and the read is ``startingVersion``/``endingVersion``; a start past the last version is
an empty frame with the feed's schema (Spark itself would fail). Spark builds the feed's scan
lazily: the read plans the query at once, so that a version without change data is a
:class:`DataError` of the read, and checks from the log that the files the versions need are
still there (VACUUM; local tables, the only ones the Spark engine reads so far).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from odibi_core.engines.delta_changes import (
    check_change_request,
    missing_change_files,
    not_enabled_error,
    start_version,
    vacuumed_error,
)
from odibi_core.engines.spark_delta import _latest_version, commit_infos, require_table
from odibi_core.engines.spark_sql import error_text
from odibi_core.storage.locations import ResolvedLocation
from odibi_core.storage.requests import ReadRequest

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["read_change_feed"]


def read_change_feed(spark: SparkSession, request: ReadRequest) -> DataFrame:
    """The change feed ``request.change_feed`` asks for: the table's columns, then
    ``_change_type``, ``_commit_version`` (bigint), ``_commit_timestamp`` (timestamp)."""
    feed = check_change_request(request)
    location = request.location
    require_table(spark, location)
    latest = _latest_version(spark, location)
    end = latest if feed.ending_version is None else min(int(feed.ending_version), latest)
    history = [] if feed.starting_version is not None else [
        {"version": v, "timestamp": int(info.get("timestamp") or 0)}
        for v, info in commit_infos(spark, location).items()]
    start = start_version(feed, history)
    if start is None or start > end:
        return _empty_feed(spark, location)
    missing = missing_change_files(location, start, end)  # local tables (Spark reads no others)
    if missing:
        raise vacuumed_error(location, start, end, missing)
    frame = spark.read.format("delta").option("readChangeFeed", "true") \
        .option("startingVersion", start).option("endingVersion", end).load(location.uri)
    _plan(frame, location)
    return frame


def _plan(frame: DataFrame, location: ResolvedLocation) -> None:
    """Plan ``frame`` now (no job runs): Delta checks there that every version has change
    data."""
    try:
        planner = frame._jdf.queryExecution()  # type: ignore[attr-defined]
    except AttributeError:  # Spark Connect: the error comes with the first action
        return
    try:
        planner.executedPlan()
    except Exception as exc:  # noqa: BLE001 - Delta's refusal, translated
        text = f"{error_text(exc)}\n{exc}"
        if "DELTA_MISSING_CHANGE_DATA" in text or "change data was not" in text:
            raise not_enabled_error(location, text) from exc
        raise


def _empty_feed(spark: SparkSession, location: ResolvedLocation) -> DataFrame:
    from pyspark.sql.types import LongType, StringType, StructField, StructType, TimestampType

    table = spark.read.format("delta").load(location.uri).schema
    schema = StructType([*table.fields,
                         StructField("_change_type", StringType()),
                         StructField("_commit_version", LongType()),
                         StructField("_commit_timestamp", TimestampType())])
    return spark.createDataFrame([], schema)
