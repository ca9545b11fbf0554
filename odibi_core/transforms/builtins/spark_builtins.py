"""The Spark implementations of the built-in transforms (same names and params models as pandas).

Each built-in is a few PySpark Column operations; SQL-expression params (``derive_columns``,
``filter_rows``, ``case_when``, ``aggregate``) go through ``F.expr`` with the session's ANSI
dialect. Results match pandas, ordering included: Spark sorts are not stable, so ``sort``,
``deduplicate`` and ``distinct`` number the rows first (``monotonically_increasing_id``) and use
that number as the last sort key (ties keep their input order, the first row of each key is
kept, outputs come in input order).

pyspark is imported inside the functions: registering these does not load it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from functools import reduce
from typing import TYPE_CHECKING, Any, TypeVar

from odibi_core.errors import DataError, OdibiError
from odibi_core.transforms.builtins.aggregates import AggregateParams
from odibi_core.transforms.builtins.base import BuiltinTransform, as_expression
from odibi_core.transforms.builtins.columns import (
    CaseWhenParams,
    CastColumnsParams,
    CleanTextParams,
    DeriveColumnsParams,
    DropColumnsParams,
    FillNullsParams,
    RenameColumnsParams,
    SelectColumnsParams,
)
from odibi_core.transforms.builtins.frame_checks import require_columns, require_table
from odibi_core.transforms.builtins.joins import JoinParams, UnionParams, right_column_names
from odibi_core.transforms.builtins.rows import (
    DeduplicateParams,
    DistinctParams,
    FilterRowsParams,
    SortParams,
)
from odibi_core.transforms.builtins.sql_text import OrderKey, parse_order_by

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame
    from pyspark.sql.types import DataType

__all__ = ["implementations"]

T = TypeVar("T")

_POSITION = "__odibi_position__"
_RANK = "__odibi_rank__"
_SPARK_HOW = {"inner": "inner", "left": "left", "right": "right", "full": "full"}


# ---- helpers -----------------------------------------------------------------------------------
def _q(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _col(name: str, table: str | None = None) -> Column:
    from pyspark.sql import functions as F

    return F.col(f"{table}.{_q(name)}" if table else _q(name))


def _expr(sql: str) -> Column:
    from pyspark.sql import functions as F

    from odibi_core.engines.spark_sql import spark_sql_text

    return F.expr(spark_sql_text(sql))


def _analyzed(call: Callable[[], T], columns: Mapping[str, list[str]]) -> T:
    """``call()`` (which parses and analyzes Spark expressions), Spark's errors as DataError."""
    from odibi_core.engines.spark_sql import analysis_error, error_text

    try:
        return call()
    except OdibiError:
        raise
    except Exception as exc:  # noqa: BLE001 - Spark's parse and analysis errors
        translated = analysis_error(exc, columns)
        if translated is not None:
            raise translated from exc
        raise DataError(error_text(exc),
                        fix="Check the SQL expression: it is Spark SQL over the frame's "
                            "columns.") from exc


def _numbered(frame: DataFrame) -> DataFrame:
    from pyspark.sql import functions as F

    return frame.withColumn(_POSITION, F.monotonically_increasing_id())


def _ordering(keys: Sequence[OrderKey]) -> list[Column]:
    order = []
    for key in keys:
        column = _col(key.column)
        if key.descending:
            order.append(column.desc_nulls_first() if key.nulls_first
                         else column.desc_nulls_last())
        else:
            order.append(column.asc_nulls_first() if key.nulls_first
                         else column.asc_nulls_last())
    return order


def _types(frame: DataFrame) -> dict[str, str]:
    from odibi_core.engines.spark_types import logical_type_of_spark

    return {f.name: logical_type_of_spark(f.dataType) for f in frame.schema}


# ---- columns -----------------------------------------------------------------------------------
def derive_columns_spark(engine: Any, frame: DataFrame, params: DeriveColumnsParams,
                         tables: Mapping[str, Any]) -> DataFrame:
    result = frame
    for name, expression in params.columns.items():
        current = result
        result = _analyzed(
            lambda: current.withColumn(name, _expr(as_expression(expression))),
            {"df": list(current.columns)})
    return result


def cast_columns_spark(engine: Any, frame: DataFrame, params: CastColumnsParams,
                       tables: Mapping[str, Any]) -> DataFrame:
    from pyspark.sql import functions as F

    from odibi_core.engines.spark_types import spark_type_of

    columns = require_columns(engine, frame, params.columns)
    kinds = {f.name: f.dataType for f in frame.schema}
    targets = {c: spark_type_of(kind) for c, kind in params.columns.items()}
    probes = {c: target for c, target in targets.items() if _may_fail(kinds[c], target)}
    if probes:
        checks = []
        for column, target in probes.items():
            value = _col(column)
            bad = value.isNotNull() & value.try_cast(target).isNull()
            checks.append(F.first(F.when(bad, value.cast("string")), ignorenulls=True))
        found = engine._run(lambda: frame.agg(*checks).collect()[0], "checking the casts")
        for column, value in zip(probes, found):
            if value is not None:
                raise DataError(
                    f"Column '{column}' has a value that is not {params.columns[column]}: "
                    f"{value!r}.",
                    fix="Clean or filter the values first (filter_rows, derive_columns), or "
                        "cast to another type.")
    return frame.select(*[_col(c).try_cast(targets[c]).alias(c) if c in targets else _col(c)
                          for c in columns])


def _may_fail(source: DataType, target: DataType) -> bool:
    """Whether casting ``source`` values to ``target`` can fail (so the values are checked)."""
    from pyspark.sql import types as T

    if source == target or isinstance(target, T.StringType) or isinstance(source, T.NullType):
        return False
    integral = (T.ByteType, T.ShortType, T.IntegerType, T.LongType)
    width = {T.ByteType: 1, T.ShortType: 2, T.IntegerType: 3, T.LongType: 4}
    if isinstance(source, integral) and isinstance(target, integral):
        return width[type(source)] > width[type(target)]
    if isinstance(source, integral + (T.FloatType,)) and isinstance(target, T.DoubleType):
        return False
    if isinstance(source, T.DateType) and isinstance(target, (T.TimestampType,
                                                              T.TimestampNTZType)):
        return False
    return True


def clean_text_spark(engine: Any, frame: DataFrame, params: CleanTextParams,
                     tables: Mapping[str, Any]) -> DataFrame:
    from pyspark.sql import functions as F

    require_columns(engine, frame, params.columns)
    types = _types(frame)
    for column in params.columns:
        if types[column] not in ("string", "null"):
            raise DataError(f"clean_text works on string columns; '{column}' is {types[column]}.",
                            fix="Remove it from `columns`, or cast it to string first.")

    def cleaned(column: str) -> Column:
        value = _col(column)
        if params.collapse_whitespace:
            value = F.regexp_replace(value, r"\s+", " ")
        if params.trim:
            value = F.regexp_replace(value, r"^\s+|\s+$", "")
        if params.case == "lower":
            value = F.lower(value)
        elif params.case == "upper":
            value = F.upper(value)
        if params.empty_as_null:
            value = F.when(value == F.lit(""), F.lit(None)).otherwise(value)
        return value.cast("string")

    return frame.withColumns({c: cleaned(c) for c in dict.fromkeys(params.columns)})


def fill_nulls_spark(engine: Any, frame: DataFrame, params: FillNullsParams,
                     tables: Mapping[str, Any]) -> DataFrame:
    from pyspark.sql import functions as F

    require_columns(engine, frame, params.values)
    kinds = {f.name: f.dataType for f in frame.schema}
    types = _types(frame)
    fills = {}
    for column, value in params.values.items():
        literal = _fill_literal(value, kinds[column])
        if literal is _MISFIT:
            raise DataError(
                "A fill value does not fit its column's type: "
                + ", ".join(f"{c} ({types[c]}) <- {params.values[c]!r}" for c in params.values)
                + ".",
                fix="Give each column a value of its own type, or cast the column first.")
        fills[column] = F.coalesce(_col(column), literal)
    return frame.withColumns(fills)


_MISFIT = object()


def _fill_literal(value: Any, kind: DataType) -> Any:
    """``value`` as a literal of type ``kind`` (SQL cast rules), or ``_MISFIT``."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    if value is None or isinstance(kind, T.NullType):
        return F.lit(value)
    try:
        if isinstance(kind, T.StringType):
            text = ("true" if value else "false") if isinstance(value, bool) else str(value)
            return F.lit(text)
        if isinstance(kind, T.BooleanType):
            if isinstance(value, bool):
                return F.lit(value)
            words = {"true": True, "t": True, "1": True, "false": False, "f": False, "0": False}
            return F.lit(words[str(value).strip().lower()])
        if isinstance(kind, (T.ByteType, T.ShortType, T.IntegerType, T.LongType)):
            if isinstance(value, bool) or (isinstance(value, float)
                                           and not float(value).is_integer()):
                return _MISFIT
            return F.lit(int(str(value).strip()) if isinstance(value, str)
                         else int(value)).cast(kind)
        if isinstance(kind, (T.FloatType, T.DoubleType)):
            if isinstance(value, bool):
                return _MISFIT
            return F.lit(float(value)).cast(kind)
        if isinstance(kind, T.DecimalType):
            if isinstance(value, bool):
                return _MISFIT
            return F.lit(str(Decimal(str(value)))).cast(kind)
        if isinstance(kind, T.DateType):
            day = value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
            return F.lit(day.isoformat()).cast(kind)
        if isinstance(kind, (T.TimestampType, T.TimestampNTZType)):
            moment = value if isinstance(value, dt.datetime) \
                else dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
            return F.lit(moment.isoformat()).cast(kind)
    except (ValueError, KeyError, TypeError, InvalidOperation):
        return _MISFIT
    return F.lit(value).cast(kind)


def case_when_spark(engine: Any, frame: DataFrame, params: CaseWhenParams,
                    tables: Mapping[str, Any]) -> DataFrame:
    whens = " ".join(f"WHEN ({c.condition}) THEN {as_expression(c.value)}" for c in params.cases)
    sql = f"CASE {whens} ELSE {as_expression(params.default)} END"
    return _analyzed(lambda: frame.withColumn(params.output_col, _expr(sql)),
                     {"df": list(frame.columns)})


def select_columns_spark(engine: Any, frame: DataFrame, params: SelectColumnsParams,
                         tables: Mapping[str, Any]) -> DataFrame:
    require_columns(engine, frame, params.columns)
    repeated = sorted({c for c in params.columns if params.columns.count(c) > 1})
    if repeated:
        raise DataError(f"select_columns names {', '.join(repeated)} more than once.",
                        fix="List each column once.")
    return frame.select(*[_col(c) for c in params.columns])


def drop_columns_spark(engine: Any, frame: DataFrame, params: DropColumnsParams,
                       tables: Mapping[str, Any]) -> DataFrame:
    if not params.ignore_missing:
        require_columns(engine, frame, params.columns)
    present = [c for c in params.columns if c in frame.columns]
    return frame.drop(*present) if present else frame


def rename_columns_spark(engine: Any, frame: DataFrame, params: RenameColumnsParams,
                         tables: Mapping[str, Any]) -> DataFrame:
    columns = require_columns(engine, frame, params.columns)
    renamed = [params.columns.get(c, c) for c in columns]
    clashes = sorted({c for c in renamed if renamed.count(c) > 1})
    if clashes:
        raise DataError(f"rename_columns would leave several columns named "
                        f"{', '.join(clashes)}.",
                        fix="Rename or drop the existing column first.")
    return frame.select(*[_col(c).alias(params.columns.get(c, c)) for c in columns])


# ---- rows --------------------------------------------------------------------------------------
def filter_rows_spark(engine: Any, frame: DataFrame, params: FilterRowsParams,
                      tables: Mapping[str, Any]) -> DataFrame:
    return _analyzed(lambda: frame.where(_expr(params.condition)),
                     {"df": list(frame.columns)})


def sort_spark(engine: Any, frame: DataFrame, params: SortParams,
               tables: Mapping[str, Any]) -> DataFrame:
    from pyspark.sql import functions as F

    keys = params.keys()
    require_columns(engine, frame, [k.column for k in keys])
    return _numbered(frame).orderBy(*_ordering(keys), F.col(_POSITION)).drop(_POSITION)


def deduplicate_spark(engine: Any, frame: DataFrame, params: DeduplicateParams,
                      tables: Mapping[str, Any]) -> DataFrame:
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    order = parse_order_by(params.order_by) if params.order_by else []
    require_columns(engine, frame, [*params.keys, *(k.column for k in order)])
    window = Window.partitionBy(*[_col(k) for k in params.keys]) \
        .orderBy(*_ordering(order), F.col(_POSITION))
    ranked = _numbered(frame).withColumn(_RANK, F.row_number().over(window))
    return ranked.where(F.col(_RANK) == 1).orderBy(_POSITION).drop(_POSITION, _RANK)


def distinct_spark(engine: Any, frame: DataFrame, params: DistinctParams,
                   tables: Mapping[str, Any]) -> DataFrame:
    from pyspark.sql import functions as F

    if params.columns:
        require_columns(engine, frame, params.columns)
        frame = frame.select(*[_col(c) for c in params.columns])
    columns = list(frame.columns)
    firsts = _numbered(frame).groupBy(*[_col(c) for c in columns]) \
        .agg(F.min(_POSITION).alias(_POSITION))
    return firsts.orderBy(_POSITION).select(*[_col(c) for c in columns])


# ---- joins -------------------------------------------------------------------------------------
def join_spark(engine: Any, frame: DataFrame, params: JoinParams,
               tables: Mapping[str, Any]) -> DataFrame:
    from pyspark.sql import functions as F

    right = require_table(tables, params.right)
    pairs = params.pairs()
    left_columns = require_columns(engine, frame, [lk for lk, _ in pairs], role="join key")
    right_columns = require_columns(engine, right, [rk for _, rk in pairs],
                                    role=f"join key of '{params.right}'")
    how = "full" if params.how == "outer" else params.how
    left, other = frame.alias("l"), right.alias("r")
    condition = reduce(lambda a, b: a & b,
                       [_col(lk, "l") == _col(rk, "r") for lk, rk in pairs]) if pairs else None
    if how in ("semi", "anti"):
        return left.join(other, condition, "left_semi" if how == "semi" else "left_anti")
    joined = left.crossJoin(other) if how == "cross" else left.join(other, condition,
                                                                    _SPARK_HOW[how])
    shared = {lk for lk, rk in pairs if lk == rk}
    select = []
    for column in left_columns:
        if column in shared and how == "right":
            select.append(_col(column, "r").alias(column))
        elif column in shared and how == "full":
            select.append(F.coalesce(_col(column, "l"), _col(column, "r")).alias(column))
        else:
            select.append(_col(column, "l").alias(column))
    select += [_col(column, "r").alias(name)
               for column, name in right_column_names(left_columns, right_columns, shared,
                                                      params)]
    return joined.select(*select)


def union_spark(engine: Any, frame: DataFrame, params: UnionParams,
                tables: Mapping[str, Any]) -> DataFrame:
    from pyspark.sql import functions as F

    parts = [frame] + [require_table(tables, name) for name in params.tables]
    if not params.by_name:
        width = len(frame.columns)
        for name, part in zip(params.tables, parts[1:]):
            if len(part.columns) != width:
                raise DataError(
                    f"union by position needs the same number of columns: the frame has "
                    f"{width}, '{name}' has {len(part.columns)}.",
                    fix="Select matching columns first, or set `by_name: true`.")
        parts = [parts[0]] + [p.toDF(*frame.columns) for p in parts[1:]]
    names = list(dict.fromkeys(c for part in parts for c in part.columns))
    common: dict[str, DataType] = {}
    for name in names:
        kinds = [f.dataType for part in parts for f in part.schema if f.name == name]
        widened = reduce(_widen, kinds)
        if widened is None:
            shown = " vs ".join(dict.fromkeys(_types(p)[name] for p in parts
                                              if name in p.columns))
            raise DataError(f"The tables of the union have incompatible column types: column "
                            f"'{name}': {shown}.",
                            fix="Cast the columns to one type first (cast_columns).")
        common[name] = widened
    aligned = [part.select(*[(_col(c).cast(common[c]) if c in part.columns
                              else F.lit(None).cast(common[c])).alias(c) for c in names])
               for part in parts]
    return reduce(lambda a, b: a.unionByName(b), aligned)


def _widen(left: DataType | None, right: DataType | None) -> DataType | None:
    """The type both values fit in, as Arrow's permissive promotion decides, or None."""
    from pyspark.sql import types as T

    if left is None or right is None:
        return None
    if left == right:
        return left
    if isinstance(left, T.NullType):
        return right
    if isinstance(right, T.NullType):
        return left
    integral = (T.ByteType, T.ShortType, T.IntegerType, T.LongType)
    order = [T.ByteType, T.ShortType, T.IntegerType, T.LongType]
    if isinstance(left, integral) and isinstance(right, integral):
        return max((left, right), key=lambda k: order.index(type(k)))
    numeric = integral + (T.FloatType, T.DoubleType)
    if isinstance(left, numeric) and isinstance(right, numeric):
        return T.DoubleType()
    if isinstance(left, T.DecimalType) and isinstance(right, T.DecimalType):
        scale = max(left.scale, right.scale)
        digits = max(left.precision - left.scale, right.precision - right.scale)
        return T.DecimalType(min(38, digits + scale), scale)
    if isinstance(left, (T.StringType, T.VarcharType, T.CharType)) and \
            isinstance(right, (T.StringType, T.VarcharType, T.CharType)):
        return T.StringType()
    return None


# ---- aggregates --------------------------------------------------------------------------------
def aggregate_spark(engine: Any, frame: DataFrame, params: AggregateParams,
                    tables: Mapping[str, Any]) -> DataFrame:
    require_columns(engine, frame, params.group_by, role="group_by column")

    def build() -> DataFrame:
        aggregations = [_expr(sql).alias(name) for name, sql in params.aggregations.items()]
        if params.group_by:
            return frame.groupBy(*[_col(c) for c in params.group_by]).agg(*aggregations)
        return frame.agg(*aggregations)

    return _analyzed(build, {"df": list(frame.columns)})


def implementations() -> list[BuiltinTransform]:
    """The spark implementations."""
    return [BuiltinTransform(name, "spark", fn, model) for name, fn, model in (
        ("derive_columns", derive_columns_spark, DeriveColumnsParams),
        ("cast_columns", cast_columns_spark, CastColumnsParams),
        ("clean_text", clean_text_spark, CleanTextParams),
        ("fill_nulls", fill_nulls_spark, FillNullsParams),
        ("case_when", case_when_spark, CaseWhenParams),
        ("select_columns", select_columns_spark, SelectColumnsParams),
        ("drop_columns", drop_columns_spark, DropColumnsParams),
        ("rename_columns", rename_columns_spark, RenameColumnsParams),
        ("filter_rows", filter_rows_spark, FilterRowsParams),
        ("sort", sort_spark, SortParams),
        ("deduplicate", deduplicate_spark, DeduplicateParams),
        ("distinct", distinct_spark, DistinctParams),
        ("join", join_spark, JoinParams),
        ("union", union_spark, UnionParams),
        ("aggregate", aggregate_spark, AggregateParams),
    )]
