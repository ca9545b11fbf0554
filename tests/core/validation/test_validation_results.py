"""The data-quality records on NodeResult round-trip through dicts and JSON."""

from __future__ import annotations

import json

from odibi_core.results import (
    GateResult,
    NodeResult,
    QuarantineResult,
    TestResult,
    ValidationResult,
)


def test_node_result_with_quality_records_round_trips() -> None:
    test = TestResult(name="ids", type="not_null", kind="validation", index=0,
                      on_fail="quarantine", passed=False, total_rows=10, failing_rows=2,
                      pass_rate=0.8, sample=({"id": None}, 3), message="2 of 10 rows fail")
    contract = TestResult(name="row_count", type="row_count", kind="contract", index=0,
                          on_fail="fail", passed=True, total_rows=10, observed=10)
    result = NodeResult(
        pipeline="p", node="n", status="success", started_at="2026-01-01T00:00:00Z",
        duration_seconds=1.0, engine="pandas",
        contracts=ValidationResult(kind="contract", total_rows=10, tests=(contract,),
                                   rows_passing=10),
        validation=ValidationResult(kind="validation", total_rows=10, tests=(test,),
                                    rows_passing=8, stopped_at="ids"),
        quarantine=QuarantineResult(rows=2, rows_written=1, destination="lake:q", format="delta",
                                    batch_id="b", tests=("ids",), delta_version=3),
        gate=GateResult(passed=False, action="warn_and_write", pass_rate=0.8,
                        require_pass_rate=0.9, failures=("too many",), rows_dropped=0),
    )
    data = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert NodeResult.from_dict(data) == result
    assert NodeResult.from_dict(NodeResult(pipeline="p", node="n", status="skipped",
                                           started_at="x", duration_seconds=0,
                                           engine="pandas").to_dict()).validation is None


def test_validation_result_properties() -> None:
    failed = TestResult(name="a", type="unique", kind="validation", index=0, on_fail="warn",
                        passed=False, total_rows=4, failing_rows=2, pass_rate=0.5)
    skipped = TestResult(name="b", type="unique", kind="validation", index=1, on_fail="warn",
                         passed=False, total_rows=4, skipped=True)
    result = ValidationResult(kind="validation", total_rows=4, tests=(failed, skipped),
                              rows_passing=2)
    assert result.failed_tests == (failed,) and not result.passed and result.pass_rate == 0.5
    assert skipped.summary()["status"] == "skipped" and failed.location == "validation.tests[0]"
    assert result.summary()[0] == {
        "test": "a", "type": "unique", "on_fail": "warn", "status": "failed",
        "failing_rows": 2, "total_rows": 4, "pass_rate": 0.5, "sample": [], "message": ""}
