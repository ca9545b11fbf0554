"""A node output's profile as plain data: what the story, Dagster and asset checks read.

Nothing here imports an engine. :meth:`Profile.to_json` gives the JSON-friendly dict kept in
``NodeResult.extra["profile"]``; :meth:`Profile.from_json` reads it back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["ColumnProfile", "Histogram", "Profile", "PROFILE_VERSION"]

PROFILE_VERSION = 1


@dataclass(frozen=True)
class Histogram:
    """Equal-width bins: ``counts[i]`` values fall in ``[edges[i], edges[i+1])`` (the last bin
    also holds ``edges[-1]``). Edges are numbers, or ISO-8601 text for dates and timestamps."""

    edges: tuple[Any, ...]
    counts: tuple[int, ...]

    def to_json(self) -> dict[str, Any]:
        return {"edges": list(self.edges), "counts": list(self.counts)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Histogram:
        return cls(edges=tuple(data["edges"]), counts=tuple(int(c) for c in data["counts"]))


@dataclass(frozen=True)
class ColumnProfile:
    """One column's statistics; a metric not included in the profile (or not defined for the
    column's type) is None. ``approximate`` is True when ``unique_count`` is an estimate."""

    name: str
    type: str
    null_count: int | None = None
    null_percentage: float | None = None
    unique_count: int | None = None
    approximate: bool = False
    min: Any = None
    max: Any = None
    histogram: Histogram | None = None

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type, "null_count": self.null_count,
                "null_percentage": self.null_percentage, "unique_count": self.unique_count,
                "approximate": self.approximate, "min": self.min, "max": self.max,
                "histogram": self.histogram.to_json() if self.histogram else None}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ColumnProfile:
        histogram = data.get("histogram")
        return cls(name=data["name"], type=data["type"], null_count=data.get("null_count"),
                   null_percentage=data.get("null_percentage"),
                   unique_count=data.get("unique_count"),
                   approximate=bool(data.get("approximate", False)),
                   min=data.get("min"), max=data.get("max"),
                   histogram=Histogram.from_json(histogram) if histogram else None)


@dataclass(frozen=True)
class Profile:
    """The profile of a frame: ``rows`` is the number of rows profiled (at most
    ``sample_rows``, when set); unique counts are exact up to ``exact_unique_limit`` rows."""

    rows: int
    columns: tuple[ColumnProfile, ...]
    include: tuple[str, ...]
    sample_rows: int | None = None
    exact_unique_limit: int = 100_000
    version: int = field(default=PROFILE_VERSION)

    def column(self, name: str) -> ColumnProfile:
        """The profile of column ``name``; KeyError when the frame had no such column."""
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(name)

    def to_json(self) -> dict[str, Any]:
        return {"version": self.version, "rows": self.rows, "sample_rows": self.sample_rows,
                "exact_unique_limit": self.exact_unique_limit, "include": list(self.include),
                "columns": [c.to_json() for c in self.columns]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Profile:
        return cls(rows=int(data["rows"]),
                   columns=tuple(ColumnProfile.from_json(c) for c in data["columns"]),
                   include=tuple(data.get("include", ())), sample_rows=data.get("sample_rows"),
                   exact_unique_limit=int(data.get("exact_unique_limit", 100_000)),
                   version=int(data.get("version", PROFILE_VERSION)))
