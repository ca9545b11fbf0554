"""Data tests (SPEC §6): one model per test ``type``, plus the ``validation`` block around them.

The same test models serve ``contracts`` (on a node's input) and ``validation.tests`` (on its
output). Row-level tests may quarantine failing rows; aggregate tests (row_count, freshness,
schema, distribution, volume_drop) judge the whole frame, so their ``on_fail`` is fail or warn.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from odibi_core.config.base import Duration, OdibiModel, Scalar, config_error

__all__ = [
    "AcceptedValuesTest",
    "CustomSqlTest",
    "DistributionTest",
    "FreshnessTest",
    "GateConfig",
    "GateThresholdConfig",
    "NotNullTest",
    "QuarantineConfig",
    "RangeTest",
    "RegexMatchTest",
    "RowCountTest",
    "SchemaTest",
    "TestConfig",
    "UniqueTest",
    "ValidationConfig",
    "VolumeDropTest",
]

OnFail = Annotated[Literal["fail", "warn", "quarantine"], Field(
    description="When rows fail: fail the node, warn (record it), or quarantine (move the failing "
    "rows to validation.quarantine; the valid rows go on).")]
AggregateOnFail = Annotated[Literal["fail", "warn"], Field(
    description="When the test fails: fail the node, or warn (record it).")]
Fraction = Annotated[float, Field(ge=0, le=1)]
Columns = Annotated[list[str], Field(min_length=1)]


class _Test(OdibiModel):
    """Fields every test has. ``name`` defaults to the test's type in results."""

    name: str | None = None
    """The test's name in results, asset checks and gate thresholds; defaults to its type."""

    @property
    def display_name(self) -> str:
        return self.name or self.type  # type: ignore[attr-defined]


# --- row-level tests ---------------------------------------------------------------------------


class NotNullTest(_Test):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"type": "not_null", "columns": ["order_id", "amount"], "on_fail": "quarantine"},
    ]})

    type: Literal["not_null"]
    """Rows where any of columns is null fail."""
    columns: Columns
    """The columns that may not be null."""
    on_fail: OnFail = "fail"


class UniqueTest(_Test):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"type": "unique", "columns": ["order_id"]},
    ]})

    type: Literal["unique"]
    """Rows whose combination of columns is repeated fail."""
    columns: Columns
    """The columns whose combined values must be unique."""
    on_fail: OnFail = "fail"


class AcceptedValuesTest(_Test):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"type": "accepted_values", "column": "status", "values": ["open", "shipped"]},
    ]})

    type: Literal["accepted_values"]
    """Rows whose column is not one of values fail."""
    column: str
    """The column to check."""
    values: Annotated[list[Any], Field(min_length=1)]
    """The values allowed."""
    on_fail: OnFail = "fail"


class RangeTest(_Test):
    """``min`` and ``max`` are inclusive; either may be left out, not both."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"type": "range", "column": "amount", "min": 0, "max": 100000, "on_fail": "quarantine"},
    ]})

    type: Literal["range"]
    """Rows whose column is below min or above max fail."""
    column: str
    """The column to check."""
    min: Scalar = None
    """The smallest value allowed (inclusive)."""
    max: Scalar = None
    """The largest value allowed (inclusive)."""
    on_fail: OnFail = "fail"

    @model_validator(mode="after")
    def _one_bound(self) -> RangeTest:
        if self.min is None and self.max is None:
            raise config_error("A range test needs min, max or both.", fix="Add min: and/or max:.")
        return self


class RegexMatchTest(_Test):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"type": "regex_match",
         "column": "email",
         "pattern": "^[^@]+@[^@]+$",
         "on_fail": "warn"},
    ]})

    type: Literal["regex_match"]
    """Rows whose column does not match pattern fail."""
    column: str
    """The column to check."""
    pattern: str
    """A regular expression (quote it in YAML) the value must match."""
    on_fail: OnFail = "fail"

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise config_error(f"The pattern does not compile: {exc}.",
                               fix="Write a valid regular expression (quote it in YAML).") from exc
        return value


class CustomSqlTest(_Test):
    """A SQL condition every row must satisfy; ``threshold`` is the fraction of rows allowed to
    fail."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"type": "custom_sql",
         "name": "dates_ordered",
         "condition": "created_at <= updated_at",
         "threshold": 0.01},
    ]})

    type: Literal["custom_sql"]
    """Rows for which a SQL condition is false fail."""
    condition: str
    """A SQL boolean expression over the row's columns, true for a good row."""
    threshold: Fraction = 0.0
    """The fraction of rows allowed to fail before the test fails."""
    on_fail: OnFail = "fail"


# --- aggregate tests ---------------------------------------------------------------------------


class RowCountTest(_Test):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"type": "row_count", "min": 1},
    ]})

    type: Literal["row_count"]
    """The frame's row count is within min and max."""
    min: Annotated[int, Field(ge=0)] | None = None
    """The fewest rows allowed."""
    max: Annotated[int, Field(ge=0)] | None = None
    """The most rows allowed."""
    on_fail: AggregateOnFail = "fail"

    @model_validator(mode="after")
    def _one_bound(self) -> RowCountTest:
        if self.min is None and self.max is None:
            raise config_error("A row_count test needs min, max or both.",
                               fix="Add min: and/or max:.")
        return self


class FreshnessTest(_Test):
    """The newest value of ``column`` is at most ``max_age`` old."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"type": "freshness", "column": "updated_at", "max_age": "24h"},
    ]})

    type: Literal["freshness"]
    """The newest value of column is recent enough."""
    column: str
    """A date or timestamp column."""
    max_age: Duration
    """The oldest the newest value may be."""
    on_fail: AggregateOnFail = "fail"


class SchemaTest(_Test):
    """The output has ``columns`` (exactly these when ``strict``); without ``columns`` the output
    is compared with the existing target's schema."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"type": "schema", "columns": ["order_id", "amount"], "strict": False},
    ]})

    type: Literal["schema"]
    """The frame has the expected columns."""
    columns: list[str] | None = None
    """The columns expected; absent, the existing target's schema."""
    strict: bool = False
    """Fail on columns not listed too."""
    on_fail: AggregateOnFail = "fail"


_COMPARISON = re.compile(r"^\s*(>=|<=|==|!=|>|<)\s*(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)\s*$")


class DistributionTest(_Test):
    """A statistic of ``column`` compared with a bound, e.g. ``metric: mean, threshold: "> 10"``."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"type": "distribution",
         "column": "amount",
         "metric": "mean",
         "threshold": "> 10",
         "on_fail": "warn"},
    ]})

    type: Literal["distribution"]
    """A statistic of column is compared with a bound."""
    column: str
    """The column to measure."""
    metric: Literal["mean", "median", "stddev", "min", "max", "sum", "null_percentage"]
    """The statistic."""
    threshold: str
    """The comparison the statistic must satisfy, quoted: "> 10", "<= 0.05"."""
    on_fail: AggregateOnFail = "fail"

    @field_validator("threshold", mode="before")
    @classmethod
    def _comparison(cls, value: Any) -> Any:
        if not isinstance(value, str) or not _COMPARISON.match(value):
            raise config_error(
                f"'{value}' is not a comparison.",
                fix="Write an operator and a number, quoted: \"> 10\", \">= 0.5\", \"!= 0\".",
            )
        return value

    @property
    def operator(self) -> str:
        return _COMPARISON.match(self.threshold).group(1)  # type: ignore[union-attr]

    @property
    def bound(self) -> float:
        return float(_COMPARISON.match(self.threshold).group(2))  # type: ignore[union-attr]


class VolumeDropTest(_Test):
    """Fails when the row count drops by more than ``threshold`` (a fraction) against the average
    of the last ``lookback_days`` runs."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"type": "volume_drop", "threshold": 0.5, "lookback_days": 7, "on_fail": "warn"},
    ]})

    type: Literal["volume_drop"]
    """The row count does not drop sharply against recent runs."""
    threshold: Annotated[float, Field(gt=0, le=1)]
    """The largest drop allowed, as a fraction of the average (0.5: half)."""
    lookback_days: Annotated[int, Field(ge=1)] = 7
    """The days of earlier runs averaged."""
    on_fail: AggregateOnFail = "fail"


TestConfig = Annotated[
    NotNullTest
    | UniqueTest
    | AcceptedValuesTest
    | RangeTest
    | RegexMatchTest
    | CustomSqlTest
    | RowCountTest
    | FreshnessTest
    | SchemaTest
    | DistributionTest
    | VolumeDropTest,
    Field(discriminator="type"),
]
"""Any data test, chosen by its ``type``."""


# --- the validation block ----------------------------------------------------------------------


class QuarantineConfig(OdibiModel):
    """Where failing rows go (with ``_rejection_reason``, ``_failed_tests``, ``_rejected_at``,
    ``_source_batch_id``). ``max_rows`` caps one batch; ``sample_fraction`` keeps a sample."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"connection": "lake", "path": "_quarantine/orders", "max_rows": 10000},
    ]})

    connection: str
    """The connection the quarantined rows are written to."""
    path: str | None = None
    """Where on it (files); or table."""
    table: str | None = None
    """A catalog table; or path."""
    format: Literal["delta", "parquet", "csv", "json"] = "delta"
    """The format the rows are written in."""
    max_rows: Annotated[int, Field(ge=1)] | None = None
    """Quarantine at most this many rows of one batch."""
    sample_fraction: Annotated[float, Field(gt=0, le=1)] = 1.0
    """The fraction of failing rows kept (1.0: all)."""

    @model_validator(mode="after")
    def _one_target(self) -> QuarantineConfig:
        if (self.path is None) == (self.table is None):
            raise config_error("quarantine needs exactly one of path or table.",
                               fix="Keep path: (files) or table: (a catalog table), not both.")
        return self


class GateThresholdConfig(OdibiModel):
    """A minimum pass rate for one test, named by its ``name`` or its ``type``."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"test": "not_null", "min_pass_rate": 0.99},
    ]})

    test: str
    """The test, by its name or type."""
    min_pass_rate: Fraction
    """The smallest fraction of rows that must pass it."""


class GateConfig(OdibiModel):
    """Whether the validated output may be written, judged on pass rates."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"require_pass_rate": 0.95,
         "on_fail": "abort",
         "thresholds": [{"test": "not_null", "min_pass_rate": 0.99}]},
    ]})

    require_pass_rate: Fraction = 1.0
    """The smallest fraction of rows that must pass every test."""
    on_fail: Literal["abort", "warn_and_write", "write_valid_only"] = "abort"
    """When the gate fails: abort (write nothing), warn_and_write, or write_valid_only."""
    thresholds: list[GateThresholdConfig] = Field(default_factory=list)
    """Pass rates for single tests, over require_pass_rate."""


class ValidationConfig(OdibiModel):
    """Tests on a node's output, after the transform (SPEC §6)."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"mode": "fail",
         "tests": [{"type": "not_null", "columns": ["order_id"], "on_fail": "quarantine"},
                   {"type": "unique", "columns": ["order_id"]}],
         "quarantine": {"connection": "lake", "path": "_quarantine/orders"}},
    ]})

    mode: Literal["fail", "warn"] = "fail"
    """fail: a failing test with on_fail: fail fails the node; warn: every failure is only
    recorded."""
    fail_fast: bool = False
    """Stop at the first failing test (in declared order); the rest are reported as skipped."""
    cache_df: bool = False
    """Cache the frame before the tests run (matters on Spark)."""
    tests: list[TestConfig] = Field(default_factory=list)
    """The tests of the node's output, each chosen by its type."""
    quarantine: QuarantineConfig | None = None
    """Where rows failing a test with on_fail: quarantine go."""
    gate: GateConfig | None = None
    """Whether the output may be written, judged on pass rates."""

    @model_validator(mode="after")
    def _consistent(self) -> ValidationConfig:
        if self.quarantine is None:
            for index, test in enumerate(self.tests):
                if test.on_fail == "quarantine":
                    raise config_error(
                        f"Test '{test.display_name}' quarantines failing rows, but validation has "
                        "no quarantine destination.",
                        fix="Add quarantine: {connection: ..., path: ...} to validation, or "
                        "change on_fail.",
                        key=f"tests[{index}].on_fail",
                    )
        if self.gate is not None:
            known = {test.name for test in self.tests if test.name}
            known |= {test.type for test in self.tests}
            for index, threshold in enumerate(self.gate.thresholds):
                if threshold.test not in known:
                    raise config_error(
                        f"Gate threshold names test '{threshold.test}', which is not among this "
                        "node's tests.",
                        fix=f"Use a test's name or type: {', '.join(sorted(known)) or '(none)'}.",
                        key=f"gate.thresholds[{index}].test",
                    )
        return self
