"""Building SQL text for the SQL-based built-ins: identifiers, literals, ORDER BY specs."""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from odibi_core.sql_identifiers import quote_identifier

__all__ = ["OrderKey", "parse_order_by", "quote_identifier", "sql_literal"]

_ORDER_ITEM = re.compile(
    r'^\s*(?P<col>"(?:[^"]|"")+"|`[^`]+`|[^\s,]+)'
    r'(?:\s+(?P<dir>asc|desc))?(?:\s+nulls\s+(?P<nulls>first|last))?\s*$',
    re.IGNORECASE,
)


@dataclass(frozen=True)
class OrderKey:
    """One ``ORDER BY`` item: a column, its direction and where nulls go (last by default)."""

    column: str
    descending: bool = False
    nulls_first: bool = False



def sql_literal(value: Any) -> str:
    """A YAML scalar as a SQL literal (strings quoted, dates as ISO strings)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return f"CAST('{value}' AS DOUBLE)"
        return repr(value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (dt.date, dt.datetime, dt.time)):
        return "'" + value.isoformat() + "'"
    return "'" + str(value).replace("'", "''") + "'"


def parse_order_by(spec: str | list[str], *, descending: bool = False) -> list[OrderKey]:
    """Parse ``"updated_at DESC, id"`` (or a list of such items) into :class:`OrderKey` items.

    ``descending`` is the direction of items that do not say ASC or DESC. Nulls sort last unless
    an item says ``NULLS FIRST``.

    Raises:
        ValueError: an item is not ``column [ASC|DESC] [NULLS FIRST|LAST]``.
    """
    items = spec if isinstance(spec, list) else _split_commas(spec)
    keys = []
    for item in items:
        for part in _split_commas(str(item)):
            match = _ORDER_ITEM.match(part)
            if not match:
                raise ValueError(f"'{part.strip()}' is not `column [ASC|DESC] [NULLS FIRST|LAST]`")
            column = match.group("col")
            if column[0] in '"`':
                column = column[1:-1].replace('""', '"')
            direction = match.group("dir")
            keys.append(OrderKey(
                column=column,
                descending=descending if direction is None else direction.lower() == "desc",
                nulls_first=(match.group("nulls") or "last").lower() == "first",
            ))
    if not keys:
        raise ValueError("no column to order by")
    return keys


def _split_commas(text: str) -> list[str]:
    parts, current, quote = [], [], None
    for char in text:
        if quote:
            quote = None if char == quote else quote
        elif char in '"`':
            quote = char
        elif char == ",":
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    return [p for p in parts if p.strip()]
