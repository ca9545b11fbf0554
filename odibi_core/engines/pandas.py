"""The pandas engine: pandas frames (pyarrow-backed dtypes), DuckDB for SQL, delta-rs for Delta.

Eager: every method works on an in-memory ``pandas.DataFrame``. SQL runs in a fresh in-memory
DuckDB connection per call, with each named frame registered as a table (the node's current
frame as ``df``), so expressions mean what SQL means on every engine.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from odibi_core.engines.base import Engine, ReadRequest, WriteRequest
from odibi_core.engines.delta_io import read_delta, write_delta
from odibi_core.engines.duckdb_sql import run_duckdb
from odibi_core.engines.file_layout import (
    check_file_mode,
    is_single_file_target,
    list_source_files,
    write_file_target,
)
from odibi_core.engines.json_safe import json_safe_row
from odibi_core.engines.logical_types import arrow_type_of, logical_type_of_arrow
from odibi_core.engines.pandas_arrow import from_arrow, normalized, to_arrow
from odibi_core.engines.pandas_files import read_file, validate_options, write_file
from odibi_core.errors import ConfigError, ConfigProblem, DataError, is_transient
from odibi_core.results import ColumnSchema, WriteResult

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

__all__ = ["PandasEngine"]

_FILE_FORMATS = ("csv", "parquet", "json")


class PandasEngine(Engine):
    """pandas + DuckDB + delta-rs.

    Example:
        >>> from odibi_core.engines import get_engine
        >>> engine = get_engine("pandas")
        >>> engine.count(engine.sql("SELECT 1 AS x", {}))
        1
    """

    name = "pandas"
    is_lazy = False
    supports_time_travel = True
    supports_views = False

    # ---- frames ----------------------------------------------------------------------------
    def count(self, frame: pd.DataFrame) -> int:
        return len(frame)

    def columns(self, frame: pd.DataFrame) -> list[str]:
        return [str(c) for c in normalized(frame).columns]

    def schema(self, frame: pd.DataFrame) -> tuple[ColumnSchema, ...]:
        frame = normalized(frame)
        # Arrow-backed columns carry their type: convert no data. Others are inferred from values.
        table = to_arrow(frame.head(0) if _typed(frame) else frame)
        return tuple(ColumnSchema(f.name, logical_type_of_arrow(f.type), f.nullable)
                     for f in table.schema)

    def sample(self, frame: pd.DataFrame, n: int) -> list[dict[str, Any]]:
        return [json_safe_row(row) for row in to_arrow(frame.head(max(n, 0))).to_pylist()]

    def from_rows(self, rows: Sequence[Mapping[str, Any]],
                  schema: Mapping[str, str] | None = None) -> pd.DataFrame:
        import pyarrow as pa

        declared = dict(schema or {})
        names = list(dict.fromkeys([*(k for row in rows for k in row), *declared]))
        arrays = {}
        for name in names:
            values = [row.get(name) for row in rows]
            if name in declared:
                arrays[name] = _typed_array(name, values, declared[name])
            else:
                array = pa.array(values)
                arrays[name] = array.cast(pa.string()) if pa.types.is_null(array.type) else array
        return from_arrow(pa.table(arrays) if arrays else pa.table({}))

    def call_function(self, fn: Callable[..., Any], frame: pd.DataFrame,
                      params: Mapping[str, Any], tables: Mapping[str, pd.DataFrame]) -> Any:
        """Call a user transform; a named index it leaves behind becomes columns."""
        import pandas as pd

        result = super().call_function(fn, frame, params, tables)
        return normalized(result) if isinstance(result, pd.DataFrame) else result

    # ---- intermediate storage --------------------------------------------------------------
    def write_intermediate(self, frame: pd.DataFrame, path: str) -> None:
        import pyarrow.parquet as pq

        folder = os.path.dirname(path) or "."
        os.makedirs(folder, exist_ok=True)
        temp = os.path.join(folder, f".tmp-{uuid.uuid4().hex}-{os.path.basename(path)}")
        try:
            pq.write_table(to_arrow(frame), temp)
            os.replace(temp, path)
        finally:
            if os.path.exists(temp):
                os.remove(temp)

    def read_intermediate(self, path: str) -> pd.DataFrame:
        import pyarrow.parquet as pq

        return from_arrow(pq.read_table(path))

    # ---- subclass hooks --------------------------------------------------------------------
    def _read(self, request: ReadRequest) -> pd.DataFrame:
        fmt = request.format
        travels = request.as_of_version is not None or request.as_of_timestamp is not None
        if travels and fmt != "delta":
            raise ConfigError(ConfigProblem(
                message=f"time_travel needs a Delta table; this read is {fmt}.",
                key_path="read.time_travel", fix="Remove time_travel, or read `format: delta`.",
            ))
        if fmt == "delta":
            _refuse_options("delta", "read", request.options)
            return from_arrow(read_delta(request.location, as_of_version=request.as_of_version,
                                         as_of_timestamp=request.as_of_timestamp))
        if fmt not in _FILE_FORMATS:
            raise _not_available(fmt, "read")
        validate_options(fmt, "read", request.options)
        files = list_source_files(request.location, fmt)
        tables = [self._read_one(fmt, path, request) for path in files]
        return from_arrow(_concat(tables, files, request.location.display))

    def _write(self, frame: pd.DataFrame, request: WriteRequest) -> WriteResult:
        fmt = request.format
        location = request.location
        shown = location.redact(location.uri)
        if fmt == "delta":
            _refuse_options("delta", "write", request.options, allowed=("keys",))
            outcome = write_delta(to_arrow(frame), request)
            return WriteResult(connection=location.connection, format=fmt, mode=request.mode,
                               location=shown, rows_written=outcome.rows_written,
                               delta_version=outcome.version,
                               files_written=outcome.files_written)
        if fmt not in _FILE_FORMATS:
            raise _not_available(fmt, "write")
        check_file_mode(location, fmt, request.mode)
        if request.partition_by:
            raise ConfigError(ConfigProblem(
                message=f"partition_by is available for Delta targets only on the pandas "
                        f"engine; this write is {fmt}.",
                key_path="write.partition_by",
                fix="Write `format: delta`, or remove partition_by.",
            ))
        validate_options(fmt, "write", request.options)
        lines = not is_single_file_target(location.uri, fmt) \
            or location.uri.lower().endswith((".jsonl", ".ndjson", ".jsonl.gz"))
        files = write_file_target(
            location, fmt, request.mode,
            lambda path: write_file(fmt, frame, path, request.options, lines=lines),
        )
        return WriteResult(connection=location.connection, format=fmt, mode=request.mode,
                           location=shown, rows_written=len(frame), files_written=files)

    def _sql(self, query: str, tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
        empty = sorted(name for name, frame in tables.items() if frame is None)
        if empty:
            raise DataError(f"Table(s) {', '.join(empty)} have no data (None) for this SQL.",
                            fix="Make sure the upstream nodes ran and produced a frame.")
        return from_arrow(run_duckdb(query, {name: to_arrow(frame)
                                             for name, frame in tables.items()}))

    # ---- helpers ---------------------------------------------------------------------------
    @staticmethod
    def _read_one(fmt: str, path: str, request: ReadRequest) -> pa.Table:
        try:
            return read_file(fmt, path, request.options)
        except (DataError, ConfigError):
            raise
        except Exception as exc:
            if is_transient(exc):
                raise
            raise DataError(
                f"Cannot read {request.location.display}: file {path}: "
                f"{type(exc).__name__}: {exc}",
                fix="Check the file and the read options.",
            ) from exc


def _typed(frame: pd.DataFrame) -> bool:
    """True when every column's Arrow type is known without scanning values."""
    import pandas as pd

    return all(isinstance(dtype, pd.ArrowDtype) for dtype in frame.dtypes)


def _typed_array(name: str, values: list[Any], logical: str) -> pa.Array:
    import pyarrow as pa

    try:
        arrow_type = arrow_type_of(logical)
    except ValueError as exc:
        raise DataError(f"Column '{name}': {exc}", fix="Use a logical type name.") from exc
    attempts = [lambda: pa.array(values, type=arrow_type),
                lambda: pa.array(values).cast(arrow_type)]  # ISO strings: dates, decimals
    if pa.types.is_timestamp(arrow_type) and arrow_type.tz:
        # A zone-less string means UTC, as in SQL with TimeZone = 'UTC'.
        attempts.append(lambda: pa.array(values).cast(pa.timestamp(arrow_type.unit))
                        .cast(arrow_type))
    error: Exception | None = None
    for attempt in attempts:
        try:
            return attempt()
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError,
                TypeError) as exc:
            error = error or exc
    raise DataError(f"Column '{name}': the values do not fit {logical} ({error}).",
                    fix="Give values of that type, or change the declared type.")


def _concat(tables: list[pa.Table], files: list[str], display: str) -> pa.Table:
    import pyarrow as pa

    if len(tables) == 1:
        return tables[0]
    try:
        return pa.concat_tables(tables, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise DataError(
            f"The {len(files)} files of {display} do not share a schema: {exc}",
            fix="Make the files agree on column types (for csv, `infer_schema: false` reads "
                "every column as a string), or read them separately.",
        ) from exc


def _refuse_options(fmt: str, action: str, options: Mapping[str, Any],
                    allowed: tuple[str, ...] = ()) -> None:
    unknown = [k for k in options if k not in allowed]
    if unknown:
        raise ConfigError([ConfigProblem(
            message=f"Unknown {fmt} {action} option '{key}'.",
            key_path=f"{action}.options.{key}",
            fix=f"Valid {fmt} {action} options: {', '.join(allowed) or '(none)'}.",
        ) for key in unknown])


def _not_available(fmt: str, action: str) -> ConfigError:
    return ConfigError(ConfigProblem(
        message=f"format '{fmt}' is not available on the pandas engine yet ({action}).",
        key_path=f"{action}.format",
        fix="Use csv, parquet, json or delta; sql, api and avro sources come in a later "
            "release.",
    ))
