"""Quoting SQL identifiers: one rule for DuckDB, polars SQL, delta-rs predicates and the SQL
odibi generates (double quotes, a double quote doubled)."""

from __future__ import annotations

__all__ = ["quote_identifier"]


def quote_identifier(name: str) -> str:
    """``name`` as a double-quoted SQL identifier: ``"order id"``."""
    return '"' + name.replace('"', '""') + '"'
