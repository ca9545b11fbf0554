"""The story as JSON: the machine-readable record that ``load_story`` reads back.

Schema (version 1), keys in this order::

    schema_version  int      1; a reader refuses a higher version
    project, pipeline, run_id, engine          str
    environment, finished_at, parent_run_id    str | null
    started_at      str      ISO-8601 UTC
    status          str      "success" | "failed" | "running"
    nodes           list     one NodeResult.to_dict() per node, in run order
    dry_run         bool
    extra           object   later features (labels, ...); keys are feature names

Output is stable: keys keep field order, dict values keep insertion order, indent is 2 and the
text ends with a newline. Values JSON cannot hold are converted: dates and datetimes to ISO-8601,
``Decimal`` to a string, bytes to hex, numpy scalars to their Python value, sets to sorted lists,
NaN and infinities to ``null``, anything else to ``str(value)``.
"""

from __future__ import annotations

import json
import math
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from odibi_core.story.model import RunStory

__all__ = ["render_json"]


def render_json(story: RunStory) -> str:
    """Render ``story`` as strict JSON (indent 2, trailing newline)."""
    return json.dumps(_jsonable(story.to_dict()), indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    if isinstance(value, (set, frozenset)):
        return sorted((_jsonable(item) for item in value), key=repr)
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    if _is_scalar_wrapper(value):  # numpy scalars, without importing numpy
        return _jsonable(value.item())
    return str(value)


def _is_scalar_wrapper(value: Any) -> bool:
    item = getattr(value, "item", None)
    return callable(item) and getattr(value, "ndim", 0) == 0 and type(value).__module__ != "builtins"
