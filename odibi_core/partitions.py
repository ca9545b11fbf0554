"""The rows of one time partition (SPEC §7 partitions), the same for every engine.

A partition is a window ``[start, end)`` of aware datetimes; the pipeline's ``partitions.column``
holds each row's time. Used by the node runner (a read keeps the partition's rows, an overwrite
replaces exactly them) and by the Dagster IO manager (a partitioned downstream reads back only
its partition of an upstream target).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from odibi_core.engines.base import Engine
from odibi_core.errors import DataError
from odibi_core.storage.requests import Frame

__all__ = ["partition_bounds", "partition_predicate", "partition_rows"]


def partition_bounds(engine: Engine, frame: Frame, column: str, start: dt.datetime,
                     end: dt.datetime, *, node: str | None = None) -> tuple[Any, Any]:
    """``(start, end)`` as values comparable with ``column`` of ``frame``: dates for a date
    column, the datetimes for a timestamp column.

    Raises:
        DataError: the column is missing or not a date/timestamp, or the window is shorter
            than a day on a date column (hourly partitions need a timestamp column).
    """
    kind = {c.name: c.type for c in engine.schema(frame)}.get(column)
    if kind is None:
        raise DataError(
            f"The pipeline is partitioned on '{column}', but the data has no such column, so "
            "the partition's rows cannot be told apart.",
            fix=f"Keep '{column}' in the output, or remove partitions.column.", node=node)
    if kind == "date":
        if end - start < dt.timedelta(days=1):
            raise DataError(
                f"'{column}' is a date, which cannot hold the partition "
                f"{start.isoformat()} – {end.isoformat()} (shorter than a day).",
                fix="Partition on a timestamp column, or use daily (or coarser) partitions.",
                node=node)
        return start.date(), end.date()
    if kind in ("timestamp", "timestamp_ntz"):
        return start, end
    raise DataError(f"The partition column '{column}' is {kind}; a time partition needs a date "
                    "or timestamp column.",
                    fix=f"Cast '{column}' to a date or timestamp (read.options.schema).",
                    node=node)


def partition_rows(engine: Engine, frame: Frame, column: str, start: dt.datetime,
                   end: dt.datetime, *, node: str | None = None) -> Frame:
    """The rows of ``frame`` whose ``column`` falls in the partition ``[start, end)``."""
    low, high = partition_bounds(engine, frame, column, start, end, node=node)
    return engine.rows_between(frame, column, low, high)


def partition_predicate(column_sql: str, low: Any, high: Any) -> str:
    """SQL that is TRUE for the rows in ``[low, high)`` (bounds from :func:`partition_bounds`):
    the ``replaceWhere`` of a partition's overwrite."""
    literal = "TIMESTAMP" if isinstance(low, dt.datetime) else "DATE"
    return (f"{column_sql} >= {literal} '{_sql_moment(low)}' AND "
            f"{column_sql} < {literal} '{_sql_moment(high)}'")


def _sql_moment(value: Any) -> str:
    """A date or datetime as the text of a SQL literal (datetimes in UTC, without zone)."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return value.isoformat(sep=" ")
    return value.isoformat()
