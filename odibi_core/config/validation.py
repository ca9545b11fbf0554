"""Data tests (SPEC §6): one model per test ``type``, plus the ``validation`` block around them.

The same test models serve ``contracts`` (on a node's input) and ``validation.tests`` (on its
output). Row-level tests may quarantine failing rows; aggregate tests (row_count, freshness,
schema, distribution, volume_drop) judge the whole frame, so their ``on_fail`` is fail or warn.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

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

OnFail = Literal["fail", "warn", "quarantine"]
AggregateOnFail = Literal["fail", "warn"]
Fraction = Annotated[float, Field(ge=0, le=1)]
Columns = Annotated[list[str], Field(min_length=1)]


class _Test(OdibiModel):
    """Fields every test has. ``name`` defaults to the test's type in results."""

    name: str | None = None

    @property
    def display_name(self) -> str:
        return self.name or self.type  # type: ignore[attr-defined]


# --- row-level tests ---------------------------------------------------------------------------


class NotNullTest(_Test):
    type: Literal["not_null"]
    columns: Columns
    on_fail: OnFail = "fail"


class UniqueTest(_Test):
    type: Literal["unique"]
    columns: Columns
    on_fail: OnFail = "fail"


class AcceptedValuesTest(_Test):
    type: Literal["accepted_values"]
    column: str
    values: Annotated[list[Any], Field(min_length=1)]
    on_fail: OnFail = "fail"


class RangeTest(_Test):
    """``min`` and ``max`` are inclusive; either may be left out, not both."""

    type: Literal["range"]
    column: str
    min: Scalar = None
    max: Scalar = None
    on_fail: OnFail = "fail"

    @model_validator(mode="after")
    def _one_bound(self) -> RangeTest:
        if self.min is None and self.max is None:
            raise config_error("A range test needs min, max or both.", fix="Add min: and/or max:.")
        return self


class RegexMatchTest(_Test):
    type: Literal["regex_match"]
    column: str
    pattern: str
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

    type: Literal["custom_sql"]
    condition: str
    threshold: Fraction = 0.0
    on_fail: OnFail = "fail"


# --- aggregate tests ---------------------------------------------------------------------------


class RowCountTest(_Test):
    type: Literal["row_count"]
    min: Annotated[int, Field(ge=0)] | None = None
    max: Annotated[int, Field(ge=0)] | None = None
    on_fail: AggregateOnFail = "fail"

    @model_validator(mode="after")
    def _one_bound(self) -> RowCountTest:
        if self.min is None and self.max is None:
            raise config_error("A row_count test needs min, max or both.",
                               fix="Add min: and/or max:.")
        return self


class FreshnessTest(_Test):
    """The newest value of ``column`` is at most ``max_age`` old."""

    type: Literal["freshness"]
    column: str
    max_age: Duration
    on_fail: AggregateOnFail = "fail"


class SchemaTest(_Test):
    """The output has ``columns`` (exactly these when ``strict``); without ``columns`` the output
    is compared with the existing target's schema."""

    type: Literal["schema"]
    columns: list[str] | None = None
    strict: bool = False
    on_fail: AggregateOnFail = "fail"


_COMPARISON = re.compile(r"^\s*(>=|<=|==|!=|>|<)\s*(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)\s*$")


class DistributionTest(_Test):
    """A statistic of ``column`` compared with a bound, e.g. ``metric: mean, threshold: "> 10"``."""

    type: Literal["distribution"]
    column: str
    metric: Literal["mean", "median", "stddev", "min", "max", "sum", "null_percentage"]
    threshold: str
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

    type: Literal["volume_drop"]
    threshold: Annotated[float, Field(gt=0, le=1)]
    lookback_days: Annotated[int, Field(ge=1)] = 7
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

    connection: str
    path: str | None = None
    table: str | None = None
    format: Literal["delta", "parquet", "csv", "json"] = "delta"
    max_rows: Annotated[int, Field(ge=1)] | None = None
    sample_fraction: Annotated[float, Field(gt=0, le=1)] = 1.0

    @model_validator(mode="after")
    def _one_target(self) -> QuarantineConfig:
        if (self.path is None) == (self.table is None):
            raise config_error("quarantine needs exactly one of path or table.",
                               fix="Keep path: (files) or table: (a catalog table), not both.")
        return self


class GateThresholdConfig(OdibiModel):
    """A minimum pass rate for one test, named by its ``name`` or its ``type``."""

    test: str
    min_pass_rate: Fraction


class GateConfig(OdibiModel):
    """Whether the validated output may be written, judged on pass rates."""

    require_pass_rate: Fraction = 1.0
    on_fail: Literal["abort", "warn_and_write", "write_valid_only"] = "abort"
    thresholds: list[GateThresholdConfig] = Field(default_factory=list)


class ValidationConfig(OdibiModel):
    """Tests on a node's output, after the transform (SPEC §6)."""

    mode: Literal["fail", "warn"] = "fail"
    fail_fast: bool = False
    cache_df: bool = False
    tests: list[TestConfig] = Field(default_factory=list)
    quarantine: QuarantineConfig | None = None
    gate: GateConfig | None = None

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
