"""Logical types on the polars engine: polars dtypes <-> the logical names every engine shares.

A polars dtype is named through its Arrow type (:func:`logical_type_of_arrow`), so the polars
engine reports exactly the names the pandas engine reports for the same Arrow data. Frames built
from rows go through Arrow too, with the same inference as pandas (``pa.array`` on the values).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from odibi_core.engines.logical_types import arrow_type_of, logical_type_of_arrow
from odibi_core.errors import DataError
from odibi_core.results import ColumnSchema

if TYPE_CHECKING:
    import polars as pl
    import pyarrow as pa

__all__ = ["arrow_table_from_rows", "lazy_from_arrow", "logical_schema", "polars_dtype_of",
           "typed_array"]


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


def arrow_table_from_rows(rows: Sequence[Mapping[str, Any]],
                          schema: Mapping[str, str] | None = None) -> pa.Table:
    """``rows`` as an Arrow table: declared columns get their logical type, the others are
    inferred from the values (an all-null column is a string column)."""
    import pyarrow as pa

    declared = dict(schema or {})
    names = list(dict.fromkeys([*(k for row in rows for k in row), *declared]))
    arrays = {}
    for name in names:
        values = [row.get(name) for row in rows]
        if name in declared:
            arrays[name] = typed_array(name, values, declared[name])
        else:
            array = pa.array(values)
            arrays[name] = array.cast(pa.string()) if pa.types.is_null(array.type) else array
    return pa.table(arrays) if arrays else pa.table({})


def typed_array(name: str, values: list[Any], logical: str) -> pa.Array:
    """``values`` as an Arrow array of ``logical`` (ISO strings accepted for dates, timestamps
    and decimals; a zone-less timestamp string means UTC).

    Raises:
        DataError: the type is unknown or the values do not fit it.
    """
    import pyarrow as pa

    try:
        arrow_type = arrow_type_of(logical)
    except ValueError as exc:
        raise DataError(f"Column '{name}': {exc}", fix="Use a logical type name.") from exc
    attempts = [lambda: pa.array(values, type=arrow_type),
                lambda: pa.array(values).cast(arrow_type)]
    if pa.types.is_timestamp(arrow_type) and arrow_type.tz:
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
