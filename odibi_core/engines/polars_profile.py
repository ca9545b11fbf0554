"""Profile expressions for the polars engine (see ``odibi_core.profiling.compute``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from odibi_core.engines.polars_sql import collect

if TYPE_CHECKING:
    import polars as pl

__all__ = ["PolarsProfileDialect"]


class PolarsProfileDialect:
    """Aggregate expressions over one LazyFrame; :meth:`run` is one ``select`` (one pass)."""

    def __init__(self, frame: pl.LazyFrame) -> None:
        self.frame = frame

    def run(self, expressions: Mapping[str, pl.Expr]) -> dict[str, Any]:
        selected = self.frame.select([e.alias(name) for name, e in expressions.items()])
        return collect(selected).row(0, named=True)

    def rows(self) -> pl.Expr:
        import polars as pl

        return pl.len()

    def nulls(self, column: str) -> pl.Expr:
        import polars as pl

        return pl.col(column).null_count()

    def unique(self, column: str, *, approximate: bool) -> pl.Expr:
        import polars as pl

        values = pl.col(column).drop_nulls()
        return values.approx_n_unique() if approximate else values.n_unique()

    def minimum(self, column: str) -> pl.Expr:
        import polars as pl

        return pl.col(column).min()

    def maximum(self, column: str) -> pl.Expr:
        import polars as pl

        return pl.col(column).max()

    def number(self, column: str, kind: str) -> pl.Expr:
        """The value as a double: dates in days, timestamps in microseconds since 1970."""
        import polars as pl

        value = pl.col(column)
        if kind == "date":
            value = value.cast(pl.Int32)
        elif kind in ("timestamp", "timestamp_ntz"):
            value = value.dt.epoch("us")
        return value.cast(pl.Float64)

    def low(self, number: pl.Expr) -> pl.Expr:
        return number.min()

    def high(self, number: pl.Expr) -> pl.Expr:
        return number.max()

    def bin_count(self, number: pl.Expr, low: float, width: float, index: int,
                  last: bool) -> pl.Expr:
        if width == 0:
            return number.count()
        position = ((number - low) / width).floor()
        return (position >= index if last else position == index).sum()
