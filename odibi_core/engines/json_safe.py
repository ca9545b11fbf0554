"""Python values made JSON-safe, the same way on every engine.

``Engine.sample`` and ``odibi_core.testing`` pass rows through :func:`json_safe_value`: dates and
times become ISO-8601 strings, NaN / NaT / NA become None, numpy scalars become Python values,
decimals become floats, bytes become base64 text, infinities the strings ``Infinity`` /
``-Infinity``.
"""

from __future__ import annotations

import base64
import datetime as dt
import math
import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

__all__ = ["json_safe_row", "json_safe_value"]


def json_safe_value(value: Any) -> Any:
    """``value`` as something :func:`json.dumps` accepts with ``allow_nan=False``."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return _float(value)
    if isinstance(value, Decimal):
        return None if value.is_nan() else _float(float(value))
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        if _is_missing(value):
            return None
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): json_safe_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [json_safe_value(v) for v in value]
    return _foreign(value)


def json_safe_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """A row with every value passed through :func:`json_safe_value`."""
    return {str(k): json_safe_value(v) for k, v in row.items()}


def _float(value: float) -> float | str | None:
    if math.isnan(value):
        return None
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return float(value)


def _is_missing(value: Any) -> bool:
    # pandas.NaT is a datetime subclass; identify it without importing pandas.
    return type(value).__name__ == "NaTType"


def _foreign(value: Any) -> Any:
    """numpy / pandas scalars and arrays, recognised by duck typing (no import)."""
    name = type(value).__name__
    if name in ("NAType", "NaTType"):
        return None
    if hasattr(value, "tolist") and not isinstance(value, type):
        return json_safe_value(value.tolist())  # numpy arrays and scalars
    if hasattr(value, "to_pydatetime"):
        return json_safe_value(value.to_pydatetime())
    if hasattr(value, "as_py"):
        return json_safe_value(value.as_py())  # pyarrow scalars
    return str(value)
