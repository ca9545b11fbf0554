"""Reading on the polars engine: lazy scans for parquet and Delta, the shared parsers for text.

- parquet: ``pl.scan_parquet`` over the files :func:`list_source_files` finds (files whose
  schemas differ are stacked with the same promotion rules as pandas; a hive-partitioned folder
  is scanned with its partition columns, as strings like on every engine);
- delta: ``pl.scan_delta`` of the table, or of the version time travel names (resolved from the
  log like ``delta_io.read_delta``, with the same messages for a missing or vacuumed version);
- csv and json: parsed by the pyarrow-backed readers of ``pandas_files`` that the pandas engine
  uses too, then ``pl.from_arrow(...).lazy()``. Both engines therefore infer the same types and
  set aside the same malformed records (dead letters).

Remote locations (``azure_blob``): parquet files and Delta tables are scanned lazily by polars
itself (its object store takes the location's storage options); csv and json files are
downloaded for the parse (``remote_files.local_copies``); a hive-partitioned remote folder is
mirrored locally and read eagerly.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from odibi_core.dead_letters.model import (
    DeadLetter,
    DeadLetterBatch,
    relative_source,
)
from odibi_core.engines.delta_changes import check_change_request, read_change_feed
from odibi_core.engines.delta_io import checked_version, storage_errors
from odibi_core.engines.file_layout import list_source_files
from odibi_core.engines.file_tables import (
    concat_file_tables,
    read_records_with_dead_letters,
    schema_mismatch,
)
from odibi_core.engines.hive_parquet import is_hive_folder, partition_names
from odibi_core.engines.pandas_files import (
    read_file,
    reparse_records,
    validate_options,
)
from odibi_core.engines.polars_types import lazy_from_arrow
from odibi_core.engines.remote_files import (
    is_hive_location,
    local_copies,
    read_hive_location,
)
from odibi_core.engines.request_checks import format_not_available, refuse_unknown_options
from odibi_core.error_taxonomy import is_transient
from odibi_core.errors import ConfigError, ConfigProblem, DataError
from odibi_core.storage.locations import ResolvedLocation
from odibi_core.storage.requests import ReadRequest

if TYPE_CHECKING:
    import polars as pl
    import pyarrow as pa
    from deltalake import DeltaTable

__all__ = ["FILE_FORMATS", "not_available", "read_frame", "read_with_dead_letters",
           "reparse", "scan_delta", "scan_parquet_files"]

FILE_FORMATS = ("csv", "parquet", "json")
_INDEX_COLUMN = re.compile(r"^__index_level_\d+__$")


def read_frame(request: ReadRequest) -> pl.LazyFrame:
    """What ``request`` reads, as a lazy frame."""
    fmt = request.format
    travels = request.as_of_version is not None or request.as_of_timestamp is not None
    if travels and fmt != "delta":
        raise ConfigError(ConfigProblem(
            message=f"time_travel needs a Delta table; this read is {fmt}.",
            key_path="read.time_travel", fix="Remove time_travel, or read `format: delta`.",
        ))
    if fmt == "delta" and request.change_feed is not None:
        return lazy_from_arrow(read_change_feed(request.location,
                                                check_change_request(request)))
    if fmt == "delta":
        refuse_unknown_options("delta", "read", request.options)
        return scan_delta(request.location, as_of_version=request.as_of_version,
                          as_of_timestamp=request.as_of_timestamp)
    if fmt not in FILE_FORMATS:
        raise format_not_available(fmt, "read", "polars")
    validate_options(fmt, "read", request.options)
    if fmt == "parquet":
        frame = scan_parquet_files(request.location)
        columns = request.options.get("columns")
        return frame.select(list(columns)) if columns else frame
    files = list_source_files(request.location, fmt)
    with local_copies(request.location, files) as copies:
        tables = [_read_one(fmt, copy, request, shown=path) for path, copy in zip(files, copies)]
    return lazy_from_arrow(concat_file_tables(tables, request.location.display))


def read_with_dead_letters(request: ReadRequest, *,
                           batch_id: str | None) -> tuple[pl.LazyFrame, DeadLetterBatch]:
    """The valid records of a csv or json read and its dead letters (see
    ``Engine.read_with_dead_letters``)."""
    table, batch = read_records_with_dead_letters(request, batch_id=batch_id)
    return lazy_from_arrow(table), batch


def reparse(letters: Sequence[DeadLetter], fmt: str,
            options: Mapping[str, Any]) -> tuple[pl.LazyFrame, dict[int, str]]:
    """The dead letters that now parse, typed as the read types them, and the errors of the
    others by index."""
    validate_options(fmt, "read", options)
    table, errors = reparse_records(fmt, letters, options)
    return lazy_from_arrow(table), errors


# ---- parquet ----------------------------------------------------------------------------------
def scan_parquet_files(location: ResolvedLocation) -> pl.LazyFrame:
    """A lazy scan of the parquet files at ``location`` (a file, a glob, a folder of part
    files, or a hive-partitioned folder)."""
    import polars as pl

    if not location.is_local:
        return _scan_remote_parquet(location)
    if is_hive_folder(location.uri):
        names = partition_names(location.uri)  # partition values are strings on every engine
        return pl.scan_parquet(os.path.join(location.uri, "**", "*.parquet"),
                               hive_partitioning=True, hive_schema={n: pl.String for n in names},
                               try_parse_hive_dates=False, hidden_file_prefix=(".", "_"))
    files = list_source_files(location, "parquet")
    scans = [pl.scan_parquet(path) for path in files]
    schemas = [scan.collect_schema() for scan in scans]  # the footers only
    if all(schema == schemas[0] for schema in schemas):
        return _without_index(pl.scan_parquet(files) if len(files) > 1 else scans[0], schemas[0])
    unified = _unified_schema(schemas, files, location.display)
    frame = pl.concat([scan.cast({n: unified[n] for n in schema if schema[n] != unified[n]})
                       for scan, schema in zip(scans, schemas)], how="diagonal_relaxed")
    return _without_index(frame, frame.collect_schema())


def _scan_remote_parquet(location: ResolvedLocation) -> pl.LazyFrame:
    """The remote twin of :func:`scan_parquet_files`: polars reads the blobs itself."""
    import polars as pl

    if is_hive_location(location):
        return lazy_from_arrow(read_hive_location(location))
    files = list_source_files(location, "parquet")
    options = dict(location.storage_options)
    scans = [pl.scan_parquet(uri, storage_options=options) for uri in files]
    schemas = [scan.collect_schema() for scan in scans]  # the footers only
    if all(schema == schemas[0] for schema in schemas):
        frame = pl.scan_parquet(files, storage_options=options) if len(files) > 1 else scans[0]
        return _without_index(frame, schemas[0])
    unified = _unified_schema(schemas, files, location.display)
    frame = pl.concat([scan.cast({n: unified[n] for n in schema if schema[n] != unified[n]})
                       for scan, schema in zip(scans, schemas)], how="diagonal_relaxed")
    return _without_index(frame, frame.collect_schema())


def _without_index(frame: pl.LazyFrame, schema: pl.Schema) -> pl.LazyFrame:
    """Files written by pandas may carry their index as ``__index_level_N__``: not data."""
    index = [n for n in schema if _INDEX_COLUMN.match(n)]
    return frame.drop(index) if index else frame


def _unified_schema(schemas: list[pl.Schema], files: list[str], display: str) -> pl.Schema:
    """The schema the files stack into, by Arrow's permissive promotion (as pandas stacks
    them)."""
    import polars as pl
    import pyarrow as pa

    arrow = [pl.DataFrame(schema=s).to_arrow().schema for s in schemas]
    try:
        unified = pa.unify_schemas(arrow, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise schema_mismatch(len(files), display, exc) from exc
    return pl.from_arrow(unified.empty_table()).collect_schema()  # type: ignore[union-attr]


# ---- delta ------------------------------------------------------------------------------------
def scan_delta(location: ResolvedLocation, *, as_of_version: int | None = None,
               as_of_timestamp: str | None = None) -> pl.LazyFrame:
    """A lazy scan of the Delta table at ``location`` (its latest version, or the one time
    travel names)."""
    if as_of_version is not None and as_of_timestamp is not None:
        raise ConfigError(ConfigProblem(
            message="time_travel sets both as_of_version and as_of_timestamp.",
            key_path="read.time_travel", fix="Keep one of the two.",
        ))
    with storage_errors(location, "read"):
        return _scan_delta(location, as_of_version=as_of_version,
                           as_of_timestamp=as_of_timestamp)


def _scan_delta(location: ResolvedLocation, *, as_of_version: int | None,
                as_of_timestamp: str | None) -> pl.LazyFrame:
    import polars as pl

    table = open_delta(location)
    if as_of_version is None and as_of_timestamp is None:
        return pl.scan_delta(table)
    version, vacuumed = checked_version(table, location, as_of_version=as_of_version,
                                        as_of_timestamp=as_of_timestamp)
    try:
        table.load_as_version(version)
    except FileNotFoundError as exc:
        raise vacuumed from exc
    if location.is_local and any(not os.path.exists(uri) for uri in table.file_uris()):
        raise vacuumed  # the scan is lazy: check now that the version's files are all there
    return pl.scan_delta(table)


def open_delta(location: ResolvedLocation) -> DeltaTable:
    """The Delta table at ``location``.

    Raises:
        DataError: there is no Delta table there.
    """
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



# ---- shared -----------------------------------------------------------------------------------
def _read_one(fmt: str, path: str, request: ReadRequest, *, shown: str | None = None) -> pa.Table:
    """``path`` is the file to parse (a local copy of a remote file), ``shown`` the file as the
    read found it (default: ``path``)."""
    location = request.location
    shown = shown or path
    try:
        return read_file(fmt, path, request.options,
                         source=f"{location.connection}:{relative_source(location, shown)}")
    except (DataError, ConfigError):
        raise
    except Exception as exc:
        if is_transient(exc):
            raise
        raise DataError(
            f"Cannot read {location.display}: file {shown}: {type(exc).__name__}: {exc}",
            fix="Check the file and the read options.",
        ) from exc

