"""The polars implementations of the built-in transforms (same names and params models as pandas).

Every built-in adds to the frame's lazy plan and returns a ``LazyFrame``. SQL-expression params
(derive_columns, filter_rows, case_when, aggregate) go through ``pl.sql_expr`` and are first run
on an empty frame of the input's schema, so a missing column or a type error is reported by the
step that causes it; the others are native expressions. Results and ordering rules are those of
the pandas implementations: ``sort`` is stable with nulls last unless ``NULLS FIRST``,
``deduplicate`` keeps the first row per key in input order, ``distinct`` the first occurrence.

Only ``cast_columns`` looks at data before the frame is collected: a cast that can fail (from
text, or narrowing) makes one pass to name the first value that does not convert, as the pandas
engine reports it at this step. ``fill_nulls`` converts its values (not the data) at once.

polars is imported inside the functions: importing ``odibi_core`` must not load it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from odibi_core.errors import DataError
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
    import polars as pl

__all__ = ["implementations"]

_POSITION = "__odibi_position__"
_SUM = re.compile(r"^\s*sum\s*\(", re.IGNORECASE)
_WHITESPACE = r"[\t\n\f\r ]"  # what \s matches in DuckDB's RE2, for identical cleaning


# ---- SQL-expression built-ins -----------------------------------------------------------------
def derive_columns_polars(engine: Any, frame: Any, params: DeriveColumnsParams,
                          tables: Mapping[str, Any]) -> pl.LazyFrame:
    from odibi_core.engines.polars_sql import checked, sql_expression

    result = frame.lazy()
    for name, expression in params.columns.items():
        text = as_expression(expression)
        expr = sql_expression(text).alias(name)
        result = checked(lambda lf, expr=expr: lf.with_columns(expr), result, text)
    return result


def filter_rows_polars(engine: Any, frame: Any, params: FilterRowsParams,
                       tables: Mapping[str, Any]) -> pl.LazyFrame:
    from odibi_core.engines.polars_sql import checked, sql_expression

    condition = sql_expression(params.condition)
    return checked(lambda lf: lf.filter(condition), frame.lazy(), params.condition)


def case_when_polars(engine: Any, frame: Any, params: CaseWhenParams,
                     tables: Mapping[str, Any]) -> pl.LazyFrame:
    from odibi_core.engines.polars_sql import checked, sql_expression

    whens = " ".join(f"WHEN ({c.condition}) THEN {as_expression(c.value)}" for c in params.cases)
    text = f"CASE {whens} ELSE {as_expression(params.default)} END"
    expr = sql_expression(text).alias(params.output_col)
    return checked(lambda lf: lf.with_columns(expr), frame.lazy(), text)


def aggregate_polars(engine: Any, frame: Any, params: AggregateParams,
                     tables: Mapping[str, Any]) -> pl.LazyFrame:
    import polars as pl

    from odibi_core.engines.polars_sql import checked, sql_expression

    frame = frame.lazy()
    require_columns(engine, frame, params.group_by, role="group_by column")
    exprs = [sql_expression(text).alias(name) for name, text in params.aggregations.items()]

    def grouped(lf: pl.LazyFrame) -> pl.LazyFrame:
        return lf.group_by(params.group_by).agg(exprs) if params.group_by else lf.select(exprs)

    result = checked(grouped, frame, "; ".join(params.aggregations.values()))
    # SQL's sum of integers is a 64-bit integer (DuckDB, Spark); polars keeps int32.
    schema = result.collect_schema()
    widened = {name: pl.UInt64 if schema[name].is_unsigned_integer() else pl.Int64
               for name, text in params.aggregations.items()
               if _SUM.match(text) and schema[name].is_integer()
               and schema[name] not in (pl.Int64, pl.UInt64)}
    return result.cast(widened) if widened else result


# ---- column built-ins -------------------------------------------------------------------------
def cast_columns_polars(engine: Any, frame: Any, params: CastColumnsParams,
                        tables: Mapping[str, Any]) -> pl.LazyFrame:
    from odibi_core.engines.polars_casts import cast_expr, first_bad_value

    frame = frame.lazy()
    require_columns(engine, frame, params.columns)
    culprit = first_bad_value(frame, params.columns)
    if culprit is not None:
        column, value = culprit
        raise DataError(
            f"Column '{column}' has a value that is not {params.columns[column]}: {value!r}.",
            fix="Clean or filter the values first (filter_rows, derive_columns), or cast to "
                "another type.",
        )
    schema = frame.collect_schema()
    return frame.with_columns([cast_expr(c, schema[c], kind).alias(c)
                               for c, kind in params.columns.items()])


def clean_text_polars(engine: Any, frame: Any, params: CleanTextParams,
                      tables: Mapping[str, Any]) -> pl.LazyFrame:
    import polars as pl

    frame = frame.lazy()
    require_columns(engine, frame, params.columns)
    types = {c.name: c.type for c in engine.schema(frame)}
    for column in params.columns:
        if types[column] not in ("string", "null"):
            raise DataError(f"clean_text works on string columns; '{column}' is {types[column]}.",
                            fix="Remove it from `columns`, or cast it to string first.")

    def cleaned(column: str) -> pl.Expr:
        expr = pl.col(column).cast(pl.String)
        if params.collapse_whitespace:
            expr = expr.str.replace_all(f"{_WHITESPACE}+", " ")
        if params.trim:
            expr = expr.str.replace_all(f"^{_WHITESPACE}+|{_WHITESPACE}+$", "")
        if params.case == "lower":
            expr = expr.str.to_lowercase()
        elif params.case == "upper":
            expr = expr.str.to_uppercase()
        if params.empty_as_null:
            expr = pl.when(expr == "").then(None).otherwise(expr)
        return expr.alias(column)

    return frame.with_columns([cleaned(c) for c in params.columns])


def fill_nulls_polars(engine: Any, frame: Any, params: FillNullsParams,
                      tables: Mapping[str, Any]) -> pl.LazyFrame:
    import polars as pl

    frame = frame.lazy()
    require_columns(engine, frame, params.values)
    types = {c.name: c.type for c in engine.schema(frame)}
    schema = frame.collect_schema()
    fills = []
    for column, value in params.values.items():
        try:
            fill = _typed_literal(value, schema[column], types[column])
        except (ValueError, TypeError):
            raise DataError(
                "A fill value does not fit its column's type: "
                + ", ".join(f"{c} ({types[c]}) <- {params.values[c]!r}" for c in params.values)
                + ".",
                fix="Give each column a value of its own type, or cast the column first.",
            ) from None
        fills.append(pl.col(column).fill_null(fill).alias(column))
    return frame.with_columns(fills)


def _typed_literal(value: Any, dtype: pl.DataType, logical: str) -> pl.Expr:
    """``value`` as a literal of ``dtype``, converted as SQL's CAST converts it.

    Raises:
        ValueError: the value does not convert.
    """
    import polars as pl

    from odibi_core.engines.polars_casts import cast_expr

    if value is None or dtype == pl.Null or dtype.is_nested():
        return pl.lit(value)
    if isinstance(value, float) and dtype.is_integer() and math.isfinite(value):
        value = Decimal(repr(value))  # a SQL literal 2.5 is a decimal: it rounds half away
    source = pl.DataFrame({"v": [value]})
    try:
        converted = source.select(cast_expr("v", source.schema["v"], logical)).item()
    except (ValueError, TypeError):
        raise
    except Exception as exc:  # noqa: BLE001 - polars' conversion errors
        raise ValueError(str(exc)) from exc
    if converted is None:
        raise ValueError(f"{value!r} is not {logical}")
    return pl.lit(converted, dtype=dtype)


def select_columns_polars(engine: Any, frame: Any, params: SelectColumnsParams,
                          tables: Mapping[str, Any]) -> pl.LazyFrame:
    frame = frame.lazy()
    require_columns(engine, frame, params.columns)
    repeated = sorted({c for c in params.columns if params.columns.count(c) > 1})
    if repeated:
        raise DataError(f"select_columns names {', '.join(repeated)} more than once.",
                        fix="List each column once.")
    return frame.select(params.columns)


def drop_columns_polars(engine: Any, frame: Any, params: DropColumnsParams,
                        tables: Mapping[str, Any]) -> pl.LazyFrame:
    frame = frame.lazy()
    if not params.ignore_missing:
        require_columns(engine, frame, params.columns)
    present = [c for c in params.columns if c in engine.columns(frame)]
    return frame.drop(present) if present else frame


def rename_columns_polars(engine: Any, frame: Any, params: RenameColumnsParams,
                          tables: Mapping[str, Any]) -> pl.LazyFrame:
    frame = frame.lazy()
    columns = require_columns(engine, frame, params.columns)
    renamed = [params.columns.get(c, c) for c in columns]
    clashes = sorted({c for c in renamed if renamed.count(c) > 1})
    if clashes:
        raise DataError(f"rename_columns would leave several columns named "
                        f"{', '.join(clashes)}.",
                        fix="Rename or drop the existing column first.")
    return frame.rename(dict(params.columns))


# ---- row built-ins ----------------------------------------------------------------------------
def sort_polars(engine: Any, frame: Any, params: SortParams,
                tables: Mapping[str, Any]) -> pl.LazyFrame:
    frame = frame.lazy()
    keys = params.keys()
    require_columns(engine, frame, [k.column for k in keys])
    return _sorted(frame, keys)


def deduplicate_polars(engine: Any, frame: Any, params: DeduplicateParams,
                       tables: Mapping[str, Any]) -> pl.LazyFrame:
    frame = frame.lazy()
    order = parse_order_by(params.order_by) if params.order_by else []
    require_columns(engine, frame, [*params.keys, *(k.column for k in order)])
    work = frame.with_row_index(_POSITION)
    kept = _sorted(work, order).unique(subset=params.keys, keep="first", maintain_order=True)
    return kept.sort(_POSITION).drop(_POSITION)


def distinct_polars(engine: Any, frame: Any, params: DistinctParams,
                    tables: Mapping[str, Any]) -> pl.LazyFrame:
    frame = frame.lazy()
    if params.columns:
        require_columns(engine, frame, params.columns)
        frame = frame.select(params.columns)
    return frame.unique(keep="first", maintain_order=True)


def _sorted(frame: pl.LazyFrame, keys: list[OrderKey]) -> pl.LazyFrame:
    """Stable multi-key sort with a null position per key."""
    if not keys:
        return frame
    return frame.sort([k.column for k in keys], descending=[k.descending for k in keys],
                      nulls_last=[not k.nulls_first for k in keys], maintain_order=True)


# ---- join and union ---------------------------------------------------------------------------
def join_polars(engine: Any, frame: Any, params: JoinParams,
                tables: Mapping[str, Any]) -> pl.LazyFrame:
    import polars as pl

    left = frame.lazy()
    right = require_table(tables, params.right).lazy()
    pairs = params.pairs()
    left_columns = require_columns(engine, left, [lk for lk, _ in pairs], role="join key")
    right_columns = require_columns(engine, right, [rk for _, rk in pairs],
                                    role=f"join key of '{params.right}'")
    how = "full" if params.how == "outer" else params.how
    if how == "cross":
        projection = _join_projection(left_columns, right_columns, [], how, params)
        temp = {c: f"__odibi_r{i}" for i, c in enumerate(right_columns)}
        return left.join(right.rename(temp), how="cross").select(projection(temp))
    common = _key_types(left, right, pairs)
    left_on = [pl.col(lk).cast(kind) for (lk, _), kind in zip(pairs, common)]
    if how in ("semi", "anti"):
        right_on = [pl.col(rk).cast(kind) for (_, rk), kind in zip(pairs, common)]
        return left.join(right, left_on=left_on, right_on=right_on, how=how)
    temp = {c: f"__odibi_r{i}" for i, c in enumerate(right_columns)}
    right_on = [pl.col(temp[rk]).cast(kind) for (_, rk), kind in zip(pairs, common)]
    joined = left.join(right.rename(temp), left_on=left_on, right_on=right_on, how=how,
                       coalesce=False)
    projection = _join_projection(left_columns, right_columns, pairs, how, params)
    return joined.select(projection(temp))


def _key_types(left: pl.LazyFrame, right: pl.LazyFrame,
               pairs: list[tuple[str, str]]) -> list[pl.DataType]:
    """The type each key pair is compared in: the common type of both sides (SQL compares an
    int32 key with an int64 key)."""
    left_schema, right_schema = left.collect_schema(), right.collect_schema()
    return [_common_dtype(left_schema[lk], right_schema[rk]) for lk, rk in pairs]


def _common_dtype(a: pl.DataType, b: pl.DataType) -> pl.DataType:
    import polars as pl

    if a == b:
        return a
    stacked = pl.concat([pl.LazyFrame(schema={"k": a}), pl.LazyFrame(schema={"k": b})],
                        how="vertical_relaxed")
    try:
        return stacked.collect_schema()["k"]
    except Exception as exc:  # noqa: BLE001 - no common type
        raise DataError(f"Join keys of types {a} and {b} cannot be compared.",
                        fix="Cast the keys to one type first (cast_columns).") from exc


def _join_projection(left: list[str], right: list[str], pairs: list[tuple[str, str]],
                     how: str, params: JoinParams) -> Any:
    """The output columns, as the SQL projection of the pandas implementation: left columns,
    then right columns (a key both sides name alike appears once)."""
    import polars as pl

    shared = {lk for lk, rk in pairs if lk == rk}
    right_names = right_column_names(left, right, shared, params)

    def select(temp: Mapping[str, str]) -> list[pl.Expr]:
        exprs = []
        for column in left:
            if column in shared and how == "right":
                exprs.append(pl.col(temp[column]).alias(column))
            elif column in shared and how == "full":
                exprs.append(pl.coalesce(pl.col(column), pl.col(temp[column])).alias(column))
            else:
                exprs.append(pl.col(column))
        exprs += [pl.col(temp[column]).alias(name) for column, name in right_names]
        return exprs

    return select


def union_polars(engine: Any, frame: Any, params: UnionParams,
                 tables: Mapping[str, Any]) -> pl.LazyFrame:
    import polars as pl
    import pyarrow as pa

    parts = [frame.lazy()] + [require_table(tables, n).lazy() for n in params.tables]
    schemas = [p.collect_schema() for p in parts]
    if not params.by_name:
        width = len(schemas[0])
        for name, schema in zip(params.tables, schemas[1:]):
            if len(schema) != width:
                raise DataError(
                    f"union by position needs the same number of columns: the frame has "
                    f"{width}, '{name}' has {len(schema)}.",
                    fix="Select matching columns first, or set `by_name: true`.",
                )
        names = schemas[0].names()
        parts = [parts[0]] + [p.select([pl.col(old).alias(new) for old, new in
                                        zip(s.names(), names)])
                              for p, s in zip(parts[1:], schemas[1:])]
        schemas = [p.collect_schema() for p in parts]
    arrow = [pl.DataFrame(schema=s).to_arrow().schema for s in schemas]
    try:
        unified = pa.unify_schemas(arrow, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise DataError(f"The tables of the union have incompatible column types: {exc}",
                        fix="Cast the columns to one type first (cast_columns).") from exc
    target = pl.from_arrow(unified.empty_table()).schema  # type: ignore[union-attr]
    aligned = [p.cast({n: target[n] for n, d in s.items() if d != target[n]})
               for p, s in zip(parts, schemas)]
    return pl.concat(aligned, how="diagonal")


def implementations() -> list[BuiltinTransform]:
    """The polars implementations."""
    return [BuiltinTransform(name, "polars", fn, model) for name, fn, model in (
        ("derive_columns", derive_columns_polars, DeriveColumnsParams),
        ("cast_columns", cast_columns_polars, CastColumnsParams),
        ("clean_text", clean_text_polars, CleanTextParams),
        ("fill_nulls", fill_nulls_polars, FillNullsParams),
        ("case_when", case_when_polars, CaseWhenParams),
        ("select_columns", select_columns_polars, SelectColumnsParams),
        ("drop_columns", drop_columns_polars, DropColumnsParams),
        ("rename_columns", rename_columns_polars, RenameColumnsParams),
        ("filter_rows", filter_rows_polars, FilterRowsParams),
        ("sort", sort_polars, SortParams),
        ("deduplicate", deduplicate_polars, DeduplicateParams),
        ("distinct", distinct_polars, DistinctParams),
        ("join", join_polars, JoinParams),
        ("union", union_polars, UnionParams),
        ("aggregate", aggregate_polars, AggregateParams),
    )]
