"""Sensor cursors kept as a JSON object."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["json_object_cursor"]


def json_object_cursor(cursor: str | None) -> dict[str, Any]:
    """The JSON object a sensor stored as its cursor; ``{}`` when there is none or it is not an
    object (a cursor set by hand in the UI: the sensor starts over rather than fail forever —
    its run keys still prevent a repeated run)."""
    if not cursor:
        return {}
    try:
        seen = json.loads(cursor)
    except ValueError:
        return {}
    return {str(key): value for key, value in seen.items()} if isinstance(seen, dict) else {}
