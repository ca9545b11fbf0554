"""``read.options`` of a ``format: sql`` read (SQLAlchemy): checked before anything runs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["check_sql_options"]


def check_sql_options(options: Mapping[str, Any]) -> None:
    """Raise ``config_error`` (``key="options.<name>"``) for the first bad option."""
