"""The base of every built-in's params model: strict, so a typo in ``params:`` is an error."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from odibi_core.transforms.builtins.sql_text import sql_literal

__all__ = ["BuiltinParams", "SqlExpression", "as_expression"]

SqlExpression = str | int | float | bool | None
"""A SQL expression; YAML numbers, booleans and null are taken as literals."""


class BuiltinParams(BaseModel):
    """Params of a built-in: unknown keys are refused, aliases accepted (odibi dialect)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


def as_expression(value: Any) -> str:
    """A :data:`SqlExpression` as SQL text: strings verbatim, other scalars as literals."""
    return value if isinstance(value, str) else sql_literal(value)
