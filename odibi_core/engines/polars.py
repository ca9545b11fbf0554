"""The polars engine: ``polars.LazyFrame`` end to end, polars SQL, delta-rs for Delta.

Lazy: reads are scans (``scan_parquet``, ``scan_delta``), transforms and validation flags are
expressions added to the plan, and the plan runs when something needs rows: ``collect`` (the
node runner calls it once after the transform), ``count``, ``to_rows`` or a write (which collects
once and hands Arrow data to the shared writers). ``collect`` and ``cache`` return a LazyFrame
whose plan is already computed, so later passes do not recompute it.

CSV and JSON are parsed by the same pyarrow-backed readers the pandas engine uses
(``odibi_core.engines.pandas_files``), then handed to polars: both engines infer the same types
and set aside the same malformed records (dead letters). SQL runs in a ``pl.SQLContext`` with
every table registered as a LazyFrame (the node's current frame as ``df``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from odibi_core.engines.arrow_rows import arrow_table_from_rows
from odibi_core.engines.base import Engine, FlagSummary, RowPredicate
from odibi_core.engines.delta_io import can_stream, delta_schema
from odibi_core.engines.file_layout import location_exists
from odibi_core.engines.json_safe import json_safe_row
from odibi_core.engines.polars_casts import conformed
from odibi_core.engines.polars_checks import flag_expression
from odibi_core.engines.polars_privacy import anonymized
from odibi_core.engines.polars_profile import PolarsProfileDialect
from odibi_core.engines.polars_read import (
    read_frame,
    read_with_dead_letters,
    reparse,
    scan_parquet_files,
)
from odibi_core.engines.polars_sql import (
    checked,
    collect,
    collect_all,
    compute_errors,
    quote_identifier,
    run_sql,
    sql_expression,
)
from odibi_core.engines.polars_types import (
    lazy_from_arrow,
    logical_schema,
)
from odibi_core.engines.polars_write import (
    StreamedWrite,
    stream_delta,
    write_frame,
    write_parquet_file,
)
from odibi_core.errors import DataError
from odibi_core.profiling.compute import profile_passes
from odibi_core.results import ColumnSchema, WriteResult
from odibi_core.storage.logical_types import logical_type_of_arrow
from odibi_core.storage.requests import ReadRequest, WriteRequest

if TYPE_CHECKING:
    import polars as pl

    from odibi_core.dead_letters.model import DeadLetter, DeadLetterBatch

__all__ = ["PolarsEngine"]

# Rows of a streamed write kept to describe its frame afterwards (the story's sample rows).
STREAMED_HEAD_ROWS = 100


class PolarsEngine(Engine):
    """polars (lazy) + polars SQL + delta-rs.

    Example:
        >>> from odibi_core.engines import get_engine
        >>> engine = get_engine("polars")
        >>> engine.count(engine.sql("SELECT 1 AS x", {}))
        1
    """

    name = "polars"
    is_lazy = True

    def __init__(self, streaming: bool = False) -> None:
        """``streaming``: keep node outputs as lazy plans run by polars' streaming engine
        (data larger than memory), instead of computing each output once into memory."""
        self.streaming = bool(streaming)
        self._views: Any = None  # a pl.SQLContext holding the views, made on first use
        self._streamed: StreamedWrite | None = None  # the last frame streamed to a sink
        self._streamed_frame: Any = None

    # ---- frames ----------------------------------------------------------------------------
    def count(self, frame: Any) -> int:
        import polars as pl

        if frame is self._streamed_frame and self._streamed is not None:
            return self._streamed.rows
        return int(self._collect(_lazy(frame).select(pl.len())).item())

    def columns(self, frame: Any) -> list[str]:
        return list(_lazy(frame).collect_schema().names())

    def schema(self, frame: Any) -> tuple[ColumnSchema, ...]:
        return logical_schema(_lazy(frame).collect_schema())

    def sample(self, frame: Any, n: int) -> list[dict[str, Any]]:
        streamed = self._streamed
        if frame is self._streamed_frame and streamed is not None \
                and (n <= streamed.head.height or streamed.head.height == streamed.rows):
            head = streamed.head.head(max(n, 0))
        else:
            head = self._collect(_lazy(frame).head(max(n, 0)))
        return [json_safe_row(row) for row in head.to_arrow().to_pylist()]

    def to_rows(self, frame: Any) -> list[dict[str, Any]]:
        return [json_safe_row(row) for row in self._collect(_lazy(frame)).to_arrow().to_pylist()]

    def collect(self, frame: Any) -> pl.LazyFrame:
        """The frame's plan computed now, as a LazyFrame over the in-memory result; with
        ``streaming`` the plan is kept (each later pass computes it again, in bounded memory)."""
        if self.streaming:
            return _lazy(frame)
        return collect(_lazy(frame)).lazy()

    def cache(self, frame: Any) -> pl.LazyFrame:
        """The frame computed into memory now (``cache: true`` asks for it in streaming mode
        too)."""
        return self._collect(_lazy(frame)).lazy()

    def _collect(self, frame: pl.LazyFrame) -> pl.DataFrame:
        return collect(frame, streaming=self.streaming)

    def from_rows(self, rows: Sequence[Mapping[str, Any]],
                  schema: Mapping[str, str] | None = None) -> pl.LazyFrame:
        return lazy_from_arrow(arrow_table_from_rows(rows, schema))

    def from_arrow(self, table: Any) -> pl.LazyFrame:
        return lazy_from_arrow(table)

    def call_function(self, fn: Callable[..., Any], frame: Any, params: Mapping[str, Any],
                      tables: Mapping[str, Any]) -> Any:
        """Call a user transform with the LazyFrame; a ``pl.DataFrame`` it returns is made
        lazy."""
        result = super().call_function(fn, frame, params, tables)
        return _lazy(result) if _is_polars_frame(result) else result

    # ---- row predicates and data quality ---------------------------------------------------
    def add_row_flags(self, frame: Any, predicates: Sequence[RowPredicate]) -> pl.LazyFrame:
        """Every predicate as an expression, added in ONE ``with_columns``: nothing is computed
        until the flags are read."""
        frame = _lazy(frame)
        if not predicates:
            return frame
        schema = frame.collect_schema()
        clash = sorted({p.flag for p in predicates} & set(schema.names()))
        if clash:
            raise DataError(f"The frame already has column(s) {', '.join(clash)}.",
                            fix="Rename those columns; odibi uses them for its own flags.")
        exprs = [flag_expression(p, schema) for p in predicates]
        flagged = checked(lambda lf: lf.with_columns(exprs), frame,
                          "; ".join(p.sql for p in predicates))
        # In memory, the flags are computed once here (a few boolean columns beside the
        # frame's, which are shared, not copied): counting, splitting and writing then read
        # them instead of evaluating every test again. Streaming keeps them in the plan.
        return flagged if self.streaming else collect(flagged).lazy()

    def summarize_flags(self, frame: Any, flags: Mapping[str, Sequence[str]], *,
                        sample_size: int) -> FlagSummary:
        """Counts (with the rows passing every flag) and samples of every flag, computed
        together: one pass over the flagged frame."""
        import polars as pl

        data = _lazy(frame)
        others = [c for c in data.collect_schema().names() if c not in flags]
        queries = [data.select([pl.len().alias("__rows"),
                                pl.all_horizontal(list(flags)).sum().alias("__passing")]
                               + [(~pl.col(f)).sum().alias(f) for f in flags])]
        queries += [data.filter(~pl.col(flag)).select(list(columns) or others)
                    .head(max(sample_size, 0)) for flag, columns in flags.items()]
        counts, *picked = collect_all(queries, streaming=self.streaming)
        totals = counts.row(0, named=True)
        samples = {flag: [json_safe_row(r) for r in rows.to_arrow().to_pylist()]
                   for flag, rows in zip(flags, picked)}
        return FlagSummary(rows=int(totals["__rows"]),
                           failing={f: int(totals[f]) for f in flags}, samples=samples,
                           passing=int(totals["__passing"]))

    def count_rows(self, frame: Any, *, all_true: Sequence[str] = (),
                   any_false: Sequence[str] = ()) -> int:
        return self.count(self.filter_rows(frame, all_true=all_true, any_false=any_false))

    def filter_rows(self, frame: Any, *, all_true: Sequence[str] = (),
                    any_false: Sequence[str] = ()) -> pl.LazyFrame:
        import polars as pl

        conditions = [pl.col(f) for f in all_true]
        if any_false:
            conditions.append(pl.any_horizontal([~pl.col(f) for f in any_false]))
        return _lazy(frame).filter(pl.all_horizontal(conditions)) if conditions \
            else _lazy(frame)

    def add_columns(self, frame: Any, expressions: Mapping[str, str]) -> pl.LazyFrame:
        frame = _lazy(frame)
        if not expressions:
            return frame
        exprs = [sql_expression(sql).alias(name) for name, sql in expressions.items()]
        return checked(lambda lf: lf.with_columns(exprs), frame, "; ".join(expressions.values()))

    def with_constants(self, frame: Any, values: Mapping[str, Any]) -> pl.LazyFrame:
        import polars as pl

        types = _constant_types()
        exprs = []
        for name, value in values.items():
            if isinstance(value, dt.datetime):
                utc = value.astimezone(dt.timezone.utc)
                exprs.append(pl.lit(utc, dtype=pl.Datetime("us", "UTC")).alias(name))
            else:  # Arrow's types for Python scalars, as pandas stores them
                exprs.append(pl.lit(value, dtype=types.get(type(value))).alias(name))
        return _lazy(frame).with_columns(exprs) if exprs else _lazy(frame)

    def drop_columns(self, frame: Any, names: Sequence[str]) -> pl.LazyFrame:
        present = [n for n in names if n in self.columns(frame)]
        return _lazy(frame).drop(present) if present else _lazy(frame)

    def head(self, frame: Any, n: int) -> pl.LazyFrame:
        return _lazy(frame).head(max(n, 0))

    def sample_fraction(self, frame: Any, fraction: float, *, seed: int) -> pl.LazyFrame:
        """``round(fraction * rows)`` rows (as pandas picks), chosen by a seeded shuffle of the
        row positions; lazy, and in frame order."""
        import polars as pl

        if fraction >= 1:
            return _lazy(frame)
        wanted = (pl.len() * fraction).round(0, mode="half_to_even")
        rank = pl.int_range(pl.len()).shuffle(seed=seed % 2**32)
        return _lazy(frame).filter(rank < wanted)

    def aggregate(self, frame: Any, expressions: Mapping[str, str]) -> dict[str, Any]:
        if not expressions:
            return {}
        select = ", ".join(f"{sql} AS {quote_identifier(name)}"
                           for name, sql in expressions.items())
        result = self._collect(self.sql(f"SELECT {select} FROM df", {"df": frame}))
        return result.row(0, named=True)

    def profile(self, frame: Any, columns: Sequence[ColumnSchema], *,
                include: Collection[str], exact_limit: int, bins: int) -> dict[str, Any]:
        """Each pass is one ``select`` of polars aggregate expressions over the lazy frame."""
        return profile_passes(PolarsProfileDialect(_lazy(frame)), columns, include=include,
                              exact_limit=exact_limit, bins=bins)

    def fingerprint(self, frame: Any) -> str:
        """sha256 of the schema, the row count and the wrapping sum and the xor of polars' row
        hashes, independent of row order. The hash has a fixed seed, and polars guarantees it
        stable within a polars version (a polars upgrade may change fingerprints)."""
        import polars as pl

        lazy = _lazy(frame)
        schema = lazy.collect_schema()
        text = ";".join(f"{name}:{dtype}" for name, dtype in schema.items())
        if schema:
            hashed = pl.struct(pl.all()).hash(seed=0)
            facts = self._collect(lazy.select(
                pl.len().alias("n"), hashed.sum().alias("s"),
                hashed.bitwise_xor().alias("x"))).row(0)
        else:
            facts = (self.count(lazy), None, None)
        text += "|" + "|".join(str(f) for f in facts)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def rows_after(self, frame: Any, column: str, value: Any) -> pl.LazyFrame:
        import polars as pl

        frame = _lazy(frame)
        dtype = frame.collect_schema()[column]
        return frame.filter(pl.col(column) > _literal(value, dtype))

    def rows_between(self, frame: Any, column: str, start: Any, end: Any) -> pl.LazyFrame:
        import polars as pl

        frame = _lazy(frame)
        dtype = frame.collect_schema()[column]
        return frame.filter((pl.col(column) >= _literal(start, dtype))
                            & (pl.col(column) < _literal(end, dtype)))

    # ---- schema policy, privacy, views -----------------------------------------------------
    def read_schema(self, request: ReadRequest) -> tuple[ColumnSchema, ...] | None:
        """Delta: the log's schema; parquet: the footers'; csv/json: read the data."""
        location = request.location
        if not location_exists(location):
            return None
        if request.format == "delta":
            schema = delta_schema(location)
            return tuple(ColumnSchema(f.name, logical_type_of_arrow(f.type), f.nullable)
                         for f in schema)
        if request.format == "parquet":
            return self.schema(scan_parquet_files(location))
        return super().read_schema(request)

    def conform(self, frame: Any, columns: Sequence[ColumnSchema]) -> pl.LazyFrame:
        return conformed(_lazy(frame), columns)

    def anonymize(self, frame: Any, columns: Sequence[str], method: str,
                  salt: str | None = None) -> pl.LazyFrame:
        return anonymized(_lazy(frame), columns, method, salt)

    def create_view(self, name: str, frame: Any) -> pl.LazyFrame:
        """Register the LazyFrame (uncomputed) as ``name`` in this engine's SQL context."""
        import polars as pl

        if self._views is None:
            self._views = pl.SQLContext()
        self._views.register(name, _lazy(frame))
        return self._views.execute(f"SELECT * FROM {quote_identifier(name)}", eager=False)

    def view_names(self) -> list[str]:
        return sorted(self._views.tables()) if self._views is not None else []

    # ---- intermediate storage --------------------------------------------------------------
    def write_intermediate(self, frame: Any, path: str) -> None:
        folder = os.path.dirname(path) or "."
        os.makedirs(folder, exist_ok=True)
        temp = os.path.join(folder, f".tmp-{uuid.uuid4().hex}-{os.path.basename(path)}")
        try:
            if self.streaming:  # batch by batch: the hand-off never holds the frame either
                with compute_errors():
                    _lazy(frame).sink_parquet(temp, compression="snappy", engine="streaming")
            else:
                write_parquet_file(self._collect(_lazy(frame)), temp)
            os.replace(temp, path)
        finally:
            if os.path.exists(temp):
                os.remove(temp)

    def read_intermediate(self, path: str) -> pl.LazyFrame:
        import polars as pl

        return pl.scan_parquet(path)

    # ---- subclass hooks --------------------------------------------------------------------
    def _read(self, request: ReadRequest) -> pl.LazyFrame:
        return read_frame(request)

    def _read_with_dead_letters(self, request: ReadRequest, *,
                                batch_id: str | None) -> tuple[pl.LazyFrame, DeadLetterBatch]:
        return read_with_dead_letters(request, batch_id=batch_id)

    def reparse_dead_letters(self, letters: Sequence[DeadLetter], *, format: str,
                             options: Mapping[str, Any]) -> tuple[pl.LazyFrame, dict[int, str]]:
        return reparse(letters, format, options)

    def _write(self, frame: Any, request: WriteRequest) -> WriteResult:
        """In streaming mode an append or overwrite of a Delta table streams; everything else
        collects the frame first."""
        if self.streaming and request.format == "delta" and can_stream(request):
            self._streamed = None
            streamed = stream_delta(_lazy(frame), request, head_rows=STREAMED_HEAD_ROWS)
            self._streamed, self._streamed_frame = streamed, frame
            return streamed.result
        return write_frame(self._collect(_lazy(frame)), request)

    def _sql(self, query: str, tables: Mapping[str, Any]) -> pl.LazyFrame:
        empty = sorted(name for name, frame in tables.items() if frame is None)
        if empty:
            raise DataError(f"Table(s) {', '.join(empty)} have no data (None) for this SQL.",
                            fix="Make sure the upstream nodes ran and produced a frame.")
        visible = {name: self._view(name) for name in self.view_names()
                   if name not in tables and name in query}
        visible.update({name: _lazy(frame) for name, frame in tables.items()})
        return run_sql(query, visible)

    def _view(self, name: str) -> pl.LazyFrame:
        return self._views.execute(f"SELECT * FROM {quote_identifier(name)}", eager=False)


def _constant_types() -> dict[type, Any]:
    import polars as pl

    return {bool: pl.Boolean, int: pl.Int64, float: pl.Float64, str: pl.String}


def _is_polars_frame(value: Any) -> bool:
    import polars as pl

    return isinstance(value, (pl.DataFrame, pl.LazyFrame))


def _lazy(frame: Any) -> pl.LazyFrame:
    """``frame`` as a LazyFrame (a ``pl.DataFrame`` from a user function is accepted)."""
    import polars as pl

    if isinstance(frame, pl.LazyFrame):
        return frame
    if isinstance(frame, pl.DataFrame):
        return frame.lazy()
    raise DataError(f"The polars engine expects a polars LazyFrame, got {type(frame).__name__}.",
                    fix="Return a polars LazyFrame (or DataFrame) from the transform function.")


def _literal(value: Any, dtype: Any) -> Any:
    """``value`` as a polars literal comparable with a column of ``dtype`` (datetimes made
    aware or naive, in UTC, to match the column)."""
    import polars as pl

    if isinstance(value, dt.datetime) and isinstance(dtype, pl.Datetime):
        if dtype.time_zone and value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        elif not dtype.time_zone and value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    literal = pl.lit(value)
    # Numbers compare across widths as they are.
    return literal if isinstance(value, (int, float)) else literal.cast(dtype)
