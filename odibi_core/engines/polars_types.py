"""Logical types on the polars engine: polars dtypes <-> the logical names every engine shares.

A polars dtype is named through its Arrow type (:func:`logical_type_of_arrow`), so the polars
engine reports exactly the names the pandas engine reports for the same Arrow data. Frames built
from rows go through Arrow too, with the same inference as pandas (``pa.array`` on the values).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from odibi_core.storage.logical_types import arrow_type_of, logical_type_of_arrow
from odibi_core.results import ColumnSchema

if TYPE_CHECKING:
    import polars as pl
    import pyarrow as pa

__all__ = ["lazy_from_arrow", "logical_schema", "polars_dtype_of"]


def logical_schema(schema: pl.Schema) -> tuple[ColumnSchema, ...]:
    """The logical schema of a polars schema (no data is touched)."""
    import polars as pl

    try:
        arrow = pl.DataFrame(schema=schema).to_arrow().schema
    except Exception:  # noqa: BLE001 - a dtype Arrow cannot hold (Object): name it as polars does
        return tuple(ColumnSchema(name, _logical_type_of(name, dtype), True)
                     for name, dtype in schema.items())
    return tuple(ColumnSchema(f.name, logical_type_of_arrow(f.type), True) for f in arrow)


def _logical_type_of(name: str, dtype: pl.DataType) -> str:
    import polars as pl

    try:
        field = pl.DataFrame(schema={name: dtype}).to_arrow().schema.field(0)
    except Exception:  # noqa: BLE001
        return str(dtype).lower()
    return logical_type_of_arrow(field.type)


def lazy_from_arrow(table: pa.Table) -> pl.LazyFrame:
    """An Arrow table as a LazyFrame (over the table's memory)."""
    import polars as pl

    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    return frame.lazy()


def polars_dtype_of(logical: str) -> pl.DataType:
    """The polars dtype a scalar logical type is stored as (timestamps in microseconds, UTC)."""
    import polars as pl
    import pyarrow as pa

    arrow = arrow_type_of(logical)
    return pl.from_arrow(pa.array([], type=arrow)).dtype  # type: ignore[union-attr]


