"""Row built-ins: filter_rows, sort, deduplicate, distinct.

Ordering (``sort``, ``deduplicate.order_by``) takes ``"col DESC, other"`` or a list of such
items; nulls sort last unless an item says ``NULLS FIRST``; ties keep their input order.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field, field_validator, model_validator

from odibi_core.transforms.builtins.base import BuiltinParams, BuiltinTransform
from odibi_core.transforms.builtins.frame_checks import require_columns
from odibi_core.transforms.builtins.sql_text import OrderKey, parse_order_by

__all__ = ["DeduplicateParams", "DistinctParams", "FilterRowsParams", "SortParams",
           "implementations"]

_POSITION = "__odibi_position__"


# ---- params ------------------------------------------------------------------------------------
class FilterRowsParams(BuiltinParams):
    """Keep the rows where ``condition`` (a SQL boolean expression) is true; null counts as
    false, as in a SQL WHERE clause."""

    condition: str = Field(min_length=1)


class SortParams(BuiltinParams):
    """Sort by ``by`` (``"col DESC, col2"`` or a list); ``descending`` is the direction of items
    that do not say ASC/DESC (odibi's ``ascending: false`` means the same)."""

    by: str | list[str]
    descending: bool | None = None
    ascending: bool | None = None

    @field_validator("by")
    @classmethod
    def _parses(cls, value: str | list[str]) -> str | list[str]:
        parse_order_by(value)
        return value

    @model_validator(mode="after")
    def _one_direction(self) -> SortParams:
        if self.descending is not None and self.ascending is not None:
            raise ValueError("set `descending` or `ascending`, not both")
        return self

    def keys(self) -> list[OrderKey]:
        descending = bool(self.descending) if self.descending is not None \
            else self.ascending is False
        return parse_order_by(self.by, descending=descending)


class DeduplicateParams(BuiltinParams):
    """Keep one row per ``keys``: the first after ordering by ``order_by`` (the first in input
    order without it). The kept rows stay in input order."""

    keys: list[str] = Field(min_length=1)
    order_by: str | list[str] | None = None

    @field_validator("keys", mode="before")
    @classmethod
    def _listed(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("order_by")
    @classmethod
    def _parses(cls, value: str | list[str] | None) -> str | list[str] | None:
        if value is not None:
            parse_order_by(value)
        return value


class DistinctParams(BuiltinParams):
    """Drop repeated rows; with ``columns``, keep only those columns first. The first
    occurrence of each row is kept, in input order."""

    columns: list[str] | None = None


# ---- pandas ------------------------------------------------------------------------------------
def filter_rows_pandas(engine: Any, frame: Any, params: FilterRowsParams,
                       tables: Mapping[str, Any]) -> Any:
    return engine.sql(f"SELECT * FROM df WHERE ({params.condition})", {"df": frame})


def sort_pandas(engine: Any, frame: Any, params: SortParams, tables: Mapping[str, Any]) -> Any:
    keys = params.keys()
    require_columns(engine, frame, [k.column for k in keys])
    return _sorted(frame, keys)


def deduplicate_pandas(engine: Any, frame: Any, params: DeduplicateParams,
                       tables: Mapping[str, Any]) -> Any:
    order = parse_order_by(params.order_by) if params.order_by else []
    require_columns(engine, frame, [*params.keys, *(k.column for k in order)])
    work = frame.reset_index(drop=True)
    work = work.assign(**{_POSITION: range(len(work))})
    kept = _sorted(work, order).drop_duplicates(subset=params.keys, keep="first")
    return kept.sort_values(_POSITION).drop(columns=_POSITION).reset_index(drop=True)


def distinct_pandas(engine: Any, frame: Any, params: DistinctParams,
                    tables: Mapping[str, Any]) -> Any:
    if params.columns:
        require_columns(engine, frame, params.columns)
        frame = frame.loc[:, params.columns]
    return frame.drop_duplicates(keep="first").reset_index(drop=True)


def _sorted(frame: Any, keys: list[OrderKey]) -> Any:
    """Stable multi-key sort with a null position per key: one stable pass per key, last first."""
    result = frame.reset_index(drop=True)
    for key in reversed(keys):
        result = result.sort_values(key.column, ascending=not key.descending, kind="stable",
                                    na_position="first" if key.nulls_first else "last")
    return result.reset_index(drop=True)


def implementations() -> list[BuiltinTransform]:
    """The pandas implementations."""
    return [
        BuiltinTransform("filter_rows", "pandas", filter_rows_pandas, FilterRowsParams),
        BuiltinTransform("sort", "pandas", sort_pandas, SortParams),
        BuiltinTransform("deduplicate", "pandas", deduplicate_pandas, DeduplicateParams),
        BuiltinTransform("distinct", "pandas", distinct_pandas, DistinctParams),
    ]
