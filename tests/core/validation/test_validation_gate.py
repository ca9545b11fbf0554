"""The gate's decision from pass rates; its error."""

from __future__ import annotations

import pytest

from odibi_core.config.validation import GateConfig
from odibi_core.results import TestResult, ValidationResult
from odibi_core.validation import decide_gate, gate_error


def _test(name: str, type_: str, rate: float, *, skipped: bool = False) -> TestResult:
    return TestResult(name=name, type=type_, kind="validation", index=0, on_fail="warn",
                      passed=rate == 1.0, total_rows=100, failing_rows=round(100 * (1 - rate)),
                      pass_rate=rate, skipped=skipped)


RESULT = ValidationResult(kind="validation", total_rows=100, rows_passing=96, tests=(
    _test("ids", "not_null", 0.98), _test("email_ok", "regex_match", 0.97),
    _test("late", "unique", 0.0, skipped=True)))


def test_a_gate_passes_when_every_rate_is_met() -> None:
    gate = decide_gate(RESULT, GateConfig(require_pass_rate=0.95, thresholds=[
        {"test": "not_null", "min_pass_rate": 0.98}, {"test": "unique", "min_pass_rate": 1}]))
    assert (gate.passed, gate.action, gate.failures) == (True, "write", ())
    assert gate.pass_rate == 0.96 and gate.require_pass_rate == 0.95


@pytest.mark.parametrize("on_fail", ["abort", "warn_and_write", "write_valid_only"])
def test_a_failing_gate_takes_its_on_fail_action_and_lists_every_reason(on_fail) -> None:
    gate = decide_gate(RESULT, GateConfig(require_pass_rate=0.99, on_fail=on_fail, thresholds=[
        {"test": "email_ok", "min_pass_rate": 0.99}]))
    assert not gate.passed and gate.action == on_fail
    assert gate.failures == (
        "96.00% of 100 rows pass every row-level test; require_pass_rate is 99.00%",
        "test 'email_ok' passes 97.00% of rows; its threshold is 99.00%")


def test_the_default_gate_requires_every_row_to_pass() -> None:
    assert decide_gate(RESULT, GateConfig()).action == "abort"
    empty = ValidationResult(kind="validation", total_rows=0)
    assert decide_gate(empty, GateConfig()).passed


def test_gate_error_names_node_and_reasons_with_a_fix() -> None:
    gate = decide_gate(RESULT, GateConfig(require_pass_rate=0.99))
    error = gate_error(gate, node="sales.orders")
    assert str(error).startswith("[sales.orders] The validation gate of sales.orders failed, "
                                 "so nothing was written: 96.00% of 100 rows")
    assert "write_valid_only" in error.fix
