"""Profile a node's output on its engine, and read a profile back from a node's result."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from odibi_core.engines.json_safe import json_safe_value
from odibi_core.profiling.compute import BINS, EXACT_UNIQUE_LIMIT, METRICS, value_kind
from odibi_core.profiling.model import ColumnProfile, Histogram, Profile

if TYPE_CHECKING:
    from odibi_core.engines.base import Engine
    from odibi_core.results import NodeResult
    from odibi_core.storage.requests import Frame

__all__ = ["profile_frame", "profile_of", "profile_output"]

log = logging.getLogger(__name__)

_EPOCH_DATE = dt.date(1970, 1, 1)
_EPOCH = dt.datetime(1970, 1, 1)


def profile_frame(engine: Engine, frame: Frame, *, include: Sequence[str] = METRICS,
                  sample_rows: int | None = None, exact_limit: int = EXACT_UNIQUE_LIMIT,
                  bins: int = BINS) -> Profile:
    """The profile of ``frame``, computed by ``engine`` in at most two passes.

    ``sample_rows`` profiles only the first ``sample_rows`` rows in frame order (a limit, so
    that the cost is bounded without reading the whole frame for a random sample); unique counts
    are exact when at most ``exact_limit`` rows are profiled, else approximate (and say so).
    """
    wanted = tuple(m for m in METRICS if m in include)
    target = engine.head(frame, sample_rows) if sample_rows is not None else frame
    columns = engine.schema(target)
    raw = engine.profile(target, columns, include=wanted, exact_limit=exact_limit, bins=bins)
    rows = int(raw["rows"])
    profiles = []
    for column in columns:
        stats = raw["columns"].get(column.name, {})
        kind = value_kind(column.type)
        nulls = stats.get("nulls")
        histogram = stats.get("histogram")
        profiles.append(ColumnProfile(
            name=column.name, type=column.type, null_count=nulls,
            null_percentage=round(100.0 * nulls / rows, 4) if nulls is not None and rows
            else None,
            unique_count=stats.get("unique"), approximate=bool(stats.get("approximate")),
            min=_value(stats.get("min"), kind), max=_value(stats.get("max"), kind),
            histogram=_histogram(histogram, kind) if histogram else None))
    return Profile(rows=rows, columns=tuple(profiles), include=wanted, sample_rows=sample_rows,
                   exact_unique_limit=exact_limit)


def profile_output(engine: Engine, frame: Frame, config: Any, *, node: str) -> dict[str, Any]:
    """The JSON form of ``frame``'s profile under a ``profiling`` block, for
    ``NodeResult.extra["profile"]``. Profiling is observation: a failure is logged and recorded
    as ``{"error": ...}``, never fails the node."""
    try:
        return profile_frame(engine, frame, include=config.include,
                             sample_rows=config.sample_rows).to_json()
    except Exception as exc:  # noqa: BLE001 - observation never fails a node
        log.warning("Profiling the output of %s failed: %s", node, exc)
        return {"error": f"{type(exc).__name__}: {exc}"}


def profile_of(result: NodeResult) -> Profile | None:
    """The profile of a node's output, when ``profiling`` was enabled and it succeeded."""
    data = result.extra.get("profile")
    if not data or "error" in data:
        return None
    return Profile.from_json(data)


def _value(value: Any, kind: str) -> Any:
    """A min/max as JSON: timestamps in UTC with their offset, wall-clock ones without."""
    if value is None:
        return None
    if kind == "timestamp" and isinstance(value, dt.datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
        return aware.astimezone(dt.timezone.utc).isoformat()
    if kind == "timestamp_ntz" and isinstance(value, dt.datetime):
        return value.replace(tzinfo=None).isoformat()
    if kind == "date" and isinstance(value, dt.datetime):
        value = value.date()
    return json_safe_value(value)


def _histogram(raw: dict[str, Any], kind: str) -> Histogram:
    low, high, counts = raw["low"], raw["high"], raw["counts"]
    width = (high - low) / len(counts)
    edges = [low + i * width for i in range(len(counts))] + [high]
    return Histogram(edges=tuple(_edge(e, kind) for e in edges), counts=tuple(counts))


def _edge(value: float, kind: str) -> Any:
    """A bin edge in the column's terms: a number, or ISO text for dates and timestamps."""
    if kind == "date":
        if float(value).is_integer():
            return (_EPOCH_DATE + dt.timedelta(days=int(value))).isoformat()
        moment = _EPOCH + dt.timedelta(seconds=round(value * 86_400))
        return moment.isoformat()
    if kind in ("timestamp", "timestamp_ntz"):
        moment = _EPOCH + dt.timedelta(microseconds=round(value))
        if kind == "timestamp":
            moment = moment.replace(tzinfo=dt.timezone.utc)
        return moment.isoformat()
    return float(f"{value:.12g}")  # no float noise (0.39999999999999997) in what is shown
