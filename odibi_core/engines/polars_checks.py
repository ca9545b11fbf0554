"""Row-level tests as native polars expressions (``Engine.add_row_flags`` on polars).

Each :class:`RowPredicate` is compiled from its ``test_type`` and ``params``; NULLs count as
:mod:`odibi_core.validation.checks` says (a NULL fails ``not_null`` only). A test this module
does not compile natively (``custom_sql``, or bounds it cannot type) is evaluated from its SQL
text with ``pl.sql_expr``, which accepts window functions (``count(*) OVER (...)``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from odibi_core.engines.base import RowPredicate
from odibi_core.engines.polars_casts import cast_expr
from odibi_core.engines.polars_sql import sql_expression
from odibi_core.engines.polars_types import logical_schema
from odibi_core.errors import DataError

if TYPE_CHECKING:
    import polars as pl

__all__ = ["flag_expression"]


def flag_expression(predicate: RowPredicate, schema: pl.Schema) -> pl.Expr:
    """The boolean column ``predicate.flag``: True where a row passes, never null."""
    native = _native(predicate.test_type, predicate.params, schema)
    expr = native if native is not None else sql_expression(predicate.sql)
    return expr.fill_null(True).alias(predicate.flag)


def _native(kind: str, params: Mapping[str, Any], schema: pl.Schema) -> pl.Expr | None:
    import polars as pl

    if kind == "not_null":
        return pl.all_horizontal([pl.col(c).is_not_null() for c in params["columns"]])
    if kind == "unique":
        keys = list(params["columns"])
        has_null = pl.any_horizontal([pl.col(c).is_null() for c in keys])
        return has_null | (pl.len().over(keys) == 1)
    if kind == "accepted_values":
        return _accepted(params["column"], [v for v in params["values"] if v is not None],
                         schema)
    if kind == "range":
        return _range(params["column"], params.get("min"), params.get("max"), schema)
    if kind == "regex_match":
        column, pattern = params["column"], params["pattern"]
        _check_pattern(pattern)
        text = pl.col(column) if schema[column] == pl.String else pl.col(column).cast(pl.String)
        return text.str.contains(pattern)
    return None


def _check_pattern(pattern: str) -> None:
    """Compile ``pattern`` now (polars compiles it when the frame is collected)."""
    import polars as pl

    try:
        pl.Series([""], dtype=pl.String).str.contains(pattern)
    except Exception as exc:  # noqa: BLE001 - polars' regex errors become DataErrors
        raise DataError(f"The pattern {pattern!r} does not compile: {exc}",
                        fix="Use a pattern the Rust regex dialect accepts (no look-around, "
                            "no back-references).") from exc


def _accepted(column: str, values: list[Any], schema: pl.Schema) -> pl.Expr | None:
    import polars as pl

    if not values:
        return pl.col(column).is_null()
    dtype = schema[column]
    coerced = [_coerce(v, dtype) for v in values]
    if any(v is _UNCONVERTIBLE for v in coerced):
        return None
    target = column_expr = pl.col(column)
    try:
        if dtype.is_integer() and any(isinstance(v, float) for v in coerced):
            target, dtype = column_expr.cast(pl.Float64), pl.Float64
        accepted = pl.Series(coerced, dtype=dtype)
    except Exception:  # noqa: BLE001 - values polars cannot type: evaluate the SQL instead
        return None
    return target.is_in(accepted.implode())


def _range(column: str, low: Any, high: Any, schema: pl.Schema) -> pl.Expr | None:
    import polars as pl

    dtype = schema[column]
    bounds = [_coerce(b, dtype) if b is not None else None for b in (low, high)]
    if any(b is _UNCONVERTIBLE for b in bounds):
        return None
    value = pl.col(column)
    if dtype.is_decimal() and any(isinstance(b, float) for b in bounds):
        value = value.cast(pl.Float64)
    parts = []
    if bounds[0] is not None:
        parts.append(value >= pl.lit(bounds[0]))
    if bounds[1] is not None:
        parts.append(value <= pl.lit(bounds[1]))
    return pl.all_horizontal(parts)


_UNCONVERTIBLE = object()


def _coerce(value: Any, dtype: pl.DataType) -> Any:
    """``value`` as SQL compares it with a ``dtype`` column: a number with a number as it is,
    a string with a typed column cast to the column's type; ``_UNCONVERTIBLE`` otherwise."""
    import polars as pl

    if isinstance(value, bool):
        return value if dtype == pl.Boolean else _UNCONVERTIBLE
    if isinstance(value, (int, float)):
        return value if dtype.is_numeric() else _UNCONVERTIBLE
    if isinstance(value, str):
        if dtype == pl.String:
            return value
        if not (dtype.is_numeric() or dtype.is_temporal() or dtype == pl.Boolean):
            return _UNCONVERTIBLE
        return _cast_text(value, dtype)
    if isinstance(value, dt.datetime) and isinstance(dtype, pl.Datetime):
        if dtype.time_zone and value.tzinfo is None:
            return value.replace(tzinfo=dt.timezone.utc)
        if not dtype.time_zone and value.tzinfo is not None:
            return value.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return value
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime) and dtype == pl.Date:
        return value
    return _UNCONVERTIBLE


def _cast_text(value: str, dtype: pl.DataType) -> Any:
    """A string literal cast to ``dtype`` as SQL's CAST does, or ``_UNCONVERTIBLE``."""
    import polars as pl

    (logical,) = logical_schema(pl.Schema({"v": dtype}))
    try:
        converted = pl.DataFrame({"v": [value]}).select(
            cast_expr("v", pl.String, logical.type)).item()
    except Exception:  # noqa: BLE001 - a type the cast does not handle: evaluate the SQL
        return _UNCONVERTIBLE
    return _UNCONVERTIBLE if converted is None else converted
