"""Checks built-ins make before touching data, so that errors name what is wrong."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from difflib import get_close_matches
from typing import TYPE_CHECKING

from odibi_core.errors import DataError

if TYPE_CHECKING:
    from odibi_core.engines.base import Engine
    from odibi_core.storage.requests import Frame

__all__ = ["missing_column_error", "require_columns", "require_table"]


def require_columns(engine: Engine, frame: Frame, columns: Iterable[str], *,
                    role: str = "column") -> list[str]:
    """The frame's columns; raises when one of ``columns`` is not among them.

    Raises:
        DataError: naming the first missing column, a did-you-mean and the available columns.
    """
    available = engine.columns(frame)
    for column in columns:
        if column not in available:
            raise missing_column_error(column, available, role=role)
    return available


def missing_column_error(column: str, available: list[str], *, role: str = "column") -> DataError:
    close = get_close_matches(column, available, n=1)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    return DataError(
        f"{role.capitalize()} '{column}' does not exist.{hint} Available columns: "
        f"{', '.join(available)}.",
        fix=f"Use one of the available columns{f' ({close[0]}?)' if close else ''}.",
    )


def require_table(tables: Mapping[str, Frame], name: str) -> Frame:
    """``tables[name]``; raises when the node has no table of that name.

    Raises:
        DataError: naming the table, a did-you-mean and the tables available.
    """
    if name in tables:
        return tables[name]
    available = list(tables)
    close = get_close_matches(name, available, n=1)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    raise DataError(
        f"Table '{name}' is not available to this node.{hint} Available tables: "
        f"{', '.join(available) or '(none)'}.",
        fix="Add the node to `depends_on`, or map it in `inputs` (alias: $pipeline.node).",
    )
