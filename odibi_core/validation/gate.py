"""The gate: whether the validated output may be written, judged on pass rates.

``require_pass_rate`` is the fraction of rows passing every row-level test that was acted on;
each ``thresholds`` entry is a minimum pass rate for the tests it names (by name or by type;
an aggregate test's pass rate is 1.0 or 0.0). When the gate fails, ``on_fail`` decides:

- ``abort``: the node fails and nothing is written (no output, no quarantine);
- ``warn_and_write``: everything is written as without a gate; the failure is recorded;
- ``write_valid_only``: only rows passing every row-level test are written.
"""

from __future__ import annotations

from odibi_core.errors import DataError
from odibi_core.results import GateResult, ValidationResult

__all__ = ["decide_gate", "gate_error"]


def decide_gate(result: ValidationResult, config: object) -> GateResult:
    """The gate's decision for ``result`` under ``config`` (a ``GateConfig``).

    Example:
        >>> from odibi_core.config.validation import GateConfig
        >>> from odibi_core.results import ValidationResult
        >>> decide_gate(ValidationResult("validation", 10, rows_passing=9),
        ...             GateConfig(require_pass_rate=0.95)).action
        'abort'
    """
    required = float(config.require_pass_rate)  # type: ignore[attr-defined]
    rate = result.pass_rate
    failures = []
    if rate < required:
        failures.append(f"{rate:.2%} of {result.total_rows} rows pass every row-level test; "
                        f"require_pass_rate is {required:.2%}")
    for threshold in config.thresholds:  # type: ignore[attr-defined]
        for test in result.tests:
            if test.skipped or threshold.test not in (test.name, test.type):
                continue
            if test.pass_rate < threshold.min_pass_rate:
                failures.append(f"test '{test.name}' passes {test.pass_rate:.2%} of rows; its "
                                f"threshold is {threshold.min_pass_rate:.2%}")
    passed = not failures
    return GateResult(passed=passed,
                      action="write" if passed else config.on_fail,  # type: ignore[attr-defined]
                      pass_rate=rate, require_pass_rate=required, failures=tuple(failures))


def gate_error(gate: GateResult, *, node: str) -> DataError:
    """The error of an ``abort`` gate."""
    return DataError(
        f"The validation gate of {node} failed, so nothing was written: "
        + "; ".join(gate.failures) + ".",
        fix="Fix the failing rows upstream, or lower require_pass_rate / the thresholds, or "
            "set gate.on_fail to write_valid_only or warn_and_write.",
        node=node)
