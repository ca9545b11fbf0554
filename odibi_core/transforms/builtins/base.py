"""What every built-in shares: its params model's base (strict, so a typo in ``params:`` is an
error) and the record of one engine's implementation."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from odibi_core.transforms.builtins.sql_text import sql_literal

if TYPE_CHECKING:
    from odibi_core.engines.base import Engine
    from odibi_core.storage.requests import Frame

__all__ = ["BuiltinFn", "BuiltinParams", "BuiltinTransform", "SqlExpression", "as_expression"]

BuiltinFn = Callable[["Engine", "Frame", Any, Mapping[str, "Frame"]], "Frame"]
"""A built-in's implementation: ``fn(engine, frame, params_model_instance, tables) -> frame``."""

SqlExpression = str | int | float | bool | None
"""A SQL expression; YAML numbers, booleans and null are taken as literals."""


@dataclass(frozen=True)
class BuiltinTransform:
    """One engine's implementation of a built-in: each family module lists its own
    (``implementations()``), :mod:`~odibi_core.transforms.builtins.catalog` gathers them and the
    registry reads the catalog."""

    name: str
    engine: str
    fn: BuiltinFn
    params_model: type[BaseModel]


class BuiltinParams(BaseModel):
    """Params of a built-in: unknown keys are refused, aliases accepted (odibi dialect)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


def as_expression(value: Any) -> str:
    """A :data:`SqlExpression` as SQL text: strings verbatim, other scalars as literals."""
    return value if isinstance(value, str) else sql_literal(value)
