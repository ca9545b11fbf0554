"""``read.options`` of a ``format: api`` read (an HTTP JSON API): checked before anything runs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["check_api_options"]


def check_api_options(options: Mapping[str, Any]) -> None:
    """Raise ``config_error`` (``key="options.<name>"``) for the first bad option."""
