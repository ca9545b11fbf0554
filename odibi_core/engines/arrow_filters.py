"""A stateful incremental read's lower bound as a pyarrow filter, for engines that read files
eagerly (pandas): row groups and partitions entirely at or below the mark are skipped while
reading instead of read and dropped. Lazy engines (polars, Spark) push the node's own filter
down by themselves.

The filter is a hint: the node still keeps only the rows above the mark (``Engine.rows_after``),
so a bound that cannot be expressed against a file's column type is simply not pushed.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.dataset as ds

    from odibi_core.storage.requests import LowerBound

__all__ = ["rows_after_filter"]


def rows_after_filter(bound: LowerBound | None, schema: pa.Schema) -> ds.Expression | None:
    """``column > value`` for the rows of ``schema`` above ``bound``, or None when there is no
    bound, the column is not in ``schema`` or the value does not convert to its type exactly.
    Nulls fail the comparison, as ``Engine.rows_after`` drops them."""
    import pyarrow as pa
    import pyarrow.dataset as ds

    if bound is None or bound.column not in schema.names:
        return None
    kind = schema.field(bound.column).type
    try:
        scalar = pa.scalar(_comparable(bound.value, kind), type=kind)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, TypeError,
            ValueError, OverflowError):
        return None
    return ds.field(bound.column) > scalar


def _comparable(value: Any, kind: pa.DataType) -> Any:
    """``value`` as a Python value of ``kind``: datetimes made naive UTC for a zone-less
    timestamp column, aware for a zoned one; anything inexact refused (a float mark on an
    integer column)."""
    import pyarrow as pa

    if pa.types.is_timestamp(kind) and isinstance(value, dt.datetime):
        if kind.tz is None and value.tzinfo is not None:
            return value.astimezone(dt.timezone.utc).replace(tzinfo=None)
        if kind.tz is not None and value.tzinfo is None:
            return value.replace(tzinfo=dt.timezone.utc)
        return value
    if pa.types.is_integer(kind) and not (isinstance(value, int)
                                          and not isinstance(value, bool)):
        raise TypeError("only an integer mark is pushed to an integer column")
    if pa.types.is_date(kind) and isinstance(value, dt.datetime):
        raise TypeError("a timestamp mark is not pushed to a date column")
    return value
