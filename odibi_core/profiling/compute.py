"""How a frame is profiled: two aggregate passes, the same plan on every engine.

Pass 1 (one aggregate): the row count and per column the null count, an approximate distinct
count (HyperLogLog: DuckDB ``approx_count_distinct``, polars ``approx_n_unique``, Spark
``approx_count_distinct`` with 1% relative error), min/max, and the bounds of the histogram.
Pass 2 (one aggregate, only when needed): exact distinct counts when at most ``exact_limit``
rows are profiled, and the histogram bin counts. Engines supply the expressions through a
:class:`ProfileDialect`; this module decides what is computed, so every engine computes the same
thing. Histograms bin a value ``v`` of a numeric, date or timestamp column (as a double: dates
in days and timestamps in microseconds since 1970-01-01) into ``floor((v - low) / width)``, with
``width = (high - low) / bins``; the last bin also holds ``high``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from odibi_core.results import ColumnSchema

__all__ = ["BINS", "DUCKDB", "EXACT_UNIQUE_LIMIT", "METRICS", "SPARK", "ProfileDialect",
           "SqlProfileDialect", "profile_passes", "value_kind"]

METRICS = ("null_percentage", "unique_count", "min_max", "histograms")
EXACT_UNIQUE_LIMIT = 100_000  # rows profiled up to which unique counts are exact
BINS = 10
HISTOGRAM_KINDS = ("number", "date", "timestamp", "timestamp_ntz")


def value_kind(logical_type: str) -> str:
    """What a profile computes for a logical type: ``number``, ``date``, ``timestamp``,
    ``timestamp_ntz``, ``string`` and ``bool`` get every metric (histograms only the first
    four); ``other`` (binary, nested, time, duration, null) only null counts."""
    if logical_type.startswith(("int", "uint", "float", "decimal")):
        return "number"
    if logical_type in ("date", "timestamp", "timestamp_ntz", "string", "bool"):
        return logical_type
    return "other"


class ProfileDialect(Protocol):
    """The aggregate expressions of one engine, and how it runs them in one pass."""

    def run(self, expressions: Mapping[str, Any]) -> dict[str, Any]: ...
    def rows(self) -> Any: ...
    def nulls(self, column: str) -> Any: ...
    def unique(self, column: str, *, approximate: bool) -> Any: ...
    def minimum(self, column: str) -> Any: ...
    def maximum(self, column: str) -> Any: ...
    def number(self, column: str, kind: str) -> Any: ...
    def low(self, number: Any) -> Any: ...
    def high(self, number: Any) -> Any: ...
    def bin_count(self, number: Any, low: float, width: float, index: int, last: bool) -> Any: ...


def profile_passes(dialect: ProfileDialect, columns: Sequence[ColumnSchema], *,
                   include: Collection[str], exact_limit: int, bins: int) -> dict[str, Any]:
    """Raw statistics: ``{"rows": n, "columns": {name: {"nulls", "unique", "approximate",
    "min", "max", "histogram": {"low", "high", "counts"}}}}`` (keys only for metrics computed)."""
    first: dict[str, Any] = {"rows": dialect.rows()}
    numbers: dict[int, Any] = {}
    kinds = [value_kind(c.type) for c in columns]
    for i, (column, kind) in enumerate(zip(columns, kinds)):
        if "null_percentage" in include:
            first[f"n{i}"] = dialect.nulls(column.name)
        if kind == "other":
            continue
        if "unique_count" in include:
            first[f"a{i}"] = dialect.unique(column.name, approximate=True)
        if "min_max" in include:
            first[f"min{i}"] = dialect.minimum(column.name)
            first[f"max{i}"] = dialect.maximum(column.name)
        if "histograms" in include and kind in HISTOGRAM_KINDS:
            numbers[i] = dialect.number(column.name, kind)
            first[f"lo{i}"] = dialect.low(numbers[i])
            first[f"hi{i}"] = dialect.high(numbers[i])
    one = dialect.run(first)
    rows = int(one["rows"] or 0)
    exact = "unique_count" in include and rows <= exact_limit

    second: dict[str, Any] = {}
    bounds: dict[int, tuple[float, float, float, int]] = {}
    for i, (column, kind) in enumerate(zip(columns, kinds)):
        if exact and kind != "other":
            second[f"u{i}"] = dialect.unique(column.name, approximate=False)
        if i in numbers and one[f"lo{i}"] is not None:
            low, high = float(one[f"lo{i}"]), float(one[f"hi{i}"])
            if not (math.isfinite(low) and math.isfinite(high)):
                continue
            count = bins if high > low else 1
            width = (high - low) / count
            bounds[i] = (low, high, width, count)
            for b in range(count):
                second[f"h{i}_{b}"] = dialect.bin_count(numbers[i], low, width, b,
                                                        b == count - 1)
    two = dialect.run(second) if second else {}

    stats: dict[str, dict[str, Any]] = {}
    for i, (column, kind) in enumerate(zip(columns, kinds)):
        entry: dict[str, Any] = {}
        if f"n{i}" in one:
            entry["nulls"] = int(one[f"n{i}"] or 0)
        if f"a{i}" in one:
            exact_value = two.get(f"u{i}")
            entry["unique"] = int(exact_value if exact_value is not None else one[f"a{i}"] or 0)
            entry["approximate"] = exact_value is None
        if f"min{i}" in one:
            entry["min"], entry["max"] = one[f"min{i}"], one[f"max{i}"]
        if i in bounds:
            low, high, _, count = bounds[i]
            entry["histogram"] = {"low": low, "high": high,
                                  "counts": [int(two[f"h{i}_{b}"] or 0) for b in range(count)]}
        stats[column.name] = entry
    return {"rows": rows, "columns": stats}


# ---- SQL engines (pandas via DuckDB, Spark) ----------------------------------------------------
@dataclass(frozen=True)
class SqlSpelling:
    """Where DuckDB's and Spark's SQL differ, for what a profile needs."""

    approx_distinct: str
    date_days: str
    timestamp_micros: str
    timestamp_ntz_micros: str


DUCKDB = SqlSpelling(
    approx_distinct="approx_count_distinct({x})",
    date_days="date_diff('day', DATE '1970-01-01', {x})",
    timestamp_micros="epoch_us({x})",
    timestamp_ntz_micros="epoch_us({x})",
)
SPARK = SqlSpelling(
    approx_distinct="approx_count_distinct({x}, 0.01)",
    date_days="unix_date({x})",
    timestamp_micros="unix_micros({x})",
    timestamp_ntz_micros="unix_micros(CAST({x} AS TIMESTAMP_LTZ))",  # the session zone: UTC
)


class SqlProfileDialect:
    """Profile expressions as SQL text, run by ``aggregate`` (``Engine.aggregate``)."""

    def __init__(self, aggregate: Callable[[Mapping[str, str]], dict[str, Any]],
                 spelling: SqlSpelling) -> None:
        self._aggregate = aggregate
        self.spelling = spelling

    def run(self, expressions: Mapping[str, Any]) -> dict[str, Any]:
        return self._aggregate(expressions)

    @staticmethod
    def _q(column: str) -> str:
        return '"' + column.replace('"', '""') + '"'

    @staticmethod
    def _double(value: float) -> str:
        return f"CAST('{value!r}' AS DOUBLE)"

    def rows(self) -> str:
        return "count(*)"

    def nulls(self, column: str) -> str:
        return f"count(*) - count({self._q(column)})"

    def unique(self, column: str, *, approximate: bool) -> str:
        if approximate:
            return self.spelling.approx_distinct.format(x=self._q(column))
        return f"count(DISTINCT {self._q(column)})"

    def minimum(self, column: str) -> str:
        return f"min({self._q(column)})"

    def maximum(self, column: str) -> str:
        return f"max({self._q(column)})"

    def number(self, column: str, kind: str) -> str:
        x = self._q(column)
        if kind == "date":
            x = self.spelling.date_days.format(x=x)
        elif kind == "timestamp":
            x = self.spelling.timestamp_micros.format(x=x)
        elif kind == "timestamp_ntz":
            x = self.spelling.timestamp_ntz_micros.format(x=x)
        return f"CAST({x} AS DOUBLE)"

    def low(self, number: str) -> str:
        return f"min({number})"

    def high(self, number: str) -> str:
        return f"max({number})"

    def bin_count(self, number: str, low: float, width: float, index: int, last: bool) -> str:
        if width == 0:
            return f"count({number})"
        position = f"floor(({number} - {self._double(low)}) / {self._double(width)})"
        return f"count(CASE WHEN {position} {'>=' if last else '='} {index} THEN 1 END)"
