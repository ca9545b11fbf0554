"""Aggregating built-ins: aggregate (group by + SQL aggregate expressions)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field, field_validator

from odibi_core.transforms.builtins.base import BuiltinParams, BuiltinTransform
from odibi_core.transforms.builtins.frame_checks import require_columns
from odibi_core.transforms.builtins.sql_text import quote_identifier as q

__all__ = ["AggregateParams", "implementations"]


class AggregateParams(BuiltinParams):
    """One row per distinct ``group_by`` values (one row in all when empty), with a column per
    ``aggregations`` item: ``{out_col: "sum(amount)"}``, any SQL aggregate expression.
    Row order is not defined: add a ``sort`` step when it matters."""

    group_by: list[str] = Field(default_factory=list)
    aggregations: dict[str, str] = Field(min_length=1)

    @field_validator("group_by", mode="before")
    @classmethod
    def _listed(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


def aggregate_pandas(engine: Any, frame: Any, params: AggregateParams,
                     tables: Mapping[str, Any]) -> Any:
    require_columns(engine, frame, params.group_by, role="group_by column")
    select = [q(c) for c in params.group_by]
    select += [f"({expr}) AS {q(name)}" for name, expr in params.aggregations.items()]
    query = f"SELECT {', '.join(select)} FROM df"
    if params.group_by:
        query += " GROUP BY " + ", ".join(q(c) for c in params.group_by)
    return engine.sql(query, {"df": frame})


def implementations() -> list[BuiltinTransform]:
    """The pandas implementation."""
    return [
        BuiltinTransform("aggregate", "pandas", aggregate_pandas, AggregateParams),
    ]
