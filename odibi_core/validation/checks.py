"""One class per test ``type``: a row-level test compiles to a SQL row predicate, an aggregate
test to SQL aggregates plus a judgement of the whole frame.

NULLs follow SQL (and dbt): a NULL value fails ``not_null`` only. ``range``, ``accepted_values``,
``regex_match`` and ``custom_sql`` pass a row whose value (or condition) is NULL, like a SQL
CHECK constraint; ``unique`` passes a row whose key holds a NULL, like a SQL UNIQUE constraint.
Declare ``not_null`` beside them to refuse NULLs.
"""

from __future__ import annotations

import datetime as dt
import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from odibi_core.engines.base import RowPredicate
from odibi_core.engines.json_safe import json_safe_value
from odibi_core.errors import DataError
from odibi_core.transforms.builtins.sql_text import quote_identifier, sql_literal

if TYPE_CHECKING:
    from odibi_core.engines.base import Engine
    from odibi_core.validation.history import RunHistory

__all__ = [
    "AggregateCheck",
    "AggregateFacts",
    "Check",
    "RowCheck",
    "Verdict",
    "build_check",
]


@dataclass(frozen=True)
class Verdict:
    """A test's outcome: whether it passed, in words, and what was measured."""

    passed: bool
    message: str
    observed: Any = None


@dataclass(frozen=True)
class AggregateFacts:
    """What aggregate tests judge: the frame's size and columns, their SQL aggregates, the
    clock and the node's earlier runs."""

    rows: int
    columns: Sequence[str]
    metrics: dict[str, Any]
    now: dt.datetime
    kind: str  # "contract" or "validation"
    history: RunHistory | None = None


class Check(ABC):
    """A configured test (one of the ``odibi_core.config.validation`` models), ready to run."""

    row_level: ClassVar[bool]

    def __init__(self, test: Any) -> None:
        self.test = test

    @property
    def name(self) -> str:
        return self.test.display_name

    @property
    def type(self) -> str:
        return self.test.type

    def columns(self) -> tuple[str, ...]:
        """Columns the frame must have for the test to run."""
        return ()


# --- row-level tests ---------------------------------------------------------------------------


class RowCheck(Check):
    """A test every row passes or fails, compiled to one SQL boolean per row."""

    row_level = True

    @abstractmethod
    def condition(self, engine: Engine) -> str:
        """SQL that is TRUE when a row passes (NULL also passes, see the module docstring)."""

    @abstractmethod
    def describe(self) -> str:
        """What a failing row breaks, in a few words ("null in order_id")."""

    def predicate(self, flag: str, engine: Engine) -> RowPredicate:
        return RowPredicate(flag=flag, sql=f"COALESCE(({self.condition(engine)}), TRUE)",
                            test_type=self.type, params=self.test.model_dump(
                                exclude={"type", "name", "on_fail"}, exclude_none=True))

    def sample_columns(self) -> tuple[str, ...]:
        """Columns shown for a failing row (none: the whole row)."""
        return self.columns()

    def judge(self, failing: int, total: int) -> Verdict:
        if failing == 0:
            return Verdict(True, f"all {total} rows pass")
        return Verdict(False, f"{failing} of {total} rows fail: {self.describe()}")


class NotNullCheck(RowCheck):
    def columns(self) -> tuple[str, ...]:
        return tuple(self.test.columns)

    def condition(self, engine: Engine) -> str:
        return " AND ".join(f"{quote_identifier(c)} IS NOT NULL" for c in self.test.columns)

    def describe(self) -> str:
        return f"null in {' or '.join(self.test.columns)}"


class UniqueCheck(RowCheck):
    """Every row of a duplicated key fails; a key holding a NULL is not compared."""

    def columns(self) -> tuple[str, ...]:
        return tuple(self.test.columns)

    def condition(self, engine: Engine) -> str:
        keys = [quote_identifier(c) for c in self.test.columns]
        nulls = " OR ".join(f"{k} IS NULL" for k in keys)
        return f"{nulls} OR count(*) OVER (PARTITION BY {', '.join(keys)}) = 1"

    def describe(self) -> str:
        return f"duplicate {', '.join(self.test.columns)}"


class AcceptedValuesCheck(RowCheck):
    def columns(self) -> tuple[str, ...]:
        return (self.test.column,)

    def condition(self, engine: Engine) -> str:
        values = [v for v in self.test.values if v is not None]
        column = quote_identifier(self.test.column)
        if not values:  # only null is accepted
            return f"{column} IS NULL"
        return f"{column} IN ({', '.join(sql_literal(v) for v in values)})"

    def describe(self) -> str:
        shown = ", ".join("null" if v is None else str(v) for v in self.test.values)
        return f"{self.test.column} not in [{shown}]"


class RangeCheck(RowCheck):
    """``min`` and ``max`` are inclusive."""

    def columns(self) -> tuple[str, ...]:
        return (self.test.column,)

    def condition(self, engine: Engine) -> str:
        column = quote_identifier(self.test.column)
        parts = []
        if self.test.min is not None:
            parts.append(f"{column} >= {sql_literal(self.test.min)}")
        if self.test.max is not None:
            parts.append(f"{column} <= {sql_literal(self.test.max)}")
        return " AND ".join(parts)

    def describe(self) -> str:
        low, high = self.test.min, self.test.max
        if low is None:
            return f"{self.test.column} above {high}"
        if high is None:
            return f"{self.test.column} below {low}"
        return f"{self.test.column} outside [{low}, {high}]"


class RegexMatchCheck(RowCheck):
    """The value (as text) contains a match of ``pattern``; anchor it to match all of it."""

    def columns(self) -> tuple[str, ...]:
        return (self.test.column,)

    def condition(self, engine: Engine) -> str:
        column = f"CAST({quote_identifier(self.test.column)} AS VARCHAR)"
        return engine.sql_regex_match(column, self.test.pattern)

    def describe(self) -> str:
        return f"{self.test.column} does not match {self.test.pattern}"


class CustomSqlCheck(RowCheck):
    """A SQL condition a passing row satisfies; up to ``threshold`` (a fraction) may fail."""

    def condition(self, engine: Engine) -> str:
        return self.test.condition

    def describe(self) -> str:
        return f"not ({self.test.condition})"

    def judge(self, failing: int, total: int) -> Verdict:
        rate = failing / total if total else 0.0
        allowed = self.test.threshold
        text = f"{failing} of {total} rows ({rate:.2%}) fail {self.test.condition}"
        if allowed:
            text += f"; {allowed:.2%} may fail"
        return Verdict(rate <= allowed if allowed else failing == 0, text)


# --- aggregate tests ---------------------------------------------------------------------------


class AggregateCheck(Check):
    """A test of the whole frame; its SQL aggregates are computed with every other aggregate
    test's in one query."""

    row_level = False

    def metrics(self) -> dict[str, str]:
        """SQL aggregates this test needs, by a name unique within the test."""
        return {}

    @abstractmethod
    def judge(self, facts: AggregateFacts, metrics: dict[str, Any]) -> Verdict:
        """Judge the frame from ``facts`` and this test's own ``metrics``."""


class RowCountCheck(AggregateCheck):
    def judge(self, facts: AggregateFacts, metrics: dict[str, Any]) -> Verdict:
        low, high = self.test.min, self.test.max
        bounds = " and ".join(
            part for part in (f"at least {low}" if low is not None else "",
                              f"at most {high}" if high is not None else "") if part)
        ok = (low is None or facts.rows >= low) and (high is None or facts.rows <= high)
        return Verdict(ok, f"{facts.rows} rows; expected {bounds}", facts.rows)


class FreshnessCheck(AggregateCheck):
    """The newest value of ``column`` is at most ``max_age`` old. Dates count as midnight UTC,
    timestamps without a time zone as UTC, ISO-8601 strings are parsed."""

    def columns(self) -> tuple[str, ...]:
        return (self.test.column,)

    def metrics(self) -> dict[str, str]:
        return {"newest": f"max({quote_identifier(self.test.column)})"}

    def judge(self, facts: AggregateFacts, metrics: dict[str, Any]) -> Verdict:
        column, limit = self.test.column, self.test.max_age
        newest = _as_instant(metrics["newest"], column)
        if newest is None:
            return Verdict(False, f"{column} has no values, so its freshness is unknown")
        age = facts.now - newest
        shown = json_safe_value(newest)
        ok = age <= limit
        return Verdict(ok, f"newest {column} is {shown}, {_duration(age)} old; max_age "
                       f"{_duration(limit)}", shown)


class SchemaCheck(AggregateCheck):
    """The frame has ``columns`` (exactly those when ``strict``). Without ``columns``, the
    reference is the schema this node last produced (its output for validation, its input for
    contracts) in an earlier successful run."""

    def judge(self, facts: AggregateFacts, metrics: dict[str, Any]) -> Verdict:
        expected = self.test.columns
        source = "declared"
        if expected is None:
            expected = facts.history.last_columns(facts.kind) if facts.history else None
            source = "of the last successful run"
            if expected is None:
                return Verdict(True, "no columns declared and no earlier successful run to "
                               "compare with; passes")
        actual = list(facts.columns)
        missing = [c for c in expected if c not in actual]
        unexpected = [c for c in actual if c not in expected] if self.test.strict else []
        problems = []
        if missing:
            problems.append(f"missing columns: {', '.join(missing)}")
        if unexpected:
            problems.append(f"unexpected columns: {', '.join(unexpected)}")
        if problems:
            return Verdict(False, f"{'; '.join(problems)} (expected {source}: "
                           f"{', '.join(expected)})", actual)
        exact = " exactly" if self.test.strict else ""
        return Verdict(True, f"has{exact} the {len(expected)} columns {source}", actual)


_METRICS = {
    "mean": "avg({c})",
    "median": "median({c})",
    "stddev": "stddev_samp({c})",
    "min": "min({c})",
    "max": "max({c})",
    "sum": "sum({c})",
    "null_percentage": "100.0 * (count(*) - count({c})) / NULLIF(count(*), 0)",
}
_OPERATORS = {
    ">": lambda a, b: a > b, ">=": lambda a, b: a >= b, "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b, "==": lambda a, b: a == b, "!=": lambda a, b: a != b,
}


class DistributionCheck(AggregateCheck):
    """A statistic of ``column`` (``null_percentage`` in 0-100) compared with ``threshold``."""

    def columns(self) -> tuple[str, ...]:
        return (self.test.column,)

    def metrics(self) -> dict[str, str]:
        template = _METRICS[self.test.metric]
        return {"value": template.format(c=quote_identifier(self.test.column))}

    def judge(self, facts: AggregateFacts, metrics: dict[str, Any]) -> Verdict:
        metric, column = self.test.metric, self.test.column
        value = metrics["value"]
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return Verdict(False, f"{metric} of {column} has no value (no rows, or only nulls); "
                           f"expected {self.test.threshold}")
        number = float(value)
        ok = _OPERATORS[self.test.operator](number, self.test.bound)
        return Verdict(ok, f"{metric} of {column} is {number:.10g}; expected "
                       f"{self.test.operator} {self.test.bound:g}", json_safe_value(number))


class VolumeDropCheck(AggregateCheck):
    """Fails when the row count is more than ``threshold`` below the average of this node's
    earlier successful runs in the last ``lookback_days`` (from the run records in ``system``).
    """

    def judge(self, facts: AggregateFacts, metrics: dict[str, Any]) -> Verdict:
        days = self.test.lookback_days
        counts = facts.history.row_counts(facts.kind, now=facts.now, lookback_days=days) \
            if facts.history else []
        if not counts:
            return Verdict(True, f"{facts.rows} rows; no earlier successful run in the last "
                           f"{days} days to compare with, so the test passes", facts.rows)
        average = sum(counts) / len(counts)
        drop = 1 - facts.rows / average if average else 0.0
        text = (f"{facts.rows} rows, {max(drop, 0):.1%} below the average of {average:.10g} over "
                f"{len(counts)} earlier run(s) in {days} days; at most "
                f"{self.test.threshold:.1%} allowed")
        return Verdict(drop <= self.test.threshold, text, facts.rows)


_CHECKS: dict[str, type[Check]] = {
    "not_null": NotNullCheck,
    "unique": UniqueCheck,
    "accepted_values": AcceptedValuesCheck,
    "range": RangeCheck,
    "regex_match": RegexMatchCheck,
    "custom_sql": CustomSqlCheck,
    "row_count": RowCountCheck,
    "freshness": FreshnessCheck,
    "schema": SchemaCheck,
    "distribution": DistributionCheck,
    "volume_drop": VolumeDropCheck,
}


def build_check(test: Any) -> Check:
    """The check for a test config model, chosen by its ``type``.

    Raises:
        ValueError: the type has no check (every SPEC type has one).
    """
    try:
        return _CHECKS[test.type](test)
    except KeyError:
        raise ValueError(f"No check for test type '{test.type}'.") from None


# --- helpers -----------------------------------------------------------------------------------


def _as_instant(value: Any, column: str) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError as exc:
            raise DataError(
                f"freshness: column '{column}' holds '{value}', which is not a date or "
                "timestamp.",
                fix=f"Cast {column} to a timestamp in the transform (cast_columns), or test "
                    "another column.") from exc
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.timezone.utc)
    raise DataError(
        f"freshness: column '{column}' is not a date or timestamp (its newest value is "
        f"{value!r}).",
        fix=f"Test a date or timestamp column, or cast {column} first.")


def _duration(delta: dt.timedelta) -> str:
    seconds = int(delta.total_seconds())
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [f"{days}d" if days else "", f"{hours}h" if hours else "",
             f"{minutes}m" if minutes else "", f"{seconds}s" if seconds and not days else ""]
    return sign + (" ".join(p for p in parts if p) or "0s")
