"""Casting columns to logical types on the polars engine, with SQL ``CAST`` semantics.

``cast_columns`` means the same on every engine, and on pandas it is DuckDB's ``CAST``; polars'
own casts differ in places, so each conversion is spelled out here:

- to integers: strings are trimmed; floats round half to even, decimals half away from zero;
- to decimals: values round half away from zero to the scale;
- to ``date`` / ``timestamp``: ISO-8601 text (``T`` or space, optional fraction and offset, ``Z``);
  a zone-less text is UTC for ``timestamp``;
- to ``bool``: ``true/false/t/f/1/0/yes/no/y/n`` in any case;
- to ``string``: booleans ``true``/``false``, dates ``YYYY-MM-DD``, timestamps
  ``YYYY-MM-DD HH:MM:SS[.f]`` (``+00`` for an instant).

Casts are built non-strict: a value that does not convert becomes null, and
:func:`first_bad_value` finds such a value (one pass over the data) so the caller can name it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from odibi_core.storage.logical_types import parse_logical_type
from odibi_core.engines.polars_types import logical_schema, polars_dtype_of
from odibi_core.errors import DataError
from odibi_core.results import ColumnSchema

if TYPE_CHECKING:
    import polars as pl

__all__ = ["cast_expr", "can_fail", "conformed", "first_bad_value"]

_TIMESTAMP_FORMATS = ("%Y-%m-%d %H:%M:%S%.f%#z", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%d %H:%M%#z",
                      "%Y-%m-%d %H:%M", "%Y-%m-%d")
_TRUE = ("true", "t", "1", "yes", "y")
_FALSE = ("false", "f", "0", "no", "n")


def cast_expr(column: str, source: pl.DataType, logical: str, *, safe: bool = False) -> pl.Expr:
    """``column`` (of dtype ``source``) cast to ``logical``; unconvertible values become null.

    ``safe`` refuses to round a float or decimal with a fraction to an integer (Arrow's safe
    cast, which ``Engine.conform`` follows) instead of rounding it as SQL does.
    """
    import polars as pl

    name = parse_logical_type(logical)
    target = polars_dtype_of(name)
    expr = pl.col(column)
    if source == target:
        return expr
    text = source == pl.String
    if text and name not in ("string", "binary"):
        expr = expr.str.strip_chars()
    if name == "string":
        return _to_string(expr, source)
    if name == "bool" and text:
        lowered = expr.str.to_lowercase()
        return (pl.when(lowered.is_in(_TRUE)).then(True)
                .when(lowered.is_in(_FALSE)).then(False)
                .otherwise(None).cast(pl.Boolean))
    if target.is_integer():
        if safe and (source.is_float() or source.is_decimal()):
            return pl.when(expr == expr.round(0)).then(expr).otherwise(None) \
                .cast(target, strict=False)
        if source.is_float():
            expr = expr.round(0, mode="half_to_even")
        elif source.is_decimal():
            expr = expr.round(0, mode="half_away_from_zero")
        return expr.cast(target, strict=False)
    if isinstance(target, pl.Decimal):
        return _to_decimal(expr, source, target)
    if name in ("date", "timestamp", "timestamp_ntz"):
        return _to_temporal(expr, source, name, target)
    return expr.cast(target, strict=False)


def can_fail(source: pl.DataType, logical: str) -> bool:
    """Whether casting ``source`` to ``logical`` may meet a value that does not convert (only
    then does a cast need a pass over the data to find it)."""
    import polars as pl

    target = polars_dtype_of(logical)
    if source == target or source == pl.Null or target == pl.String:
        return False
    if source.is_integer() and (target.is_float() or target == pl.Int64 and source != pl.UInt64):
        return False
    if source == pl.Float32 and target == pl.Float64:
        return False
    if source == pl.Date and isinstance(target, pl.Datetime):
        return False
    return not (isinstance(source, pl.Datetime) and (isinstance(target, pl.Datetime)
                                                     or target == pl.Date))


def first_bad_value(frame: pl.LazyFrame, casts: Mapping[str, str], *,
                    safe: bool = False) -> tuple[str, Any] | None:
    """The first column of ``casts`` holding a value that does not convert, with that value as
    text; None when every value converts. One pass over the data for all the columns."""
    import polars as pl

    schema = frame.collect_schema()
    risky = {c: t for c, t in casts.items() if can_fail(schema[c], t)}
    if not risky:
        return None
    probes = []
    for index, (column, logical) in enumerate(risky.items()):
        cast = cast_expr(column, schema[column], logical, safe=safe)
        bad = pl.col(column).is_not_null() & cast.is_null()
        probes.append(pl.col(column).filter(bad).first().cast(pl.String).alias(f"v{index}"))
        probes.append(bad.any().alias(f"b{index}"))
    row = frame.select(probes).collect().row(0)
    for index, column in enumerate(risky):
        if row[2 * index + 1]:
            return column, row[2 * index]
    return None


def conformed(frame: pl.LazyFrame, columns: Sequence[ColumnSchema]) -> pl.LazyFrame:
    """``frame`` with exactly ``columns`` in that order (see ``Engine.conform``): present
    columns cast to their type, missing ones added as typed nulls, others dropped.

    Raises:
        DataError: a value does not convert (found with one pass over the data, made only when
            some cast can fail).
    """
    import polars as pl

    schema = frame.collect_schema()
    current = {c.name: c.type for c in logical_schema(schema)}
    casts = {c.name: c.type for c in columns if c.name in current and current[c.name] != c.type}
    bad = first_bad_value(frame, casts, safe=True)
    if bad is not None:
        column, value = bad
        raise DataError(f"Column '{column}' cannot be converted to {casts[column]}: "
                        f"{value!r} does not convert.",
                        fix=f"Cast '{column}' to {casts[column]} in the transform, or let the "
                            "schema evolve.")
    exprs = []
    for column in columns:
        if column.name not in current:
            exprs.append(pl.lit(None, dtype=polars_dtype_of(column.type)).alias(column.name))
        elif column.name in casts:
            exprs.append(cast_expr(column.name, schema[column.name], column.type, safe=True)
                         .alias(column.name))
        else:
            exprs.append(pl.col(column.name))
    return frame.select(exprs)


def _to_string(expr: pl.Expr, source: pl.DataType) -> pl.Expr:
    import polars as pl

    if isinstance(source, pl.Datetime):
        # As SQL spells it: 2024-01-01 10:00:00.5+00 (UTC), no fraction when it is zero.
        if source.time_zone:
            expr = expr.dt.convert_time_zone("UTC")
        micros = expr.dt.microsecond()
        fraction = pl.when(micros == 0).then(pl.lit("")).otherwise(
            pl.lit(".") + micros.cast(pl.String).str.zfill(6).str.strip_chars_end("0"))
        text = expr.dt.strftime("%Y-%m-%d %H:%M:%S") + fraction
        return text + pl.lit("+00") if source.time_zone else text
    return expr.cast(pl.String, strict=False)


def _to_decimal(expr: pl.Expr, source: pl.DataType, target: pl.Decimal) -> pl.Expr:
    import polars as pl

    scale = target.scale or 0
    if source == pl.String and scale < 38:
        expr = expr.cast(pl.Decimal(38, scale + 1), strict=False)
    if source == pl.String or source.is_float() or source.is_decimal():
        expr = expr.round(scale, mode="half_away_from_zero")
    return expr.cast(target, strict=False)


def _to_temporal(expr: pl.Expr, source: pl.DataType, name: str,
                 target: pl.DataType) -> pl.Expr:
    import polars as pl

    if source == pl.String:
        text = expr.str.replace(r"^(\d{4}-\d{2}-\d{2})T", "${1} ").str.replace(r"Z$", "+00:00")
        if name == "date":
            return text.str.to_date("%Y-%m-%d", strict=False)
        parsed = pl.coalesce([text.str.to_datetime(fmt, strict=False, time_unit="us",
                                                   time_zone="UTC")
                              for fmt in _TIMESTAMP_FORMATS])
        return parsed if name == "timestamp" else parsed.dt.replace_time_zone(None)
    if isinstance(source, pl.Datetime):
        if name == "date":
            return expr.dt.date()
        instant = expr.dt.convert_time_zone("UTC") if source.time_zone \
            else expr.dt.replace_time_zone("UTC")
        instant = instant.dt.cast_time_unit("us")
        return instant if name == "timestamp" else instant.dt.replace_time_zone(None)
    if source == pl.Date and name != "date":
        stamp = expr.cast(pl.Datetime("us"))
        return stamp.dt.replace_time_zone("UTC") if name == "timestamp" else stamp
    return expr.cast(target, strict=False)
