"""Delta Lake on the Spark engine, through delta-spark: reads with time travel, writes in every
mode, batch replacement, with the error messages of the delta-rs path (``delta_io``).

- Time travel: ``as_of_timestamp`` resolves to the last version committed at or before it using
  the commit timestamps recorded in the log (``commitInfo.timestamp``, what delta-rs reports),
  then reads ``versionAsOf``; a version outside the log is a :class:`DataError` listing the
  versions the log holds, and a version whose data files VACUUM removed says so at read time.
- Writes: ``overwrite``/``append`` (``mergeSchema`` with ``merge_schema``, ``partitionBy``);
  ``upsert``/``append_once`` are ``DeltaTable.merge`` on ``options.keys`` (schema evolution with
  ``merge_schema``); a batch is replaced with ``replaceWhere`` on the batch column, and
  ``replace_where`` is Delta's ``replaceWhere`` (Delta checks that every written row matches it;
  a row that does not is a :class:`DataError` counting them). Rows and files written come from
  the commit's operation metrics, read from the log (no extra Spark job).
- Batch markers: every commit of a write with ``request.marker`` records the Delta transaction
  identifier (``txnAppId``/``txnVersion`` writer options; for MERGE the session confs
  ``spark.databricks.delta.write.txnAppId``/``txnVersion``, set just around the merge) and
  ``odibi.batch_id=<batch id>`` as the commit's ``userMetadata``. Delta skips a write whose
  transaction version the table already recorded: nothing is committed and the write reports
  0 rows.
- Table properties (``request.table_properties``): a new table is created with them (``delta.*``
  keys as writer options); on an existing table those that differ are set first with
  ``ALTER TABLE delta.`<path>` SET TBLPROPERTIES``. Change data feed reads: ``spark_change_feed``.

The log is read with plain file access for local tables and through Spark for remote ones.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

from odibi_core.engines.delta_io import _merge_keys, parse_timestamp, version_at
from odibi_core.engines.request_checks import refuse_unknown_options
from odibi_core.engines.spark_sql import error_text, spark_sql_text
from odibi_core.engines.spark_types import logical_type_of_spark, quoted, storable
from odibi_core.engines.target_types import widens
from odibi_core.errors import ConfigError, ConfigProblem, DataError
from odibi_core.storage.locations import ResolvedLocation
from odibi_core.storage.requests import BatchMarker, ReadRequest, WriteRequest

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import StructType

__all__ = [
    "commit_infos",
    "delta_schema",
    "DeltaWritten",
    "is_delta_table",
    "read_delta",
    "replace_delta_batch",
    "require_table",
    "set_table_properties",
    "write_delta",
]

_COMMIT = re.compile(r"^(\d{20})\.json$")
_EXISTENCE_CHECKS = 200  # data files checked for a time-travel read of a remote table
_TXN_APP_ID = "spark.databricks.delta.write.txnAppId"
_TXN_VERSION = "spark.databricks.delta.write.txnVersion"
_USER_METADATA = "spark.databricks.delta.commitInfo.userMetadata"
_SESSION_TXN_LOCK = threading.Lock()  # the txn confs are the session's: one merge at a time


@dataclass(frozen=True)
class DeltaWritten:
    """What a Delta write committed."""

    version: int
    rows: int
    files: int | None


# ---- reading ---------------------------------------------------------------------------------
def read_delta(spark: SparkSession, request: ReadRequest) -> DataFrame:
    """The Delta table of ``request`` (its latest version, or the one time travel names); its
    change data feed (``request.change_feed``) is read by ``spark_change_feed``."""
    location = request.location
    refuse_unknown_options("delta", "read", request.options)
    if request.as_of_version is not None and request.as_of_timestamp is not None:
        raise ConfigError(ConfigProblem(
            message="time_travel sets both as_of_version and as_of_timestamp.",
            key_path="read.time_travel", fix="Keep one of the two."))
    moment = parse_timestamp(request.as_of_timestamp) \
        if request.as_of_timestamp is not None else None
    require_table(spark, location)
    reader = spark.read.format("delta")
    if request.as_of_version is None and moment is None:
        return reader.load(location.uri)
    commits = commit_infos(spark, location)
    if not commits:
        raise DataError(f"The Delta table {location.display} has no readable commit log.",
                        fix="Check the table's _delta_log folder.")
    earliest, latest = min(commits), max(commits)
    if moment is not None:
        history = [{"version": v, "timestamp": int(info.get("timestamp") or 0)}
                   for v, info in commits.items()]
        version = version_at(history, moment, location.display)
    else:
        version = int(request.as_of_version)  # type: ignore[arg-type]
    if not earliest <= version <= latest:
        raise DataError(
            f"Version {version} of the Delta table {location.display} does not exist: its log "
            f"holds versions {earliest} to {latest}.",
            fix=f"Pick a version between {earliest} and {latest}.")
    frame = reader.option("versionAsOf", version).load(location.uri)
    if _missing_files(spark, frame, location):
        raise DataError(
            f"Version {version} of the Delta table {location.display} can no longer be read: "
            f"its data files were removed (VACUUM). The log holds versions {earliest} to "
            f"{latest}; recent versions are still readable.",
            fix="Read a newer version, or lengthen the table's vacuum retention.")
    return frame


def delta_schema(spark: SparkSession, location: ResolvedLocation) -> StructType | None:
    """The schema of the Delta table at ``location`` from its log, or None when there is no
    table."""
    if not is_delta_table(spark, location):
        return None
    return spark.read.format("delta").load(location.uri).schema


def is_delta_table(spark: SparkSession, location: ResolvedLocation) -> bool:
    if location.is_local:
        return os.path.isdir(os.path.join(location.uri, "_delta_log")) and any(
            _COMMIT.match(n) or n.endswith(".checkpoint.parquet")
            for n in os.listdir(os.path.join(location.uri, "_delta_log")))
    from delta.tables import DeltaTable

    try:
        return bool(DeltaTable.isDeltaTable(spark, location.uri))
    except Exception:  # noqa: BLE001 - an unreachable path is no table
        return False


def require_table(spark: SparkSession, location: ResolvedLocation) -> None:
    if not is_delta_table(spark, location):
        raise DataError(
            f"There is no Delta table at {location.display} (no _delta_log found).",
            fix="Check `path` and `format` (a folder of parquet files is `format: parquet`), "
                "or write the table first.")


def _missing_files(spark: SparkSession, frame: DataFrame, location: ResolvedLocation) -> bool:
    files = frame.inputFiles()
    if location.is_local:
        return any(not os.path.exists(_local_path(f)) for f in files)
    jvm = spark._jvm  # type: ignore[attr-defined]
    conf = spark._jsc.hadoopConfiguration()  # type: ignore[attr-defined]
    for name in files[:_EXISTENCE_CHECKS]:
        path = jvm.org.apache.hadoop.fs.Path(name)
        if not path.getFileSystem(conf).exists(path):
            return True
    return False


def _local_path(uri: str) -> str:
    parsed = urlparse(uri)
    return unquote(parsed.path) if parsed.scheme in ("file", "") else uri


# ---- the log ---------------------------------------------------------------------------------
def commit_infos(spark: SparkSession, location: ResolvedLocation) -> dict[int, dict[str, Any]]:
    """``commitInfo`` of every commit file in the log, by version."""
    log = os.path.join(location.uri, "_delta_log") if location.is_local \
        else location.uri.rstrip("/") + "/_delta_log"
    if location.is_local:
        infos = {}
        for name in os.listdir(log):
            match = _COMMIT.match(name)
            if match:
                infos[int(match.group(1))] = _commit_info(os.path.join(log, name))
        return infos
    from pyspark.sql import functions as F

    frame = spark.read.schema(
        "commitInfo struct<timestamp: bigint, operationMetrics: map<string, string>>"
    ).json(log + "/*.json").where("commitInfo IS NOT NULL").select(
        F.input_file_name().alias("file"), F.col("commitInfo.timestamp").alias("timestamp"),
        F.col("commitInfo.operationMetrics").alias("operationMetrics"))
    infos = {}
    for row in frame.collect():
        match = _COMMIT.match(row["file"].rsplit("/", 1)[-1])
        if match:
            infos[int(match.group(1))] = {"timestamp": row["timestamp"],
                                          "operationMetrics": row["operationMetrics"] or {}}
    return infos


def _commit_info(path: str) -> dict[str, Any]:
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if '"commitInfo"' in line:
                try:
                    return dict(json.loads(line).get("commitInfo") or {})
                except ValueError:
                    break
    return {}


def _latest_commit(spark: SparkSession, location: ResolvedLocation) -> tuple[int, dict[str, Any]]:
    if location.is_local:
        log = os.path.join(location.uri, "_delta_log")
        versions = [int(m.group(1)) for m in map(_COMMIT.match, os.listdir(log)) if m]
        latest = max(versions)
        return latest, _commit_info(os.path.join(log, f"{latest:020d}.json"))
    from delta.tables import DeltaTable

    row = DeltaTable.forPath(spark, location.uri).history(1).collect()[0]
    return int(row["version"]), {"operationMetrics": row["operationMetrics"] or {}}


# ---- writing ---------------------------------------------------------------------------------
def write_delta(spark: SparkSession, frame: DataFrame, request: WriteRequest) -> DeltaWritten:
    """Commit ``frame`` to the Delta table of ``request``.

    Raises:
        DataError: a row outside ``request.replace_where``, a schema that does not fit, ...
    """
    location = request.location
    refuse_unknown_options("delta", "write", request.options, allowed=("keys",))
    exists = is_delta_table(spark, location)
    frame = storable(_in_table_types(spark, frame, location) if exists else frame)
    missing = [c for c in request.partition_by if c not in frame.columns]
    if missing:
        raise DataError(
            f"partition_by names {', '.join(missing)}, which the frame does not have "
            f"(columns: {', '.join(frame.columns)}).",
            fix="Partition by existing columns.")
    if exists:
        set_table_properties(spark, location, request.table_properties)
    if exists and request.mode in ("upsert", "append_once"):
        return _merge(spark, frame, request)
    predicate = request.replace_where
    if predicate is not None and not exists:
        # Delta checks the rows against replaceWhere only when the table exists.
        outside, total = _outside_rows(frame, predicate)
        if outside:
            raise _outside_error(request, outside, total)
    before = _latest_version(spark, location) if exists else None
    observed, rows = _observed(frame)
    writer = observed.write.format("delta").mode(
        "overwrite" if request.mode == "overwrite" else "append")
    if request.partition_by:
        writer = writer.partitionBy(*request.partition_by)
    if request.merge_schema:
        writer = writer.option("mergeSchema", "true")
    if predicate is not None:
        writer = writer.option("replaceWhere", spark_sql_text(predicate))
    writer = _marked(writer, request.marker)
    if not exists:
        writer = _creating(writer, request.table_properties)
    try:
        _save(writer, location)
    except Exception as exc:
        if predicate is not None and "DELTA_REPLACE_WHERE_MISMATCH" in str(exc):
            outside, total = _outside_rows(frame, predicate)
            raise _outside_error(request, outside, total, detail=error_text(exc)) from exc
        raise
    written = _written(spark, location, before, rows)
    if not exists:  # properties Delta does not take as writer options (not delta.*)
        set_table_properties(spark, location, request.table_properties)
    return written


def replace_delta_batch(spark: SparkSession, frame: DataFrame,
                        request: WriteRequest) -> DeltaWritten:
    """One commit replacing the rows whose batch column equals the batch (creating the table
    when needed); new columns are merged into the table's schema."""
    batch = request.replace_batch
    assert batch is not None
    location = request.location
    value = batch.value.replace("\\", "\\\\").replace("'", "\\'")
    exists = is_delta_table(spark, location)
    if exists:
        set_table_properties(spark, location, request.table_properties)
        frame = _in_table_types(spark, frame, location)
    before = _latest_version(spark, location) if exists else None
    observed, rows = _observed(storable(frame))
    writer = observed.write.format("delta").mode("overwrite") \
        .option("replaceWhere", f"{quoted(batch.column)} = '{value}'") \
        .option("mergeSchema", "true")
    writer = _marked(writer, request.marker)
    _save(writer if exists else _creating(writer, request.table_properties), location)
    written = _written(spark, location, before, rows)
    if not exists:
        set_table_properties(spark, location, request.table_properties)
    return written


def _in_table_types(spark: SparkSession, frame: DataFrame,
                    location: ResolvedLocation) -> DataFrame:
    """``frame`` with each column whose type widens to the table's (``target_types.widens``:
    a null column, an int into a long or double column, ...) cast to it, as delta-rs stores
    them; delta-spark would refuse them. Other differences were refused before the write."""
    table = {f.name: f.dataType for f in delta_schema(spark, location) or ()}
    casts = {}
    for field in frame.schema:
        wanted = table.get(field.name)
        if wanted is not None and wanted != field.dataType and widens(
                logical_type_of_spark(field.dataType), logical_type_of_spark(wanted)):
            casts[field.name] = frame[quoted(field.name)].cast(wanted)
    return frame.withColumns(casts) if casts else frame


def set_table_properties(spark: SparkSession, location: ResolvedLocation,
                         properties: Mapping[str, str]) -> None:
    """Set the ``properties`` the existing table lacks or has with another value: one
    ``ALTER TABLE ... SET TBLPROPERTIES`` commit, none when they all match."""
    if not properties:
        return
    from delta.tables import DeltaTable

    current = DeltaTable.forPath(spark, location.uri).detail().first()["properties"] or {}
    changed = {k: v for k, v in properties.items() if current.get(k) != v}
    if not changed:
        return
    pairs = ", ".join(f"{_sql_text(k)} = {_sql_text(v)}" for k, v in changed.items())
    path = location.uri.replace("`", "``")
    try:
        spark.sql(f"ALTER TABLE delta.`{path}` SET TBLPROPERTIES ({pairs})")
    except Exception as exc:
        text = error_text(exc)
        if "DELTA_UNKNOWN_CONFIGURATION" in text or "DELTA_VIOLATE_TABLE_PROPERTY" in text \
                or "Unknown configuration" in text or "DELTA_INVALID_" in text:
            raise ConfigError(ConfigProblem(
                message=f"The Delta table {location.display} does not take "
                        f"write.table_properties {dict(properties)}: {text}",
                key_path="write.table_properties",
                fix="Use Delta table properties with valid values, e.g. "
                    "{delta.enableChangeDataFeed: true}.")) from exc
        raise


def _creating(writer: Any, properties: Mapping[str, str]) -> Any:
    """``writer`` creating its table with the ``delta.*`` properties (Delta takes those as
    writer options when it creates a table)."""
    for key, value in properties.items():
        if key.startswith("delta."):
            writer = writer.option(key, value)
    return writer


def _sql_text(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _marked(writer: Any, marker: BatchMarker | None) -> Any:
    """``writer`` committing the batch ``marker`` (transaction identifier and batch id)."""
    if marker is None:
        return writer
    return writer.option("txnAppId", marker.app_id) \
        .option("txnVersion", str(marker.version)) \
        .option("userMetadata", f"odibi.batch_id={marker.batch_id}")


@contextmanager
def _session_marker(spark: SparkSession, marker: BatchMarker | None) -> Iterator[None]:
    """The session confs that make the next Delta commit (a MERGE, which takes no writer
    options) record ``marker``; restored afterwards. Merges with a marker run one at a time."""
    if marker is None:
        yield
        return
    values = {_TXN_APP_ID: marker.app_id, _TXN_VERSION: str(marker.version),
              _USER_METADATA: f"odibi.batch_id={marker.batch_id}"}
    with _SESSION_TXN_LOCK:
        previous = {key: spark.conf.get(key, None) for key in values}
        try:
            for key, value in values.items():
                spark.conf.set(key, value)
            yield
        finally:
            for key, value in previous.items():
                if value is None:
                    spark.conf.unset(key)
                else:
                    spark.conf.set(key, value)


def _outside_rows(frame: DataFrame, predicate: str) -> tuple[int, int]:
    """How many rows of ``frame`` do not match ``predicate`` (NULL counts as not matching),
    and how many rows it has: one job."""
    from pyspark.sql import functions as F

    matches = F.coalesce(F.expr(spark_sql_text(predicate)), F.lit(False))
    row = frame.agg(F.count(F.when(~matches, F.lit(1))), F.count(F.lit(1))).collect()[0]
    return int(row[0]), int(row[1])


def _outside_error(request: WriteRequest, outside: int, total: int, *,
                   detail: str | None = None) -> DataError:
    """The rows outside ``replace_where``; ``detail`` is Delta's own report, kept only when
    Spark's evaluation of the predicate over the frame finds no such row."""
    counted = f"{outside} of the {total} rows" if outside else f"Rows of the {total}"
    why = "" if outside or not detail else f" Delta reports: {detail}"
    return DataError(
        f"{counted} to write fall outside the range this write replaces "
        f"(replace_where {request.replace_where}) in {request.location.display}.{why}",
        fix="Keep only the partition's rows (the partition column must be in the output), "
            "or write without partitions.")


def _observed(frame: DataFrame) -> tuple[DataFrame, Any]:
    """``frame`` counting its rows as it is written, and a function returning the count."""
    import uuid

    from pyspark.sql import Observation
    from pyspark.sql import functions as F

    observation = Observation(f"odibi_delta_{uuid.uuid4().hex}")
    observed = frame.observe(observation, F.count(F.lit(1)).alias("rows"))
    return observed, lambda: int(observation.get.get("rows", 0))


def _written(spark: SparkSession, location: ResolvedLocation, before: int | None,
             rows: Callable[[], int]) -> DeltaWritten:
    """What the write committed (Delta commits nothing for an empty append, nor for a
    transaction version the table already recorded). ``rows`` is only asked when something
    was committed: a skipped write runs no job, so its observed count never arrives."""
    version, info = _latest_commit(spark, location)
    if before is not None and version == before:
        return DeltaWritten(version, 0, 0)
    metrics = info.get("operationMetrics") or {}
    return DeltaWritten(version, rows(),
                        _metric(metrics, "numFiles", "numAddedFiles", default=None))


def _latest_version(spark: SparkSession, location: ResolvedLocation) -> int:
    return _latest_commit(spark, location)[0]


def _save(writer: Any, location: ResolvedLocation) -> None:
    try:
        writer.save(location.uri)
    except Exception as exc:
        text = error_text(exc)
        lowered = f"{text} {exc}".lower()
        if any(marker in lowered for marker in (
                "schema mismatch", "failed to merge", "delta_metadata_mismatch",
                "delta_failed_to_merge_fields", "cannot write incompatible",
                "partition columns do not match", "delta_merge_incompatible")):
            raise DataError(
                f"The frame's schema does not match the Delta table {location.display}: {text}",
                fix="Set `merge_schema: true` on the write to add new columns, or cast the "
                    "columns to the table's types.") from exc
        raise


def _merge(spark: SparkSession, frame: DataFrame, request: WriteRequest) -> DeltaWritten:
    from delta.tables import DeltaTable
    from pyspark.sql import functions as F

    location = request.location
    keys = _merge_keys(request)
    missing = [k for k in keys if k not in frame.columns]
    if missing:
        raise DataError(
            f"options.keys names {', '.join(missing)}, which the frame does not have "
            f"(columns: {', '.join(frame.columns)}).",
            fix="Name key columns the frame has.")
    repeated = frame.groupBy(*[quoted(k) for k in keys]).agg(F.count(F.lit(1)).alias("n")) \
        .where("n > 1").limit(1).collect()
    if repeated:
        shown = ", ".join(f"{k}={repeated[0][k]!r}" for k in keys)
        raise DataError(
            f"Mode '{request.mode}' needs one row per key, but the frame has several rows for "
            f"{shown}.",
            fix="Deduplicate on the keys first (operation: deduplicate).")
    target_columns = spark.read.format("delta").load(location.uri).columns
    extra = [c for c in frame.columns if c not in target_columns]
    if extra and not request.merge_schema:
        raise DataError(
            f"The frame has columns the Delta table {location.display} does not: "
            f"{', '.join(extra)}.",
            fix="Set `merge_schema: true` on the write to add them, or drop them first.")
    condition = " AND ".join(f"t.{quoted(k)} = s.{quoted(k)}" for k in keys)
    builder = DeltaTable.forPath(spark, location.uri).alias("t").merge(frame.alias("s"),
                                                                       condition)
    if request.merge_schema:
        builder = builder.withSchemaEvolution()
    if request.mode == "upsert":
        builder = builder.whenMatchedUpdateAll()
    builder = builder.whenNotMatchedInsertAll()
    before = _latest_version(spark, location)
    with _session_marker(spark, request.marker):
        outcome = builder.execute()
    version, info = _latest_commit(spark, location)
    if version == before:  # a transaction version the table already recorded: skipped
        return DeltaWritten(version, 0, 0)
    found = outcome.collect() if outcome is not None else []
    counts = found[0].asDict() if found else {}
    rows = int(counts.get("num_inserted_rows") or 0) + int(counts.get("num_updated_rows") or 0)
    metrics = info.get("operationMetrics") or {}
    return DeltaWritten(version, rows, _metric(metrics, "numTargetFilesAdded", default=None))


def _metric(metrics: Mapping[str, Any], *names: str, default: int | None = 0) -> Any:
    for name in names:
        if metrics.get(name) is not None:
            try:
                return int(metrics[name])
            except (TypeError, ValueError):
                continue
    return default
