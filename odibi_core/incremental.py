"""Incremental loads: ``read.incremental`` windows, the stateful high-water mark, and
``materialized: incremental`` (SPEC §4, §7).

- ``rolling_window``: keep rows whose column is newer than now minus ``lookback`` ``unit``s;
  no state.
- ``stateful``: keep rows newer than the high-water mark (HWM) of the last successful run, less
  ``watermark_lag``. The new mark, the maximum of the column in what was read, is committed to
  ``<system>/state/<pipeline>/<node>.json`` only after the node's write committed, so a failed
  run reads the same rows again.
- ``materialized: incremental``: before the write, keep only output rows newer than the target's
  own maximum of the column, then append them (or upsert on ``write.options.keys``).
"""

from __future__ import annotations

import calendar
import datetime as dt
import json
import os
import tempfile
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from odibi_core.engines.base import Engine
from odibi_core.errors import DataError
from odibi_core.storage.requests import Frame
from odibi_core.transforms.builtins.sql_text import quote_identifier

__all__ = ["HighWaterMark", "HwmStore", "IncrementalWindow", "apply_read_incremental",
           "commit_hwm", "lower_bound",
           "newer_than_target"]

_TEMPORAL = ("date", "timestamp", "timestamp_ntz")


@dataclass(frozen=True)
class HighWaterMark:
    """The largest value of ``column`` a node has loaded, with its logical type."""

    column: str
    value: Any
    type: str

    def to_json(self) -> dict[str, Any]:
        value = self.value
        if isinstance(value, (dt.date, dt.datetime)):
            value = value.isoformat()
        elif isinstance(value, Decimal):  # exact, as text (a NUMERIC column of a database)
            value = str(value)
        return {"column": self.column, "value": value, "type": self.type}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> HighWaterMark:
        kind, value = data["type"], data["value"]
        if value is not None and kind == "date":
            value = dt.date.fromisoformat(value)
        elif value is not None and kind in ("timestamp", "timestamp_ntz"):
            value = dt.datetime.fromisoformat(value)
        elif value is not None and kind.startswith("decimal"):
            value = Decimal(value)
        return cls(data["column"], value, kind)


@dataclass(frozen=True)
class IncrementalWindow:
    """What an incremental read kept: rows with ``column`` > ``lower_bound`` (None: all)."""

    mode: str
    column: str
    lower_bound: Any = None
    pending: HighWaterMark | None = None  # the stateful mark to commit after the write

    def summary(self) -> dict[str, Any]:
        bound = self.lower_bound.isoformat() if isinstance(
            self.lower_bound, (dt.date, dt.datetime)) else self.lower_bound
        summary: dict[str, Any] = {"mode": self.mode, "column": self.column,
                                   "lower_bound": bound}
        if self.pending is not None:
            summary["new_high_water_mark"] = self.pending.to_json()["value"]
        return summary


class HwmStore:
    """High-water marks under ``<system>/state/<pipeline>/<node>.json``, written atomically."""

    def __init__(self, system_root: Path) -> None:
        self.root = Path(system_root) / "state"

    def path(self, pipeline: str, node: str) -> Path:
        return self.root / pipeline / f"{node}.json"

    def load(self, pipeline: str, node: str) -> HighWaterMark | None:
        path = self.path(pipeline, node)
        if not path.exists():
            return None
        return HighWaterMark.from_json(json.loads(path.read_text(encoding="utf-8")))

    def save(self, pipeline: str, node: str, mark: HighWaterMark) -> None:
        path = self.path(pipeline, node)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump({**mark.to_json(), "committed_at": dt.datetime.now(dt.timezone.utc)
                       .isoformat()}, handle, indent=2)
        os.replace(tmp, path)

    def restore(self, pipeline: str, node: str, mark: dict[str, Any] | None) -> None:
        """Put the node's state back to ``mark`` (a :meth:`HighWaterMark.to_json` form), or
        remove it when ``mark`` is None (the next run reads from the start)."""
        if mark is not None:
            self.save(pipeline, node, HighWaterMark.from_json(mark))
            return
        try:
            self.path(pipeline, node).unlink()
        except FileNotFoundError:
            pass


def apply_read_incremental(engine: Engine, frame: Frame, config: Any, *, store: HwmStore,
                           pipeline: str, node: str, now: dt.datetime,
                           key: str | None = None) -> tuple[Frame, IncrementalWindow]:
    """``frame`` restricted to the rows the incremental config admits, and the window kept."""
    kind = _column_type(engine, frame, config.column, key)
    if config.mode == "rolling_window":
        bound = _fit(_minus(now, config.lookback, config.unit), kind, config.column, key)
        return engine.rows_after(frame, config.column, bound), IncrementalWindow(
            "rolling_window", config.column, bound)
    previous = store.load(pipeline, node)
    bound = None
    if previous is not None and previous.value is not None:
        bound = previous.value
        if config.watermark_lag is not None and kind in _TEMPORAL:
            bound = _fit(bound - config.watermark_lag, kind, config.column, key)
        frame = engine.rows_after(frame, config.column, bound)
    newest = engine.aggregate(frame, {"hwm": f"max({quote_identifier(config.column)})"})["hwm"]
    if newest is None and previous is not None:
        pending = previous  # nothing new: the mark stays
    else:
        pending = HighWaterMark(config.column, newest, kind)
    return frame, IncrementalWindow("stateful", config.column, bound, pending)


def lower_bound(config: Any, *, store: HwmStore, pipeline: str, node: str) -> Any:
    """The value a stateful read starts after (its mark, less ``watermark_lag`` for a date or
    time mark), for a source to filter at the origin; None on a first run or a rolling window.
    :func:`apply_read_incremental` still filters the rows read by the same bound."""
    if config.mode != "stateful":
        return None
    previous = store.load(pipeline, node)
    if previous is None or previous.value is None:
        return None
    if config.watermark_lag is not None and previous.type in _TEMPORAL:
        return previous.value - config.watermark_lag
    return previous.value


def commit_hwm(store: HwmStore, pipeline: str, node: str, window: IncrementalWindow | None) -> None:
    """Record the stateful mark of ``window`` (call only after the write committed)."""
    if window is not None and window.pending is not None and window.pending.value is not None:
        store.save(pipeline, node, window.pending)


def newer_than_target(engine: Engine, frame: Frame, target: Frame | None, column: str, *,
                      key: str | None = None) -> tuple[Frame, Any]:
    """Rows of ``frame`` whose ``column`` is above the target's maximum, and that maximum."""
    if target is None:
        return frame, None
    _column_type(engine, frame, column, key)
    newest = engine.aggregate(target, {"m": f"max({quote_identifier(column)})"})["m"]
    if newest is None:
        return frame, None
    return engine.rows_after(frame, column, newest), newest


def _column_type(engine: Engine, frame: Frame, column: str, key: str | None) -> str:
    types = {c.name: c.type for c in engine.schema(frame)}
    if column not in types:
        raise DataError(f"The incremental column '{column}' is not in the data.",
                        fix="Columns available: " + ", ".join(types) + ".", node=key)
    return types[column]


def _fit(moment: dt.datetime | dt.date, kind: str, column: str, key: str | None) -> Any:
    """A moment as a value comparable with a column of logical type ``kind``."""
    if kind == "date":
        return moment.date() if isinstance(moment, dt.datetime) else moment
    if kind == "timestamp":
        if isinstance(moment, dt.datetime):
            return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)
        return dt.datetime.combine(moment, dt.time(), dt.timezone.utc)
    if kind == "timestamp_ntz":
        if isinstance(moment, dt.datetime):
            return moment.astimezone(dt.timezone.utc).replace(tzinfo=None) \
                if moment.tzinfo else moment
        return dt.datetime.combine(moment, dt.time())
    raise DataError(f"A time window needs a date or timestamp column; '{column}' is {kind}.",
                    fix="Use mode: stateful for a numeric or text column, or cast the column.",
                    node=key)


def _minus(now: dt.datetime, amount: int, unit: str) -> dt.datetime:
    if unit in ("minute", "hour", "day", "week"):
        return now - dt.timedelta(**{f"{unit}s": amount})
    months = amount * (12 if unit == "year" else 1)
    year, month = divmod(now.month - 1 - months, 12)
    year, month = now.year + year, month + 1
    day = min(now.day, calendar.monthrange(year, month)[1])
    return now.replace(year=year, month=month, day=day)
