"""The Spark engine: pyspark DataFrames, Spark SQL over temporary views, delta-spark for Delta.

Lazy like Spark itself: reads, SQL steps, built-ins and row flags only build plans; counting,
sampling, ``to_rows`` and writes run Spark jobs. The number of jobs per node is kept small: every
row-level validation test is one column of ONE projection (:meth:`SparkEngine.add_row_flags`),
:meth:`SparkEngine.summarize_flags` is one aggregation for every flag plus one job for all the
samples, and file writes count their rows while writing. A node's output is computed once:
:meth:`SparkEngine.collect` persists it (memory, then disk) for validation, the quarantine, the
write, the row counts and the downstream nodes, and a csv read keeps what its validation job
parsed. Every read gets a plan of its own, so cached data of an earlier read never answers for
files that changed since.

Results match the pandas engine (the conformance suite runs on both):

- logical types: ``LongType`` is ``int64``, ``TimestampType`` a UTC ``timestamp``,
  ``TimestampNTZType`` a ``timestamp_ntz``, ... (``spark_types``); csv and json reads are typed
  as the shared pyarrow reader types them (``spark_files``);
- row order: Spark sorts are not stable and window functions reorder rows, so operations whose
  order matters number the rows first (``monotonically_increasing_id``) and use that number as
  the last sort key: sorts keep ties in input order, deduplicate keeps the first row of each key,
  and row flags computed with window functions come back in the frame's order. The numbering
  follows the frame's partitions, so it is the frame's order as long as the frame's own plan is
  deterministic (as every plan odibi builds is);
- errors: a missing column or table is a :class:`DataError` naming it with a did-you-mean;
  other Spark errors become a :class:`DataError` with the Spark message (without the JVM stack),
  or a :class:`TransientError` for lost executors, refused connections and Delta commit
  conflicts.

The session: :func:`odibi_core.engines.spark_session.spark_session` (ANSI SQL with
double-quoted identifiers, ``TIMESTAMP`` = ``timestamp_ntz``, UTC session time zone, Delta).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
from collections import deque
from collections.abc import Callable, Collection, Mapping, Sequence
from functools import reduce
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from odibi_core.dead_letters.model import (
    DeadLetter,
    DeadLetterBatch,
)
from odibi_core.engines.arrow_rows import arrow_table_from_rows
from odibi_core.engines.base import Engine, FlagSummary, RowPredicate
from odibi_core.engines.file_tables import read_records_with_dead_letters
from odibi_core.engines.json_safe import json_safe_row
from odibi_core.engines.request_checks import format_not_available, require_append_for_batch_replace
from odibi_core.engines.spark_change_feed import read_change_feed
from odibi_core.engines.spark_delta import (
    delta_schema,
    read_delta,
    replace_delta_batch,
    write_delta,
)
from odibi_core.engines.spark_files import (
    helper_options,
    read_csv,
    read_json,
    read_parquet,
    replace_batch_file,
    validate_options,
    write_files,
    write_single_file,
)
from odibi_core.engines.spark_session import spark_session
from odibi_core.engines.spark_sql import (
    VIEW_LOCK,
    analysis_error,
    error_text,
    foreign_error,
    is_temp_view,
    quote,
    run_sql,
    spark_sql_text,
)
from odibi_core.engines.spark_streaming import read_stream, run_available_now
from odibi_core.engines.spark_types import (
    fresh_plan,
    frame_from_arrow,
    logical_type_of_spark,
    quoted,
    rows_of,
    spark_type_of,
)
from odibi_core.errors import ConfigError, ConfigProblem, DataError, OdibiError
from odibi_core.profiling.compute import SPARK, SqlProfileDialect, profile_passes
from odibi_core.results import ColumnSchema, WriteResult
from odibi_core.storage.requests import ReadRequest, WriteRequest
from odibi_core.transforms.builtins.frame_checks import missing_column_error

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession
    from pyspark.sql.types import DataType

__all__ = ["SparkEngine"]

T = TypeVar("T")

_FILE_FORMATS = ("csv", "parquet", "json")
_POSITION = "__odibi_position__"
_KEY = "__odibi_key__"
_TAG = "__odibi_flag__"
_WINDOW = re.compile(r"(?i)\bover\s*\(")


class SparkEngine(Engine):
    """pyspark + Spark SQL + delta-spark.

    Args:
        session: the SparkSession to run on; by default :func:`spark_session` builds (or
            joins) one.
        kept_frames: how many node outputs (and csv reads) the engine keeps persisted at once
            (see :meth:`collect`); 0 persists nothing but what ``cache: true`` asks for.

    Example:
        >>> from odibi_core.engines import get_engine        # doctest: +SKIP
        >>> engine = get_engine("spark")                      # doctest: +SKIP
        >>> engine.count(engine.sql("SELECT 1 AS x", {}))      # doctest: +SKIP
        1
    """

    name = "spark"
    is_lazy = True

    def __init__(self, session: SparkSession | None = None, *, kept_frames: int = 8) -> None:
        if session is None:
            session = spark_session()
        self.session = session
        self._views: set[str] = set()
        self._kept: deque[DataFrame] = deque()
        self._kept_frames = max(kept_frames, 0)

    # ---- frames ----------------------------------------------------------------------------
    def count(self, frame: DataFrame) -> int:
        return self._run(lambda: frame.count(), "counting rows")

    def columns(self, frame: DataFrame) -> list[str]:
        return list(frame.columns)

    def schema(self, frame: DataFrame) -> tuple[ColumnSchema, ...]:
        return tuple(ColumnSchema(f.name, logical_type_of_spark(f.dataType), f.nullable)
                     for f in frame.schema)

    def sample(self, frame: DataFrame, n: int) -> list[dict[str, Any]]:
        if n <= 0:
            return []
        return self._run(lambda: rows_of(frame.limit(n)), "collecting sample rows")

    def to_rows(self, frame: DataFrame) -> list[dict[str, Any]]:
        return self._run(lambda: rows_of(frame), "collecting rows")

    def from_rows(self, rows: Sequence[Mapping[str, Any]],
                  schema: Mapping[str, str] | None = None) -> DataFrame:
        return frame_from_arrow(self.session, arrow_table_from_rows(rows, schema))

    def from_arrow(self, table: Any) -> DataFrame:
        return frame_from_arrow(self.session, table)

    def collect(self, frame: DataFrame) -> DataFrame:
        """``frame`` persisted (memory, then disk): a node's output feeds validation, the
        quarantine, the write, the row counts and downstream nodes, and each would otherwise
        compute the whole plan again. The next job fills the cache. The engine keeps the last
        ``kept_frames`` (default 8) persisted and unpersists older ones, which only means they
        are computed again if used again."""
        return self._keep(frame)

    def cache(self, frame: DataFrame) -> DataFrame:
        """``frame.cache()``: computed once by the next job, then kept for the others (never
        unpersisted by the engine)."""
        for index, kept in enumerate(self._kept):
            if kept is frame:
                del self._kept[index]
                return frame
        return frame.cache()

    # ---- row predicates and data quality ---------------------------------------------------
    def add_row_flags(self, frame: DataFrame, predicates: Sequence[RowPredicate]) -> DataFrame:
        """One projection adds every flag. Window predicates (``count(*) OVER (...)``) move rows
        between partitions: the frame is then numbered first, sorted back afterwards and the
        result persisted (see :meth:`collect`)."""
        from pyspark.sql import functions as F

        if not predicates:
            return frame
        clash = sorted({p.flag for p in predicates} & set(frame.columns))
        if clash:
            raise DataError(f"The frame already has column(s) {', '.join(clash)}.",
                            fix="Rename those columns; odibi uses them for its own flags.")
        columns = {"df": list(frame.columns)}

        def build() -> DataFrame:
            flags = [self._expression(p.sql).alias(p.flag) for p in predicates]
            if not any(_WINDOW.search(p.sql) for p in predicates):
                return frame.select("*", *flags)
            numbered = frame.withColumn(_POSITION, F.monotonically_increasing_id())
            # Two shuffles (the window's and the sort back into order): kept persisted, as the
            # summaries, the counts and the split all read the flags.
            return self._keep(numbered.select("*", *flags).orderBy(_POSITION).drop(_POSITION))

        return self._analyzed(build, columns, fix="Check the columns, values and SQL of the "
                                                  "tests.")

    def summarize_flags(self, frame: DataFrame, flags: Mapping[str, Sequence[str]], *,
                        sample_size: int) -> FlagSummary:
        """One aggregation counts the rows and the failures of every flag; one more job takes
        the first ``sample_size`` failing rows of every flag that failed."""
        from pyspark.sql import Window
        from pyspark.sql import functions as F

        names = list(flags)
        counts = self._run(lambda: frame.agg(
            F.count(F.lit(1)), *[_count_if(~F.col(quoted(f))) for f in names]).collect()[0],
            "counting failing rows")
        rows, failing = int(counts[0]), {f: int(counts[i + 1]) for i, f in enumerate(names)}
        samples: dict[str, list[dict[str, Any]]] = {f: [] for f in names}
        wanted = [f for f in names if failing[f] and sample_size > 0]
        if not wanted:
            return FlagSummary(rows=rows, failing=failing, samples=samples)
        others = [c for c in frame.columns if c not in flags]
        shown = {f: list(flags[f]) or others for f in wanted}
        needed = [c for c in frame.columns if any(c in cols for cols in shown.values())]
        numbered = frame.withColumn(_POSITION, F.monotonically_increasing_id())
        tags = F.array(*[F.when(~F.col(quoted(f)), F.lit(f)) for f in wanted])
        failing_rows = numbered.where(reduce(lambda a, b: a | b,
                                             [~F.col(quoted(f)) for f in wanted]))
        tagged = failing_rows.select(F.explode(tags).alias(_TAG), _POSITION,
                                     *[quoted(c) for c in needed]).where(F.col(_TAG).isNotNull())
        ranked = tagged.withColumn(
            "__odibi_rank__", F.row_number().over(Window.partitionBy(_TAG).orderBy(_POSITION)))
        picked = ranked.where(F.col("__odibi_rank__") <= sample_size)
        table = self._run(lambda: picked.toArrow().to_pylist(), "collecting failing rows")
        for row in sorted(table, key=lambda r: (r[_TAG], r[_POSITION])):
            samples[row[_TAG]].append(json_safe_row({c: row[c] for c in shown[row[_TAG]]}))
        return FlagSummary(rows=rows, failing=failing, samples=samples)

    def count_rows(self, frame: DataFrame, *, all_true: Sequence[str] = (),
                   any_false: Sequence[str] = ()) -> int:
        return self.count(self.filter_rows(frame, all_true=all_true, any_false=any_false))

    def filter_rows(self, frame: DataFrame, *, all_true: Sequence[str] = (),
                    any_false: Sequence[str] = ()) -> DataFrame:
        condition = _flag_condition(all_true, any_false)
        return frame if condition is None else frame.where(condition)

    def add_columns(self, frame: DataFrame, expressions: Mapping[str, str]) -> DataFrame:
        if not expressions:
            return frame
        return self._analyzed(
            lambda: frame.withColumns({name: self._expression(sql)
                                       for name, sql in expressions.items()}),
            {"df": list(frame.columns)}, fix="Check the SQL expressions and their columns.")

    def with_constants(self, frame: DataFrame, values: Mapping[str, Any]) -> DataFrame:
        return frame.withColumns({name: _constant(value) for name, value in values.items()})

    def drop_columns(self, frame: DataFrame, names: Sequence[str]) -> DataFrame:
        present = [n for n in names if n in frame.columns]
        return frame.drop(*present) if present else frame

    def head(self, frame: DataFrame, n: int) -> DataFrame:
        return frame.limit(max(n, 0))

    def sample_fraction(self, frame: DataFrame, fraction: float, *, seed: int) -> DataFrame:
        """Exactly ``round(fraction * rows)`` rows (as pandas' ``sample(frac=...)``), chosen by
        a hash of each row's position and ``seed``; kept in frame order."""
        from pyspark.sql import functions as F

        if fraction >= 1:
            return frame
        size = round(fraction * self.count(frame))
        numbered = frame.withColumn(_POSITION, F.monotonically_increasing_id())
        keyed = numbered.withColumn(_KEY, F.xxhash64(F.col(_POSITION), F.lit(int(seed))))
        picked = keyed.orderBy(_KEY, _POSITION).limit(size)
        return picked.orderBy(_POSITION).drop(_POSITION, _KEY)

    def aggregate(self, frame: DataFrame, expressions: Mapping[str, str]) -> dict[str, Any]:
        if not expressions:
            return {}
        result = self._analyzed(
            lambda: frame.agg(*[self._expression(sql).alias(name)
                                for name, sql in expressions.items()]),
            {"df": list(frame.columns)}, fix="Check the aggregate expressions.")
        return self._run(lambda: result.toArrow().to_pylist()[0], "computing aggregates")

    def profile(self, frame: DataFrame, columns: Sequence[ColumnSchema], *,
                include: Collection[str], exact_limit: int, bins: int) -> dict[str, Any]:
        """Each pass is one ``agg`` of Spark SQL expressions (see :meth:`aggregate`)."""
        dialect = SqlProfileDialect(lambda expressions: self.aggregate(frame, expressions), SPARK)
        return profile_passes(dialect, columns, include=include, exact_limit=exact_limit,
                              bins=bins)

    def fingerprint(self, frame: DataFrame) -> str:
        """sha256 of the schema, the row count and the sum and xor of the rows' xxhash64."""
        from pyspark.sql import functions as F
        from pyspark.sql import types as T

        schema = ";".join(f"{c.name}:{c.type}" for c in self.schema(frame))
        if frame.columns:
            values = [F.to_json(F.col(quoted(f.name)))
                      if isinstance(f.dataType, (T.MapType, T.StructType, T.ArrayType))
                      else F.col(quoted(f.name)) for f in frame.schema]
            hashed = F.xxhash64(*values)
            row = self._run(lambda: frame.agg(
                F.count(F.lit(1)),
                F.sum(hashed.cast(T.DecimalType(38, 0))).cast("string"),
                F.bit_xor(hashed).cast("string")).collect()[0], "fingerprinting the frame")
            facts = (row[0], row[1], row[2])
        else:
            facts = (self.count(frame), None, None)
        text = f"{schema}|{facts[0]}|{facts[1]}|{facts[2]}"
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def rows_after(self, frame: DataFrame, column: str, value: Any) -> DataFrame:
        from pyspark.sql import functions as F

        kind = _column_type(frame, column)
        return frame.where(F.col(quoted(column)) > _bound(value, kind))

    def rows_between(self, frame: DataFrame, column: str, start: Any, end: Any) -> DataFrame:
        from pyspark.sql import functions as F

        kind = _column_type(frame, column)
        value = F.col(quoted(column))
        return frame.where((value >= _bound(start, kind)) & (value < _bound(end, kind)))

    # ---- schema policy, privacy, views -----------------------------------------------------
    def read_schema(self, request: ReadRequest) -> tuple[ColumnSchema, ...] | None:
        """Delta: the log's schema; parquet: the footers'; csv/json: a read (lazy but for the
        validation job)."""
        location = request.location
        if location.is_local and not os.path.exists(location.uri) and not any(
                ch in location.uri for ch in "*?["):
            return None
        if request.format == "delta":
            schema = self._guard("read", request.node, location,
                                 lambda: delta_schema(self.session, location))
            if schema is None:
                return None
            return tuple(ColumnSchema(f.name, logical_type_of_spark(f.dataType), True)
                         for f in schema)
        return super().read_schema(request)

    def conform(self, frame: DataFrame, columns: Sequence[ColumnSchema]) -> DataFrame:
        """Casts checked in one job before the frame is returned: a value that does not convert
        (or would lose digits) is a :class:`DataError` naming the column and the value."""
        from pyspark.sql import functions as F
        from pyspark.sql import types as T

        kinds = {f.name: f.dataType for f in frame.schema}
        select: list[Column] = []
        checks: dict[str, Column] = {}
        for column in columns:
            target = _spark_type(column)
            if column.name not in kinds:
                nulls = F.lit(None) if target is None else F.lit(None).cast(target)
                select.append(nulls.alias(column.name))
                continue
            source = F.col(quoted(column.name))
            if logical_type_of_spark(kinds[column.name]) == column.type or target is None:
                select.append(source)
                continue
            if not isinstance(target, T.StringType):  # everything has a text
                checks[column.name] = _lossy(source, kinds[column.name], target)
            select.append(source.try_cast(target).alias(column.name))
        if checks:
            bad = self._run(lambda: frame.agg(*[_count_if(c) for c in checks.values()])
                            .collect()[0], "checking the casts")
            for (name, test), count in zip(checks.items(), bad):
                if count:
                    value = self._run(lambda: frame.where(test).select(
                        F.col(quoted(name)).cast("string")).limit(1).collect()[0][0],
                        "finding a value that does not convert")
                    wanted = next(c.type for c in columns if c.name == name)
                    raise DataError(
                        f"Column '{name}' cannot be converted to {wanted}: the value "
                        f"{value!r} does not fit ({count} value(s) in all).",
                        fix=f"Cast '{name}' to {wanted} in the transform, or let the schema "
                            "evolve.")
        return frame.select(*select)

    def anonymize(self, frame: DataFrame, columns: Sequence[str],
                  method: Literal["hash", "mask", "redact"], salt: str | None = None
                  ) -> DataFrame:
        """``sha2(concat(salt, text), 256)`` / masks / ``[REDACTED]`` in one projection; the
        canonical text is Spark's string cast (integers in decimal, ``true``/``false``,
        ``YYYY-MM-DD``)."""
        from pyspark.sql import functions as F
        from pyspark.sql import types as T

        def protected(name: str) -> Column:
            text = F.col(quoted(name)).cast(T.StringType())
            if method == "hash":
                return F.sha2(F.concat(F.lit(salt or ""), text), 256)
            if method == "mask":
                length = F.length(text)
                return F.when(text.isNull(), F.lit(None).cast(T.StringType())) \
                    .when(length <= 4, F.expr(f"repeat('*', length(CAST({quoted(name)} AS "
                                              "STRING)))")) \
                    .otherwise(F.concat(F.expr(f"repeat('*', length(CAST({quoted(name)} AS "
                                               "STRING)) - 4)"), F.expr(
                        f"right(CAST({quoted(name)} AS STRING), 4)")))
            return F.when(text.isNull(), F.lit(None).cast(T.StringType())) \
                .otherwise(F.lit("[REDACTED]"))

        return frame.withColumns({name: protected(name) for name in columns})

    def create_view(self, name: str, frame: DataFrame) -> DataFrame:
        """A Spark temporary view: later :meth:`sql` calls (and ``spark.table``) read it."""
        with VIEW_LOCK:
            frame.createOrReplaceTempView(name)
        self._views.add(name)
        return self.session.table(quote(name))

    def view_names(self) -> list[str]:
        """The temporary views :meth:`create_view` registered that the session still has."""
        return sorted(n for n in self._views if is_temp_view(self.session, n))

    # ---- intermediate storage --------------------------------------------------------------
    def write_intermediate(self, frame: DataFrame, path: str) -> None:
        self._run(lambda: write_single_file(frame, path, "parquet", {}),
                  f"writing {path}")

    def read_intermediate(self, path: str) -> DataFrame:
        return fresh_plan(self.session.read.parquet(path))

    # ---- subclass hooks --------------------------------------------------------------------
    def _read(self, request: ReadRequest) -> DataFrame:
        fmt = request.format
        travels = request.as_of_version is not None or request.as_of_timestamp is not None
        if travels and fmt != "delta":
            raise ConfigError(ConfigProblem(
                message=f"time_travel needs a Delta table; this read is {fmt}.",
                key_path="read.time_travel", fix="Remove time_travel, or read `format: delta`."))
        if fmt == "delta" and request.change_feed is not None:
            read: Callable[[], DataFrame] = lambda: read_change_feed(  # noqa: E731
                self.session, request)
        elif fmt == "delta":
            read = lambda: read_delta(self.session, request)  # noqa: E731
        elif fmt == "csv":
            read = lambda: read_csv(self.session, request, keep=self._keep,  # noqa: E731
                                    release=self._release)
        elif fmt == "json":
            read = lambda: read_json(self.session, request)  # noqa: E731
        elif fmt == "parquet":
            read = lambda: read_parquet(self.session, request)  # noqa: E731
        else:
            raise format_not_available(fmt, "read", "spark")
        frame = self._run(read, f"reading {request.location.display}",
                          fix="Check the format and options of the read block.",
                          location=request.location)
        return frame if fmt == "csv" else fresh_plan(frame)  # csv: done before its cache

    # ---- Structured Streaming (see spark_streaming) ----------------------------------------
    def read_stream(self, request: ReadRequest, *, schema_ddl: str | None,
                    watermark_column: str | None = None,
                    watermark_delay: dt.timedelta | None = None) -> DataFrame:
        """The streaming frame of ``request`` (files arriving under its path, or a Delta
        table's commits)."""
        return self._run(lambda: read_stream(
            self.session, request, schema_ddl=schema_ddl, watermark_column=watermark_column,
            watermark_delay=watermark_delay), f"opening a stream of {request.location.display}",
            fix="Check the streaming read's format, path, options and schema_ddl.",
            location=request.location)

    def run_stream(self, frame: DataFrame, handle: Callable[[DataFrame, int], None], *,
                   output_mode: str, checkpoint: str, name: str) -> list[dict[str, Any]]:
        """Run the query of ``frame`` once (``availableNow``), each micro-batch through
        ``handle``; its progress reports."""
        return self._run(lambda: run_available_now(
            frame, handle, output_mode=output_mode, checkpoint=checkpoint, name=name),
            "running the streaming query",
            fix="Streaming queries support only some operations (e.g. aggregations need a "
                "watermark in append mode, no sort without aggregation); see the Spark "
                "Structured Streaming guide.")

    def _write(self, frame: DataFrame, request: WriteRequest) -> WriteResult:
        fmt, location = request.format, request.location
        shown = location.redact(location.uri)
        doing = f"writing {location.display}"
        if request.replace_where is not None:
            _check_replace_where(request)
        if request.replace_batch is not None:
            require_append_for_batch_replace(request)
            if fmt == "delta":
                done = self._run(lambda: replace_delta_batch(self.session, frame, request),
                                 doing, location=location)
                return WriteResult(connection=location.connection, format=fmt,
                                   mode=request.mode, location=shown, rows_written=done.rows,
                                   delta_version=done.version, files_written=done.files)
            if fmt not in _FILE_FORMATS:
                raise format_not_available(fmt, "write", "spark")
            rows = self._run(lambda: replace_batch_file(frame, request), doing,
                             location=location)
            return WriteResult(connection=location.connection, format=fmt, mode=request.mode,
                               location=shown, rows_written=rows, files_written=1)
        if fmt == "delta":
            done = self._run(lambda: write_delta(self.session, frame, request), doing,
                             location=location)
            return WriteResult(connection=location.connection, format=fmt, mode=request.mode,
                               location=shown, rows_written=done.rows,
                               delta_version=done.version, files_written=done.files)
        if fmt not in _FILE_FORMATS:
            raise format_not_available(fmt, "write", "spark")
        written = self._run(lambda: write_files(frame, request), doing, location=location)
        return WriteResult(connection=location.connection, format=fmt, mode=request.mode,
                           location=shown, rows_written=written.rows,
                           files_written=written.files)

    def _sql(self, query: str, tables: Mapping[str, DataFrame]) -> DataFrame:
        empty = sorted(name for name, frame in tables.items() if frame is None)
        if empty:
            raise DataError(f"Table(s) {', '.join(empty)} have no data (None) for this SQL.",
                            fix="Make sure the upstream nodes ran and produced a frame.")
        return run_sql(self.session, query, tables)

    def _read_with_dead_letters(self, request: ReadRequest, *,
                                batch_id: str | None) -> tuple[DataFrame, DeadLetterBatch]:
        """Records are parsed by the shared pyarrow-based reader (as on pandas), then handed
        to Spark with ``createDataFrame``: dead-letter reads are for malformed, small inputs."""
        location = request.location
        if not location.is_local:
            raise ConfigError(ConfigProblem(
                message="read.dead_letter reads local files on the spark engine; "
                        f"{location.display} is remote.",
                key_path="read.dead_letter",
                fix="Remove read.dead_letter, or land the files locally first."))
        table, batch = read_records_with_dead_letters(
            request, batch_id=batch_id, options=helper_options(request.format, request.options))
        return frame_from_arrow(self.session, table), batch

    def reparse_dead_letters(self, letters: Sequence[DeadLetter], *, format: str,
                             options: Mapping[str, Any]) -> tuple[DataFrame, dict[int, str]]:
        from odibi_core.engines.pandas_files import reparse_records

        validate_options(format, "read", options)
        table, errors = reparse_records(format, letters, helper_options(format, options))
        return frame_from_arrow(self.session, table), errors

    # ---- helpers ---------------------------------------------------------------------------
    def _keep(self, frame: DataFrame) -> DataFrame:
        """Persist ``frame`` among the engine's kept frames (see :meth:`collect`)."""
        from pyspark import StorageLevel

        if self._kept_frames == 0 or frame.is_cached:
            return frame
        frame = frame.persist(StorageLevel.MEMORY_AND_DISK)
        self._kept.append(frame)
        while len(self._kept) > self._kept_frames:
            self._kept.popleft().unpersist(blocking=False)
        return frame

    def _release(self, frame: DataFrame) -> None:
        for index, kept in enumerate(self._kept):
            if kept is frame:
                del self._kept[index]
                frame.unpersist(blocking=False)
                return

    def _expression(self, sql: str) -> Column:
        from pyspark.sql import functions as F

        return F.expr(spark_sql_text(sql))

    def _analyzed(self, build: Callable[[], T], columns: Mapping[str, list[str]], *,
                  fix: str) -> T:
        """``build()`` (which parses and analyzes Spark expressions), with Spark's errors as
        :class:`DataError`."""
        try:
            return build()
        except OdibiError:
            raise
        except Exception as exc:  # noqa: BLE001 - Spark's parse and analysis errors
            translated = analysis_error(exc, columns)
            if translated is not None:
                raise translated from exc
            raise DataError(error_text(exc), fix=fix) from exc

    def _run(self, call: Callable[[], T], doing: str, *,
             fix: str = "Check the data and the steps that produced the frame.",
             location: Any = None) -> T:
        """``call()``, with foreign Spark errors translated (see the module docstring)."""
        try:
            return call()
        except (OdibiError, FileNotFoundError):
            raise
        except Exception as exc:  # noqa: BLE001 - translated, never swallowed
            error = foreign_error(exc, doing, fix)
            if location is not None:
                error = type(error)(location.redact(error.message), fix=error.fix)
            raise error from exc


# ---- module helpers --------------------------------------------------------------------------
def _count_if(condition: Column) -> Column:
    from pyspark.sql import functions as F

    return F.count(F.when(condition, F.lit(1)))


def _flag_condition(all_true: Sequence[str], any_false: Sequence[str]) -> Column | None:
    from pyspark.sql import functions as F

    parts = [F.col(quoted(f)) for f in all_true]
    if any_false:
        parts.append(reduce(lambda a, b: a | b, [~F.col(quoted(f)) for f in any_false]))
    return reduce(lambda a, b: a & b, parts) if parts else None


def _constant(value: Any) -> Column:
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            return F.lit(value.isoformat()).cast(T.TimestampNTZType())
        return F.lit(value.astimezone(dt.timezone.utc).isoformat()).cast(T.TimestampType())
    if isinstance(value, dt.date):
        return F.lit(value.isoformat()).cast(T.DateType())
    if isinstance(value, bool):
        return F.lit(value).cast(T.BooleanType())
    if isinstance(value, int):
        return F.lit(value).cast(T.LongType())
    if isinstance(value, float):
        return F.lit(value).cast(T.DoubleType())
    if value is None:
        return F.lit(None)
    return F.lit(str(value)).cast(T.StringType())


def _bound(value: Any, kind: DataType) -> Column:
    """``value`` as a literal comparable with a column of type ``kind``."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    if isinstance(value, dt.datetime):
        if isinstance(kind, T.TimestampNTZType):
            moment = value.astimezone(dt.timezone.utc).replace(tzinfo=None) \
                if value.tzinfo else value
            return F.lit(moment.isoformat()).cast(T.TimestampNTZType())
        if isinstance(kind, T.DateType):
            return F.lit(value.date().isoformat()).cast(T.DateType())
        moment = value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
        return F.lit(moment.astimezone(dt.timezone.utc).isoformat()).cast(T.TimestampType())
    if isinstance(value, dt.date):
        if isinstance(kind, (T.TimestampType, T.TimestampNTZType)):
            return F.lit(value.isoformat()).cast(kind)
        return F.lit(value.isoformat()).cast(T.DateType())
    if isinstance(value, str) and not isinstance(kind, T.StringType):
        return F.lit(value).cast(kind)
    return F.lit(value)


def _column_type(frame: DataFrame, column: str) -> DataType:
    """The Spark type of ``column``; a missing column is a :class:`DataError` with a
    did-you-mean."""
    kinds = {f.name: f.dataType for f in frame.schema}
    if column not in kinds:
        raise missing_column_error(column, list(frame.columns))
    return kinds[column]


def _check_replace_where(request: WriteRequest) -> None:
    """``replace_where`` replaces the matching rows of a Delta table: only an overwrite of one."""
    if request.format != "delta":
        raise ConfigError(ConfigProblem(
            message=f"replace_where replaces the matching rows of a Delta table; this write is "
                    f"{request.format}.",
            key_path="write",
            fix="Write `format: delta`, or remove the partitions block (folders of "
                f"{request.format} files replace a partition as a batch)."))
    if request.mode != "overwrite":
        raise ConfigError(ConfigProblem(
            message=f"replace_where replaces rows, which needs mode overwrite; this write is "
                    f"{request.mode}.",
            key_path="write.mode",
            fix="Write with mode: overwrite (or remove the partitions block)."))


def _spark_type(column: ColumnSchema) -> DataType | None:
    try:
        return spark_type_of(column.type)
    except (ValueError, KeyError):
        return None  # a nested type: kept as the frame has it


def _lossy(value: Column, source: DataType, target: DataType) -> Column:
    """True for a non-null value that does not convert to ``target`` (or loses digits)."""
    from pyspark.sql import types as T

    converted = value.try_cast(target)
    bad = value.isNotNull() & converted.isNull()
    if isinstance(source, T.NumericType) and isinstance(target, T.NumericType):
        return bad | (value.isNotNull() & (converted.cast(source) != value))
    return bad
