"""Spark Structured Streaming: a streaming read and one bounded run of a query.

A run hands every micro-batch to a Python function (``foreachBatch``): odibi validates, quarantines
and writes each micro-batch like a batch node's output, with the micro-batch id as the Delta
transaction version. The query always runs with ``availableNow``: it processes what has arrived
(in as many micro-batches as the source's limits ask), runs the batch that moves the watermark,
and stops. Its checkpoint remembers the offsets, so the next run starts where this one ended.

Spark event-time watermarks need a ``TIMESTAMP`` (with time zone) column; odibi's sessions read
``TIMESTAMP`` as ``TIMESTAMP_NTZ``, so a naive watermark column is converted (its wall-clock
read as UTC, the session's time zone).
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from odibi_core.engines.spark_sql import error_text
from odibi_core.errors import ConfigError, ConfigProblem, DataError
from odibi_core.storage.requests import ReadRequest

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["read_stream", "run_available_now", "spark_interval"]

BatchHandler = Callable[["DataFrame", int], None]


def spark_interval(delay: dt.timedelta) -> str:
    """A duration as Spark's interval text (``"600 seconds"``)."""
    seconds = delay.total_seconds()
    return f"{int(seconds) if seconds.is_integer() else seconds} seconds"


def read_stream(spark: SparkSession, request: ReadRequest, *, schema_ddl: str | None,
                watermark_column: str | None = None,
                watermark_delay: dt.timedelta | None = None) -> DataFrame:
    """The streaming frame of ``request``: files arriving under its path (``schema_ddl`` is
    their schema) or the commits of a Delta table; with an event-time watermark when asked."""
    location = request.location
    _require_source(location, request.format)
    reader = spark.readStream.format(request.format)
    if schema_ddl is not None and request.format != "delta":
        reader = reader.schema(_schema(schema_ddl))
    options = {key: _option_text(value) for key, value in request.options.items()}
    if options:
        reader = reader.options(**options)
    frame = reader.table(location.table) if location.table else reader.load(location.uri)
    if watermark_column is None or watermark_delay is None:
        return frame
    if watermark_column not in frame.columns:
        raise DataError(f"The watermark column '{watermark_column}' is not in the stream.",
                        fix="Columns available: " + ", ".join(frame.columns) + ".")
    from pyspark.sql import functions as F
    from pyspark.sql.types import TimestampNTZType, TimestampType

    kind = frame.schema[watermark_column].dataType
    if isinstance(kind, TimestampNTZType):
        frame = frame.withColumn(watermark_column, F.col(watermark_column).cast(TimestampType()))
    elif not isinstance(kind, TimestampType):
        raise DataError(f"The watermark column '{watermark_column}' is {kind.simpleString()}; "
                        "an event-time watermark needs a timestamp.",
                        fix="Declare it TIMESTAMP in schema_ddl, or watermark another column.")
    return frame.withWatermark(watermark_column, spark_interval(watermark_delay))


def run_available_now(frame: DataFrame, handle: BatchHandler, *, output_mode: str,
                      checkpoint: str, name: str) -> list[dict[str, Any]]:
    """Run the query of ``frame`` once with ``availableNow`` and return its progress reports
    (one per micro-batch, Spark's ``StreamingQueryProgress`` as dicts).

    Whatever ``handle`` raised is raised again as it was (Spark would wrap it in a
    ``StreamingQueryException`` holding only its text)."""
    failures: list[BaseException] = []

    def guarded(batch: DataFrame, batch_id: int) -> None:
        try:
            handle(batch, batch_id)
        except BaseException as exc:
            failures.append(exc)
            raise

    query = (frame.writeStream.foreachBatch(guarded).outputMode(output_mode)
             .option("checkpointLocation", checkpoint).queryName(name)
             .trigger(availableNow=True).start())
    try:
        query.awaitTermination()
    except Exception:
        if failures:
            raise failures[0] from None
        raise
    finally:
        if query.isActive:
            query.stop()
    if failures:  # Spark ended the query quietly after the handler failed
        raise failures[0]
    return [_as_dict(progress) for progress in query.recentProgress]


def _require_source(location: Any, fmt: str) -> None:
    """A local stream's folder (or Delta table) must exist before the query can watch it."""
    if not location.is_local or location.table:
        return
    folder = location.uri
    while any(char in os.path.basename(folder) for char in "*?["):
        folder = os.path.dirname(folder)  # a glob: its fixed part
    if fmt == "delta" and not os.path.isdir(os.path.join(location.uri, "_delta_log")):
        raise DataError(f"There is no Delta table at {location.display} to stream from yet.",
                        fix="Run the node that writes it first (or create the table).")
    if not os.path.isdir(folder):
        raise DataError(f"The folder {location.display} the stream watches does not exist.",
                        fix="Create it (it may be empty): the query picks up every file that "
                            "lands there from then on.")


def _as_dict(progress: Any) -> dict[str, Any]:
    if isinstance(progress, Mapping):
        return dict(progress)
    return json.loads(progress.json) if hasattr(progress, "json") else dict(progress)


def _schema(ddl: str) -> Any:
    from pyspark.sql.types import StructType

    try:
        return StructType.fromDDL(ddl)
    except Exception as exc:  # noqa: BLE001 - Spark's parse error, shown with the fix

        raise ConfigError(ConfigProblem(
            message=f"schema_ddl is not a Spark schema: {error_text(exc)}",
            key_path="read.schema_ddl",
            fix='Write column names and Spark SQL types: "id BIGINT, amount DOUBLE, '
                'event_time TIMESTAMP".')) from exc


def _option_text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)
