"""The pandas engine: pandas frames (pyarrow-backed dtypes), DuckDB for SQL, delta-rs for Delta.

Eager: every method works on an in-memory ``pandas.DataFrame``. SQL runs in a fresh in-memory
DuckDB connection per call, with each named frame registered as a table (the node's current
frame as ``df``), so expressions mean what SQL means on every engine.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from odibi_core.dead_letters.model import (
    DeadLetter,
    DeadLetterBatch,
    relative_source,
)
from odibi_core.engines.arrow_rows import arrow_table_from_rows
from odibi_core.engines.base import Engine, FlagSummary, RowPredicate
from odibi_core.engines.delta_changes import check_change_request, read_change_feed
from odibi_core.engines.delta_io import delta_schema, read_delta, replace_delta_batch, write_delta
from odibi_core.engines.duckdb_sql import quote_identifier, run_duckdb
from odibi_core.engines.file_layout import (
    check_file_mode,
    replace_batch_file,
    list_source_files,
    location_exists,
    write_file_target,
)
from odibi_core.engines.file_names import is_single_file_target
from odibi_core.engines.file_tables import concat_file_tables, read_records_with_dead_letters
from odibi_core.engines.json_safe import json_safe_row
from odibi_core.engines.pandas_arrow import from_arrow, normalized, to_arrow
from odibi_core.engines.pandas_files import (
    read_file,
    reparse_records,
    validate_options,
    write_file,
)
from odibi_core.engines.remote_files import (
    is_hive_location,
    local_copies,
    parquet_schema,
    read_hive_location,
    write_hive_location,
)
from odibi_core.engines.request_checks import (
    format_not_available,
    refuse_unknown_options,
    require_append_for_batch_replace,
)
from odibi_core.error_taxonomy import is_transient
from odibi_core.errors import ConfigError, ConfigProblem, DataError
from odibi_core.profiling.compute import DUCKDB, SqlProfileDialect, profile_passes
from odibi_core.results import ColumnSchema, WriteResult
from odibi_core.storage.logical_types import arrow_type_of, logical_type_of_arrow
from odibi_core.storage.requests import ReadRequest, WriteRequest

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

__all__ = ["PandasEngine"]

_FILE_FORMATS = ("csv", "parquet", "json")
_ROW_INDEX = "__odibi_row"


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

    def __init__(self) -> None:
        self._views: Any = None  # a DuckDB connection holding the views, made on first use

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
        return from_arrow(arrow_table_from_rows(rows, schema))

    def from_arrow(self, table: Any) -> pd.DataFrame:
        return from_arrow(table)

    def call_function(self, fn: Callable[..., Any], frame: pd.DataFrame,
                      params: Mapping[str, Any], tables: Mapping[str, pd.DataFrame]) -> Any:
        """Call a user transform; a named index it leaves behind becomes columns."""
        import pandas as pd

        result = super().call_function(fn, frame, params, tables)
        return normalized(result) if isinstance(result, pd.DataFrame) else result

    # ---- row predicates and data quality ---------------------------------------------------
    def add_row_flags(self, frame: pd.DataFrame,
                      predicates: Sequence[RowPredicate]) -> pd.DataFrame:
        """One DuckDB query computes every predicate over the frame's Arrow data; only the
        boolean results come back (not a copy of the frame) and are put back in row order."""
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc

        frame = normalized(frame)
        if not predicates:
            return frame
        clash = sorted({p.flag for p in predicates} & {str(c) for c in frame.columns})
        if clash:
            raise DataError(f"The frame already has column(s) {', '.join(clash)}.",
                            fix="Rename those columns; odibi uses them for its own flags.")
        table = to_arrow(frame)
        rows = table.num_rows
        indexed = table.append_column(_ROW_INDEX, pa.array(np.arange(rows, dtype=np.int64)))
        query = "SELECT " + ", ".join(
            [quote_identifier(_ROW_INDEX)]
            + [f"({p.sql}) AS {quote_identifier(p.flag)}" for p in predicates]) + " FROM df"
        try:
            result = run_duckdb(query, {"df": indexed})
        except DataError:
            raise
        except Exception as exc:  # noqa: BLE001 - DuckDB errors become DataErrors
            raise DataError(str(exc),
                            fix="Check the columns, values and SQL of the tests.") from exc
        # Window functions (unique) may reorder rows: scatter the flags back by row index.
        order = result.column(_ROW_INDEX).to_numpy()
        flags = {}
        for predicate in predicates:
            values = pc.fill_null(result.column(predicate.flag), True).to_numpy()
            aligned = np.empty(rows, dtype=bool)
            aligned[order] = values
            flags[predicate.flag] = aligned
        return frame.assign(**flags)

    def summarize_flags(self, frame: pd.DataFrame, flags: Mapping[str, Sequence[str]], *,
                        sample_size: int) -> FlagSummary:
        import numpy as np

        failing: dict[str, int] = {}
        samples: dict[str, list[dict[str, Any]]] = {}
        others = [c for c in frame.columns if c not in flags]
        for flag, columns in flags.items():
            positions = np.flatnonzero(~frame[flag].to_numpy(dtype=bool))
            failing[flag] = int(positions.size)
            picked = frame.iloc[positions[:max(sample_size, 0)]][list(columns) or others]
            samples[flag] = [json_safe_row(r) for r in to_arrow(picked).to_pylist()]
        return FlagSummary(rows=len(frame), failing=failing, samples=samples)

    def count_rows(self, frame: pd.DataFrame, *, all_true: Sequence[str] = (),
                   any_false: Sequence[str] = ()) -> int:
        return int(_flag_mask(frame, all_true, any_false).sum())

    def filter_rows(self, frame: pd.DataFrame, *, all_true: Sequence[str] = (),
                    any_false: Sequence[str] = ()) -> pd.DataFrame:
        return frame[_flag_mask(frame, all_true, any_false)].reset_index(drop=True)

    def add_columns(self, frame: pd.DataFrame, expressions: Mapping[str, str]) -> pd.DataFrame:
        if not expressions:
            return frame
        select = ", ".join(["*"] + [f"({sql}) AS {quote_identifier(name)}"
                                    for name, sql in expressions.items()])
        return self.sql(f"SELECT {select} FROM df", {"df": frame})

    def with_constants(self, frame: pd.DataFrame, values: Mapping[str, Any]) -> pd.DataFrame:
        import pandas as pd
        import pyarrow as pa

        columns = {}
        for name, value in values.items():
            if isinstance(value, dt.datetime):
                value = value.astimezone(dt.timezone.utc)
                array = pa.array([value] * len(frame), type=pa.timestamp("us", tz="UTC"))
            else:
                array = pa.array([value] * len(frame), type=pa.scalar(value).type)
            columns[name] = pd.Series(array, index=frame.index, dtype=pd.ArrowDtype(array.type))
        return frame.assign(**columns)

    def drop_columns(self, frame: pd.DataFrame, names: Sequence[str]) -> pd.DataFrame:
        present = [n for n in names if n in frame.columns]
        return frame.drop(columns=present) if present else frame

    def head(self, frame: pd.DataFrame, n: int) -> pd.DataFrame:
        return frame.head(max(n, 0)).reset_index(drop=True)

    def sample_fraction(self, frame: pd.DataFrame, fraction: float, *,
                        seed: int) -> pd.DataFrame:
        if fraction >= 1:
            return frame
        picked = frame.sample(frac=fraction, random_state=seed % 2**32)
        return picked.sort_index().reset_index(drop=True)

    def aggregate(self, frame: pd.DataFrame, expressions: Mapping[str, str]) -> dict[str, Any]:
        if not expressions:
            return {}
        select = ", ".join(f"{sql} AS {quote_identifier(name)}"
                           for name, sql in expressions.items())
        table = run_duckdb(f"SELECT {select} FROM df", {"df": to_arrow(frame)})
        return table.to_pylist()[0]

    def profile(self, frame: pd.DataFrame, columns: Sequence[ColumnSchema], *,
                include: Collection[str], exact_limit: int, bins: int) -> dict[str, Any]:
        """Each pass is one DuckDB aggregate over the frame's Arrow data (converted once)."""
        table = to_arrow(frame)

        def aggregate(expressions: Mapping[str, str]) -> dict[str, Any]:
            select = ", ".join(f"{sql} AS {quote_identifier(name)}"
                               for name, sql in expressions.items())
            return run_duckdb(f"SELECT {select} FROM df", {"df": table}).to_pylist()[0]

        return profile_passes(SqlProfileDialect(aggregate, DUCKDB), columns, include=include,
                              exact_limit=exact_limit, bins=bins)

    def fingerprint(self, frame: pd.DataFrame) -> str:
        """sha256 of the schema, the row count and the sum and xor of DuckDB's row hashes."""
        table = to_arrow(frame)
        schema = ";".join(f"{f.name}:{f.type}" for f in table.schema)
        if table.num_columns:
            row_hash = "hash(" + ", ".join(quote_identifier(c) for c in table.column_names) + ")"
            query = (f"SELECT count(*) AS n, CAST(sum({row_hash}) AS VARCHAR) AS s, "
                     f"CAST(bit_xor({row_hash}) AS VARCHAR) AS x FROM df")
            facts = run_duckdb(query, {"df": table}).to_pylist()[0]
        else:
            facts = {"n": table.num_rows}
        text = f"{schema}|{facts.get('n')}|{facts.get('s')}|{facts.get('x')}"
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def rows_after(self, frame: pd.DataFrame, column: str, value: Any) -> pd.DataFrame:
        import pyarrow as pa
        import pyarrow.compute as pc

        table = to_arrow(frame)
        values = table.column(column)
        bound = pa.scalar(_as_utc(value) if isinstance(value, dt.datetime) else value)
        if bound.type != values.type:
            bound = bound.cast(values.type)
        keep = pc.fill_null(pc.greater(values, bound), False)
        return from_arrow(table.filter(keep))

    def rows_between(self, frame: pd.DataFrame, column: str, start: Any, end: Any) -> pd.DataFrame:
        import pyarrow as pa
        import pyarrow.compute as pc

        table = to_arrow(frame)
        values = table.column(column)

        def bound(value: Any) -> pa.Scalar:
            scalar = pa.scalar(_as_utc(value) if isinstance(value, dt.datetime) else value)
            return scalar.cast(values.type) if scalar.type != values.type else scalar

        keep = pc.and_(pc.greater_equal(values, bound(start)), pc.less(values, bound(end)))
        return from_arrow(table.filter(pc.fill_null(keep, False)))

    # ---- schema policy, privacy, views -----------------------------------------------------
    def read_schema(self, request: ReadRequest) -> tuple[ColumnSchema, ...] | None:
        """Delta: the log's schema; parquet: the footers'; csv/json: read the data."""
        location = request.location
        if not location_exists(location):
            return None
        if request.format == "delta":
            arrow_schema = delta_schema(location)
        elif request.format == "parquet":
            import pyarrow.dataset as ds

            files = list_source_files(location, "parquet")
            arrow_schema = ds.dataset(files, format="parquet").schema if location.is_local \
                else parquet_schema(location, files)
        else:
            return super().read_schema(request)
        return tuple(ColumnSchema(f.name, logical_type_of_arrow(f.type), f.nullable)
                     for f in arrow_schema)

    def conform(self, frame: pd.DataFrame, columns: Sequence[ColumnSchema]) -> pd.DataFrame:
        import pyarrow as pa

        table = to_arrow(frame)
        arrays, fields = [], []
        for column in columns:
            kind = arrow_type_of(column.type)
            if column.name in table.column_names:
                arrays.append(_cast_column(table.column(column.name), kind, column))
            else:
                arrays.append(pa.nulls(table.num_rows, type=kind))
            fields.append(pa.field(column.name, kind))
        return from_arrow(pa.Table.from_arrays(arrays, schema=pa.schema(fields)))

    def anonymize(self, frame: pd.DataFrame, columns: Sequence[str], method: str,
                  salt: str | None = None) -> pd.DataFrame:
        """Through DuckDB: ``sha256``, ``repeat``/``right`` and a literal give one pass."""
        prefix = "'" + (salt or "").replace("'", "''") + "'"

        def protected(column: str) -> str:
            text = _canonical_text_sql(quote_identifier(column))
            if method == "hash":
                return f"sha256({prefix} || {text})"
            if method == "mask":
                return (f"CASE WHEN {text} IS NULL THEN NULL "
                        f"WHEN length({text}) <= 4 THEN repeat('*', length({text})) "
                        f"ELSE repeat('*', length({text}) - 4) || right({text}, 4) END")
            return f"CASE WHEN {quote_identifier(column)} IS NULL THEN NULL " \
                   f"ELSE '[REDACTED]' END"

        select = [f"{protected(c)} AS {quote_identifier(c)}" if c in columns
                  else quote_identifier(c) for c in self.columns(frame)]
        return self.sql(f"SELECT {', '.join(select)} FROM df", {"df": frame})

    def create_view(self, name: str, frame: pd.DataFrame) -> pd.DataFrame:
        """A view in this engine's DuckDB catalog over the frame's Arrow data: reading it runs
        the view's query; nothing is stored."""
        import duckdb

        if self._views is None:
            self._views = duckdb.connect()
            self._views.execute("SET TimeZone = 'UTC'")
        source = f"__odibi_view_source_{name}"
        self._views.register(source, to_arrow(frame))
        self._views.execute(f"CREATE OR REPLACE VIEW {quote_identifier(name)} AS "
                            f"SELECT * FROM {quote_identifier(source)}")
        return self._read_view(name)

    def _read_view(self, name: str) -> pd.DataFrame:
        return from_arrow(self._views.sql(f"SELECT * FROM {quote_identifier(name)}")
                          .to_arrow_table())

    def view_names(self) -> list[str]:
        if self._views is None:
            return []
        rows = self._views.execute(
            "SELECT view_name FROM duckdb_views() WHERE NOT internal "
            "AND view_name NOT LIKE '\\_\\_odibi\\_%' ESCAPE '\\' ORDER BY view_name").fetchall()
        return [r[0] for r in rows]

    def sql_regex_match(self, column_sql: str, pattern: str) -> str:
        literal = "'" + pattern.replace("'", "''") + "'"
        return f"regexp_matches({column_sql}, {literal})"

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
    def _read_with_dead_letters(self, request: ReadRequest, *,
                                batch_id: str | None) -> tuple[pd.DataFrame, DeadLetterBatch]:
        table, batch = read_records_with_dead_letters(request, batch_id=batch_id)
        return from_arrow(table), batch

    def reparse_dead_letters(self, letters: Sequence[DeadLetter], *, format: str,
                             options: Mapping[str, Any]) -> tuple[pd.DataFrame, dict[int, str]]:
        validate_options(format, "read", options)
        table, errors = reparse_records(format, letters, options)
        return from_arrow(table), errors

    def _read(self, request: ReadRequest) -> pd.DataFrame:
        fmt = request.format
        travels = request.as_of_version is not None or request.as_of_timestamp is not None
        if travels and fmt != "delta":
            raise ConfigError(ConfigProblem(
                message=f"time_travel needs a Delta table; this read is {fmt}.",
                key_path="read.time_travel", fix="Remove time_travel, or read `format: delta`.",
            ))
        if fmt == "delta" and request.change_feed is not None:
            return from_arrow(read_change_feed(request.location, check_change_request(request)))
        if fmt == "delta":
            refuse_unknown_options("delta", "read", request.options)
            return from_arrow(read_delta(request.location, as_of_version=request.as_of_version,
                                         as_of_timestamp=request.as_of_timestamp,
                                         lower_bound=request.lower_bound))
        if fmt not in _FILE_FORMATS:
            raise format_not_available(fmt, "read", "pandas")
        validate_options(fmt, "read", request.options)
        if fmt == "parquet" and is_hive_location(request.location):
            return from_arrow(read_hive_location(request.location,
                                                 lower_bound=request.lower_bound))
        files = list_source_files(request.location, fmt)
        with local_copies(request.location, files) as copies:
            tables = [self._read_one(fmt, copy, request, shown=path)
                      for path, copy in zip(files, copies)]
        return from_arrow(concat_file_tables(tables, request.location.display))

    def _write(self, frame: pd.DataFrame, request: WriteRequest) -> WriteResult:
        fmt = request.format
        location = request.location
        shown = location.redact(location.uri)
        if request.replace_batch is not None:
            return self._replace_batch(frame, request)
        if fmt == "delta":
            refuse_unknown_options("delta", "write", request.options, allowed=("keys",))
            outcome = write_delta(to_arrow(frame), request)
            return WriteResult(connection=location.connection, format=fmt, mode=request.mode,
                               location=shown, rows_written=outcome.rows_written,
                               delta_version=outcome.version,
                               files_written=outcome.files_written)
        if fmt not in _FILE_FORMATS:
            raise format_not_available(fmt, "write", "pandas")
        check_file_mode(location, fmt, request.mode)
        if request.partition_by:
            if fmt != "parquet":
                raise ConfigError(ConfigProblem(
                    message=f"partition_by is available for parquet and Delta targets; this "
                            f"write is {fmt}.",
                    key_path="write.partition_by",
                    fix="Write parquet or delta, or remove partition_by."))
            files = write_hive_location(to_arrow(frame), location, request.mode,
                                        request.partition_by, token=_token(request))
            return WriteResult(connection=location.connection, format=fmt, mode=request.mode,
                               location=shown, rows_written=len(frame), files_written=files)
        validate_options(fmt, "write", request.options)
        lines = not is_single_file_target(location.uri, fmt) \
            or location.uri.lower().endswith((".jsonl", ".ndjson", ".jsonl.gz"))
        files = write_file_target(
            location, fmt, request.mode,
            lambda path: write_file(fmt, frame, path, request.options, lines=lines),
            token=_token(request),
        )
        return WriteResult(connection=location.connection, format=fmt, mode=request.mode,
                           location=shown, rows_written=len(frame), files_written=files)

    def _sql(self, query: str, tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
        empty = sorted(name for name, frame in tables.items() if frame is None)
        if empty:
            raise DataError(f"Table(s) {', '.join(empty)} have no data (None) for this SQL.",
                            fix="Make sure the upstream nodes ran and produced a frame.")
        views = {name: self._read_view(name) for name in self.view_names()
                 if name not in tables and name in query}
        return from_arrow(run_duckdb(query, {name: to_arrow(frame)
                                             for name, frame in {**views, **tables}.items()}))

    def _replace_batch(self, frame: pd.DataFrame, request: WriteRequest) -> WriteResult:
        """Write ``frame`` as the whole of its batch: a rerun replaces, never duplicates."""
        batch = request.replace_batch
        assert batch is not None
        location, fmt = request.location, request.format
        shown = location.redact(location.uri)
        require_append_for_batch_replace(request)
        if fmt == "delta":
            version = replace_delta_batch(to_arrow(frame), request)
            return WriteResult(connection=location.connection, format=fmt, mode=request.mode,
                               location=shown, rows_written=len(frame), delta_version=version,
                               files_written=1)
        if fmt not in _FILE_FORMATS:
            raise format_not_available(fmt, "write", "pandas")
        validate_options(fmt, "write", request.options)
        replace_batch_file(location, fmt, f"{batch.column}={batch.value}",
                           lambda path: write_file(fmt, frame, path, request.options, lines=True))
        return WriteResult(connection=location.connection, format=fmt, mode=request.mode,
                           location=shown, rows_written=len(frame), files_written=1)

    # ---- helpers ---------------------------------------------------------------------------
    @staticmethod
    def _read_one(fmt: str, path: str, request: ReadRequest, *,
                  shown: str | None = None) -> pa.Table:
        """``path`` is the file to parse (a local copy of a remote file), ``shown`` the file as
        the read found it (default: ``path``)."""
        location = request.location
        shown = shown or path
        try:
            return read_file(fmt, path, request.options, source=f"{location.connection}:"
                             f"{relative_source(location, shown)}",
                             lower_bound=request.lower_bound)
        except (DataError, ConfigError):
            raise
        except Exception as exc:
            if is_transient(exc):
                raise
            raise DataError(
                f"Cannot read {request.location.display}: file {shown}: "
                f"{type(exc).__name__}: {exc}",
                fix="Check the file and the read options.",
            ) from exc


def _as_utc(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo is None else value.astimezone(dt.timezone.utc)


def _cast_column(values: Any, kind: pa.DataType, column: ColumnSchema) -> Any:
    import pyarrow as pa

    if values.type == kind:
        return values
    try:
        return values.cast(kind)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise DataError(f"Column '{column.name}' cannot be converted to {column.type}: {exc}",
                        fix=f"Cast '{column.name}' to {column.type} in the transform, or let "
                            "the schema evolve.") from exc


def _canonical_text_sql(column_sql: str) -> str:
    """SQL for a value's canonical text (strings as is, integers in decimal, booleans
    true/false, dates YYYY-MM-DD): DuckDB's VARCHAR cast already spells these so."""
    return f"CAST({column_sql} AS VARCHAR)"


def _flag_mask(frame: pd.DataFrame, all_true: Sequence[str],
               any_false: Sequence[str]) -> Any:
    import numpy as np

    mask = np.ones(len(frame), dtype=bool)
    for flag in all_true:
        mask &= frame[flag].to_numpy(dtype=bool)
    if any_false:
        failed = np.zeros(len(frame), dtype=bool)
        for flag in any_false:
            failed |= ~frame[flag].to_numpy(dtype=bool)
        mask &= failed
    return mask


def _token(request: WriteRequest) -> str | None:
    return request.marker.token if request.marker is not None else None


def _typed(frame: pd.DataFrame) -> bool:
    """True when every column's Arrow type is known without scanning values."""
    import pandas as pd

    return all(isinstance(dtype, pd.ArrowDtype) for dtype in frame.dtypes)

