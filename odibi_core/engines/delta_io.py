"""Delta Lake reads and writes of Arrow tables through delta-rs (the ``deltalake`` package).

Shared by the engines that hold Arrow-compatible frames. Time travel resolves a timestamp to
the last version committed at or before it (commit timestamps from the table's history); a
version outside the log, or whose files VACUUM removed, is a :class:`DataError` that lists the
versions the log holds. ``upsert`` and ``append_once`` are Delta MERGEs on ``options.keys``.
``table_properties`` are the new table's ``configuration``; on an existing table those that
differ are set first (``alter.set_table_properties``, a commit of its own). A table with
``delta.enableChangeDataFeed`` records the change data of every write, merge and delete.

Remote tables (``azure_blob``) are opened with the location's storage options; their storage
errors go through ``storage.azure_blob.remote_errors`` (a missing container or refused credentials
become a DataError with a fix; SAS signatures never reach a message).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from odibi_core.engines.arrow_filters import rows_after_filter
from odibi_core.errors import ConfigError, ConfigProblem, DataError
from odibi_core.sql_identifiers import quote_identifier
from odibi_core.storage.azure_blob import remote_errors
from odibi_core.storage.locations import ResolvedLocation
from odibi_core.storage.requests import WriteRequest

if TYPE_CHECKING:
    import pyarrow as pa
    from deltalake import DeltaTable

    from odibi_core.storage.requests import LowerBound

__all__ = ["DeltaWriteOutcome", "can_stream", "commit_properties", "delta_schema", "read_delta",
           "parse_timestamp", "replace_delta_batch", "set_table_properties", "version_at",
           "write_delta", "checked_version"]


@dataclass(frozen=True)
class DeltaWriteOutcome:
    """What a Delta write committed."""

    version: int
    rows_written: int
    files_written: int | None = None


def read_delta(location: ResolvedLocation, *, as_of_version: int | None = None,
               as_of_timestamp: str | None = None,
               lower_bound: LowerBound | None = None) -> pa.Table:
    """The table at ``location`` (its latest version, or the one time travel names); with
    ``lower_bound``, files and row groups wholly at or below it are skipped (a hint: see
    ``arrow_filters``)."""
    with storage_errors(location, "read"):
        return _read_delta(location, as_of_version=as_of_version,
                           as_of_timestamp=as_of_timestamp, lower_bound=lower_bound)


@contextmanager
def storage_errors(location: ResolvedLocation, action: str) -> Iterator[None]:
    """Remote storage errors inside the block, translated as ``storage.azure_blob`` does."""
    if location.is_local:
        yield
        return
    with remote_errors(location, action):
        yield


def _read_delta(location: ResolvedLocation, *, as_of_version: int | None,
                as_of_timestamp: str | None, lower_bound: LowerBound | None) -> pa.Table:
    if as_of_version is not None and as_of_timestamp is not None:
        raise ConfigError(ConfigProblem(
            message="time_travel sets both as_of_version and as_of_timestamp.",
            key_path="read.time_travel", fix="Keep one of the two.",
        ))
    table = _open(location)
    if as_of_version is None and as_of_timestamp is None:
        if lower_bound is None:
            return table.to_pyarrow_table()
        dataset = table.to_pyarrow_dataset()
        return dataset.to_table(filter=rows_after_filter(lower_bound, dataset.schema))
    version, vacuumed = checked_version(table, location, as_of_version=as_of_version,
                                        as_of_timestamp=as_of_timestamp)
    try:
        table.load_as_version(version)
        return table.to_pyarrow_table()
    except FileNotFoundError as exc:
        raise vacuumed from exc


def checked_version(table: DeltaTable, location: ResolvedLocation, *,
                    as_of_version: int | None, as_of_timestamp: str | None
                    ) -> tuple[int, DataError]:
    """The version a time-travel read of ``table`` asks for (by number or timestamp), checked
    against the versions its log holds, and the error to raise when that version's data files
    are gone (VACUUM)."""
    history = table.history()
    earliest = min(h["version"] for h in history)
    latest = table.version()
    if as_of_timestamp is not None:
        version = version_at(history, parse_timestamp(as_of_timestamp), location.display)
    else:
        version = int(as_of_version)  # type: ignore[arg-type]
    if not earliest <= version <= latest:
        raise DataError(
            f"Version {version} of the Delta table {location.display} does not exist: its log "
            f"holds versions {earliest} to {latest}.",
            fix=f"Pick a version between {earliest} and {latest}.",
        )
    return version, DataError(
        f"Version {version} of the Delta table {location.display} can no longer be read: its "
        f"data files were removed (VACUUM). The log holds versions {earliest} to {latest}; "
        "recent versions are still readable.",
        fix="Read a newer version, or lengthen the table's vacuum retention.",
    )


def delta_schema(location: ResolvedLocation) -> pa.Schema:
    """The Arrow schema of the Delta table at ``location`` from its log (no data read)."""
    import pyarrow as pa

    with storage_errors(location, "read"):
        return pa.schema(_open(location).schema().to_arrow())


def version_at(history: Sequence[Mapping[str, Any]], moment: dt.datetime, display: str) -> int:
    """The last version committed at or before ``moment`` (aware or UTC), from ``history``."""
    target = int(moment.timestamp() * 1000)
    commits = sorted((int(h["timestamp"]), int(h["version"])) for h in history)
    eligible = [version for stamp, version in commits if stamp <= target]
    if not eligible:
        first_stamp, first_version = commits[0]
        first = dt.datetime.fromtimestamp(first_stamp / 1000, dt.timezone.utc)
        raise DataError(
            f"The Delta table {display} has no version at {moment.isoformat()}: its first "
            f"available version ({first_version}) was committed at {first.isoformat()}.",
            fix="Pick a timestamp at or after that commit.",
        )
    return max(eligible)


def write_delta(data: pa.Table | pa.RecordBatchReader,
                request: WriteRequest) -> DeltaWriteOutcome:
    """Commit ``data`` to the Delta table of ``request`` and return the version written.

    ``data`` may be a stream of batches (a ``RecordBatchReader``, read once) when
    :func:`can_stream` says the request allows it; the rows never need to fit in memory."""
    with storage_errors(request.location, "write"):
        return _write_delta(data, request)


def _write_delta(data: pa.Table | pa.RecordBatchReader,
                 request: WriteRequest) -> DeltaWriteOutcome:
    import pyarrow as pa
    from deltalake import DeltaTable, write_deltalake

    location = request.location
    options = dict(location.storage_options) or None
    streamed = isinstance(data, pa.RecordBatchReader)
    if streamed:
        data, rows_streamed = _counted(data)
    else:
        data = _storable(data)
    names = data.schema.names
    missing = [c for c in request.partition_by if c not in names]
    if missing:
        raise DataError(
            f"partition_by names {', '.join(missing)}, which the frame does not have "
            f"(columns: {', '.join(names)}).",
            fix="Partition by existing columns.",
        )
    exists = DeltaTable.is_deltatable(location.uri, storage_options=options)
    if streamed and not can_stream(request):
        raise ValueError("a streamed Delta write is an append or a whole overwrite; the caller "
                         "collects the frame for merges and replace_where")
    if exists:
        set_table_properties(DeltaTable(location.uri, storage_options=options), request)
    if exists and request.mode in ("upsert", "append_once"):
        return _merge(DeltaTable(location.uri, storage_options=options), data, request)
    predicate = None if streamed else _replace_where(data, request)
    target: Any = DeltaTable(location.uri, storage_options=options) if exists else location.uri
    try:
        with _property_errors(request):
            write_deltalake(
                target, data,
                mode="overwrite" if request.mode == "overwrite" else "append",
                partition_by=list(request.partition_by) or None,
                schema_mode="merge" if request.merge_schema else None,
                storage_options=options,
                predicate=predicate if exists else None,
                commit_properties=commit_properties(request),
                configuration=None if exists else dict(request.table_properties) or None,
            )
    except Exception as exc:
        if type(exc).__name__ == "SchemaMismatchError":
            raise DataError(
                f"The frame's schema does not match the Delta table {location.display}: {exc}",
                fix="Set `merge_schema: true` on the write to add new columns, or cast the "
                    "columns to the table's types.",
            ) from exc
        raise
    table = target if exists else DeltaTable(location.uri, storage_options=options)
    rows = rows_streamed() if streamed else data.num_rows
    return DeltaWriteOutcome(table.version(), rows, _files_added(table))


# Modes a streamed write cannot do: a MERGE needs its whole source (and a duplicate-key check).
STREAMED_MODES_EXCLUDED = ("upsert", "append_once")


def can_stream(request: WriteRequest) -> bool:
    """Whether ``request`` can take its rows as a stream of batches (:func:`write_delta` with a
    ``RecordBatchReader``): appends and whole overwrites."""
    return request.replace_where is None and request.replace_batch is None \
        and request.mode not in STREAMED_MODES_EXCLUDED


def _counted(reader: pa.RecordBatchReader) -> tuple[pa.RecordBatchReader, Callable[[], int]]:
    """``reader`` passed through, and a function giving the rows it has yielded so far."""
    import pyarrow as pa

    rows = [0]

    def batches() -> Iterator[pa.RecordBatch]:
        for batch in reader:
            rows[0] += batch.num_rows
            yield batch

    return pa.RecordBatchReader.from_batches(reader.schema, batches()), lambda: rows[0]


def _merge(table: DeltaTable, data: pa.Table, request: WriteRequest) -> DeltaWriteOutcome:
    keys = _merge_keys(request)
    display = request.location.display
    missing = [k for k in keys if k not in data.column_names]
    if missing:
        raise DataError(
            f"options.keys names {', '.join(missing)}, which the frame does not have "
            f"(columns: {', '.join(data.column_names)}).",
            fix="Name key columns the frame has.",
        )
    duplicate = _first_duplicate_key(data, keys)
    if duplicate is not None:
        raise DataError(
            f"Mode '{request.mode}' needs one row per key, but the frame has several rows for "
            f"{duplicate}.",
            fix="Deduplicate on the keys first (operation: deduplicate).",
        )
    target_columns = [f.name for f in table.schema().fields]
    extra = [c for c in data.column_names if c not in target_columns]
    if extra and not request.merge_schema:
        raise DataError(
            f"The frame has columns the Delta table {display} does not: {', '.join(extra)}.",
            fix="Set `merge_schema: true` on the write to add them, or drop them first.",
        )
    predicate = " AND ".join(f"t.{quote_identifier(k)} = s.{quote_identifier(k)}" for k in keys)
    merger = table.merge(data, predicate=predicate, source_alias="s", target_alias="t",
                         merge_schema=request.merge_schema,
                         commit_properties=commit_properties(request))
    if request.mode == "upsert":
        merger = merger.when_matched_update_all()
    metrics = merger.when_not_matched_insert_all().execute()
    rows = int(metrics.get("num_target_rows_inserted", 0)) \
        + int(metrics.get("num_target_rows_updated", 0))
    return DeltaWriteOutcome(table.version(), rows, metrics.get("num_target_files_added"))


def replace_delta_batch(data: pa.Table, request: WriteRequest) -> int:
    """One Delta commit that replaces the rows of ``request.replace_batch`` (and creates the
    table if needed); new columns are merged into the table's schema. Returns the version."""
    from deltalake import DeltaTable, write_deltalake

    batch = request.replace_batch
    assert batch is not None
    value = batch.value.replace("'", "''")
    options = dict(request.location.storage_options) or None
    with storage_errors(request.location, "write"):
        exists = DeltaTable.is_deltatable(request.location.uri, storage_options=options)
        if exists:
            set_table_properties(DeltaTable(request.location.uri, storage_options=options),
                                 request)
        with _property_errors(request):
            write_deltalake(request.location.uri, _storable(data), mode="overwrite",
                            predicate=f"{quote_identifier(batch.column)} = '{value}'",
                            schema_mode="merge", storage_options=options,
                            commit_properties=commit_properties(request),
                            configuration=None if exists
                            else dict(request.table_properties) or None)
        return DeltaTable(request.location.uri, storage_options=options).version()


def set_table_properties(table: DeltaTable, request: WriteRequest) -> None:
    """Set the request's table properties that the existing ``table`` lacks or has with
    another value (one commit; nothing when they all match)."""
    if not request.table_properties:
        return
    current = table.metadata().configuration or {}
    changed = {key: value for key, value in request.table_properties.items()
               if current.get(key) != value}
    if changed:
        with _property_errors(request):
            table.alter.set_table_properties(changed)


@contextmanager
def _property_errors(request: WriteRequest) -> Iterator[None]:
    """delta-rs's refusal of a table property (unknown key, invalid value) as a ConfigError."""
    try:
        yield
    except Exception as exc:
        text = str(exc)
        if request.table_properties and ("Error parsing property" in text
                                         or "is invalid, valid values" in text):
            raise ConfigError(ConfigProblem(
                message=f"The Delta table {request.location.display} does not take "
                        f"write.table_properties {dict(request.table_properties)}: "
                        f"{text.rsplit('error:', 1)[-1].strip()}.",
                key_path="write.table_properties",
                fix="Use Delta table properties delta-rs knows (delta.enableChangeDataFeed, "
                    "delta.appendOnly, delta.logRetentionDuration, ...) with valid values, "
                    'e.g. {delta.enableChangeDataFeed: true}.')) from exc
        raise


def commit_properties(request: WriteRequest) -> Any:
    """The delta-rs ``CommitProperties`` that carry the request's batch marker (the
    transaction identifier and ``odibi.batch_id``), or None without a marker."""
    marker = request.marker
    if marker is None:
        return None
    from deltalake import CommitProperties, Transaction

    return CommitProperties(app_transactions=[Transaction(marker.app_id, marker.version)],
                            custom_metadata={"odibi.batch_id": marker.batch_id})


def _replace_where(data: pa.Table, request: WriteRequest) -> str | None:
    """``request.replace_where`` once every row of ``data`` is known to match it.

    The rows are checked here (DuckDB over the Arrow table) rather than left to delta-rs, whose
    own check fails with a bare "rows failed validation" message.
    """
    predicate = request.replace_where
    if predicate is None:
        return None
    if request.mode != "overwrite":
        raise ConfigError(ConfigProblem(
            message=f"replace_where replaces rows, which needs mode overwrite; this write is "
                    f"{request.mode}.", key_path="write.mode",
            fix="Write with mode: overwrite (or remove the partitions block)."))
    import duckdb

    outside = duckdb.connect().execute(
        f"SELECT count(*) FROM data WHERE NOT coalesce(({predicate}), false)").fetchone()[0]
    if outside:
        raise DataError(
            f"{outside} of the {data.num_rows} rows to write fall outside the range this write "
            f"replaces (replace_where {predicate}) in {request.location.display}.",
            fix="Keep only the partition's rows (the partition column must be in the output), "
                "or write without partitions.")
    return predicate


def _merge_keys(request: WriteRequest) -> list[str]:
    keys = request.options.get("keys")
    if isinstance(keys, str):
        keys = [keys]
    if not keys:
        raise ConfigError(ConfigProblem(
            message=f"Mode '{request.mode}' needs the key columns that identify a row.",
            key_path="write.options.keys",
            fix="Add `options: {keys: [id_column]}` to the write block.",
        ))
    return [str(k) for k in keys]


def _first_duplicate_key(data: pa.Table, keys: list[str]) -> str | None:
    import pyarrow.compute as pc

    counts = data.select(keys).group_by(keys).aggregate([([], "count_all")])
    repeated = counts.filter(pc.greater(counts["count_all"], 1))
    if repeated.num_rows == 0:
        return None
    row = repeated.slice(0, 1).to_pylist()[0]
    return ", ".join(f"{k}={row[k]!r}" for k in keys)


def _storable(data: pa.Table) -> pa.Table:
    """Delta has no null type: all-null columns of unknown type are stored as strings."""
    import pyarrow as pa

    for index, field in enumerate(data.schema):
        if pa.types.is_null(field.type):
            data = data.set_column(index, field.name, data.column(index).cast(pa.string()))
    return data


def _open(location: ResolvedLocation) -> DeltaTable:
    from deltalake import DeltaTable
    from deltalake.exceptions import TableNotFoundError

    try:
        return DeltaTable(location.uri, storage_options=dict(location.storage_options) or None)
    except TableNotFoundError as exc:
        raise DataError(
            f"There is no Delta table at {location.display} (no _delta_log found).",
            fix="Check `path` and `format` (a folder of parquet files is `format: parquet`), "
                "or write the table first.",
        ) from exc


def _files_added(table: DeltaTable) -> int | None:
    try:
        return table.history(1)[0].get("operationMetrics", {}).get("num_added_files")
    except Exception:  # noqa: BLE001 - a missing metric must not fail a committed write
        return None


def parse_timestamp(text: str, key_path: str = "read.time_travel.as_of_timestamp"
                    ) -> dt.datetime:
    """``text`` (ISO-8601; naive means UTC) as an aware datetime; a ConfigError at
    ``key_path`` when it is not one."""
    try:
        moment = dt.datetime.fromisoformat(str(text).strip().replace("Z", "+00:00"))
    except ValueError as exc:
        name = key_path.removeprefix("read.time_travel.").removeprefix("read.")
        raise ConfigError(ConfigProblem(
            message=f"{name} '{text}' is not an ISO-8601 timestamp.",
            key_path=key_path, fix="Write it like 2026-01-01T00:00:00Z.",
        )) from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)
