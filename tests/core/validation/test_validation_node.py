"""Contracts, validation, quarantine and gate through NodeRunner, on a real project in tmp_path
with the fixture tests/fixtures/quality/orders.csv (15 rows with known defects)."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import textwrap
from pathlib import Path

import pytest
from deltalake import DeltaTable  # the tests inspect the written tables with delta-rs directly

from odibi_core.config import load_project
from odibi_core.engines import get_engine
from odibi_core.node import NodeRunner, RunContext
from odibi_core.results import NodeResult
from odibi_core.runs import RunMeta, RunRecords, system_root
from odibi_core.story import RunStory
from odibi_core.story.render_md import render_markdown

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "quality" / "orders.csv"

# Row identities of orders.csv, by email (order_id is null or duplicated in some rows).
VALID = ["ada@example.com", "ann@example.com", "bob@example.com", "not-an-email",
         "tim@example.com", None]
QUARANTINED = ["cat@example.com", "dan@example.com", "eve@example.com", "joe@example.com",
               "kim@example.com", "lee2@example.com", "lee@example.com", "max@example.com",
               "nul@example.com"]

PROJECT = """\
project: quality
connections:
  src: {type: local, base_path: ./src}
  lake: {type: local, base_path: ./lake}
system: {connection: lake, path: _system}
pipelines:
  - pipeline: sales
    nodes:
      - name: orders
        read: {connection: src, format: csv, path: orders.csv}
%CONTRACTS%
        transform:
          steps:
            - >-
              SELECT order_id, email, status, amount,
                TRY_CAST(created_at AS TIMESTAMP) AS created_at,
                TRY_CAST(updated_at AS TIMESTAMP) AS updated_at FROM df
%VALIDATION%
        write: {connection: lake, format: delta, path: silver/orders}
      - name: totals
        inputs: {o: $sales.orders}
        contracts:
          - {type: row_count, min: 1}
        transform:
          steps: ["SELECT count(*) AS n FROM o"]
"""

ROW_TESTS = """\
tests:
  - {type: not_null, columns: [order_id, amount, created_at], on_fail: quarantine}
  - {type: unique, columns: [order_id], on_fail: quarantine}
  - {type: accepted_values, column: status, values: [open, shipped], on_fail: quarantine}
  - {type: range, column: amount, min: 0, max: 100000, on_fail: quarantine}
  - {type: regex_match, column: email, pattern: "^[^@]+@[^@]+$", on_fail: warn}
  - {type: custom_sql, name: dates_ordered, condition: "created_at <= updated_at", on_fail: quarantine}
"""
QUARANTINE = "quarantine: {connection: lake, path: _quarantine/orders}\n"


def make_project(tmp_path: Path, validation: str | None = ROW_TESTS + QUARANTINE,
                 contracts: str = "") -> Path:
    (tmp_path / "src").mkdir(exist_ok=True)
    shutil.copy(FIXTURE, tmp_path / "src" / "orders.csv")
    block = "" if validation is None else "validation:\n" + textwrap.indent(validation, "  ")
    body = (PROJECT.replace("%VALIDATION%", textwrap.indent(block, " " * 8))
            .replace("%CONTRACTS%", textwrap.indent(contracts, " " * 8)))
    (tmp_path / "odibi.yaml").write_text(body, encoding="utf-8")
    return tmp_path / "odibi.yaml"


def run(path: Path, key: str = "sales.orders", **context):
    project = load_project(path)
    runner = NodeRunner(project, get_engine("pandas"))
    return runner.run(key, inputs={}, context=RunContext(**{"run_id": "r1", **context}))


def emails(tmp_path: Path, table: str) -> list:
    values = DeltaTable(str(tmp_path / "lake" / table)).to_pyarrow_table()["email"].to_pylist()
    return sorted(values, key=lambda v: (v is None, v))


def test_quarantine_splits_the_exact_rows_and_records_everything(tmp_path: Path) -> None:
    node = run(make_project(tmp_path))
    assert node.succeeded, node.result.error
    result = node.result
    assert emails(tmp_path, "silver/orders") == VALID
    assert emails(tmp_path, "_quarantine/orders") == QUARANTINED
    assert (result.rows_in, result.rows_out, result.rows_written) == (15, 6, 6)
    assert [t.phase for t in result.timings] == ["read", "transform", "validate", "quarantine",
                                                 "write"]
    counts = {t.name: t.failing_rows for t in result.validation.tests}
    assert counts == {"not_null": 3, "unique": 2, "accepted_values": 1, "range": 2,
                      "regex_match": 1, "dates_ordered": 1}
    assert all(t.kind == "validation" for t in result.validation.tests)
    quarantine = result.quarantine
    assert (quarantine.rows, quarantine.rows_written, quarantine.format) == (9, 9, "delta")
    assert quarantine.destination == "lake:_quarantine/orders"
    assert quarantine.tests == ("not_null", "unique", "accepted_values", "range",
                                "dates_ordered")
    assert set(result.extra) == {"validation", "quarantine", "batch"}
    assert result.extra["validation"][4] == {
        "test": "regex_match", "type": "regex_match", "on_fail": "warn", "status": "failed",
        "failing_rows": 1, "total_rows": 15, "pass_rate": 0.933333, "sample": ["not-an-email"],
        "message": "1 of 15 rows fail: email does not match ^[^@]+@[^@]+$"}
    assert result.extra["quarantine"]["rows"] == 9
    json.dumps(result.to_dict(), allow_nan=False)  # JSON-safe throughout
    # The output handed downstream is the valid rows.
    assert sorted(r["email"] or "" for r in get_engine("pandas").to_rows(node.output)) == \
        sorted(v or "" for v in VALID)


def test_running_the_same_input_twice_leaves_one_copy_in_quarantine(tmp_path: Path) -> None:
    path = make_project(tmp_path)
    first_run = run(path, run_id="r1").result
    first, second = first_run.quarantine, run(path, run_id="r2").result.quarantine
    # The rejected rows are tagged with the batch the node writes (derived from its input).
    assert first.batch_id == second.batch_id == first_run.extra["batch"]["batch_id"]
    table = DeltaTable(str(tmp_path / "lake" / "_quarantine" / "orders"))
    assert table.to_pyarrow_table().num_rows == 9 and table.version() == 1
    # A run batch id (e.g. a partition key) is its own batch, replaced on a rerun too.
    for run_id in ("r3", "r4"):
        assert run(path, run_id=run_id, batch_id="2026-01-05").result.quarantine.batch_id == \
            "2026-01-05"
    # Without a batch id, the partition key is the batch.
    assert run(path, run_id="r5", partition_key="2026-01-06").result.quarantine.batch_id == \
        "2026-01-06"
    table = DeltaTable(str(tmp_path / "lake" / "_quarantine" / "orders"))
    batches = table.to_pyarrow_table()["_source_batch_id"].to_pylist()
    assert len(batches) == 27 and batches.count("2026-01-05") == 9


def test_a_failing_fail_test_fails_the_node_before_anything_is_written(tmp_path: Path) -> None:
    path = make_project(tmp_path, validation="""\
tests:
  - {type: not_null, columns: [order_id, amount, created_at]}
  - {type: accepted_values, column: status, values: [open, shipped], on_fail: quarantine}
  - {type: row_count, max: 10}
quarantine: {connection: lake, path: _quarantine/orders}
""")
    node = run(path)
    assert not node.succeeded
    error = node.result.error
    assert error.phase == "validate" and error.type == "DataError"
    assert error.message.startswith(
        "Validation of sales.orders failed: 2 tests with on_fail: fail did not pass (15 rows "
        "checked); nothing was written:")
    assert ("  - 'not_null' (not_null, validation.tests[0]): 3 of 15 rows fail: null in "
            "order_id or amount or created_at; sample failing values: [{\"order_id\": 5, "
            "\"amount\": null, \"created_at\": \"2026-01-03T10:00:00\"}, {\"order_id\": null, "
            "\"amount\": 100.0, ") in error.message
    assert "'row_count' (row_count, validation.tests[2]): 15 rows; expected at most 10" \
        in error.message
    assert error.fix.startswith("Fix the data (or the transform)")
    assert not (tmp_path / "lake" / "silver").exists()
    assert not (tmp_path / "lake" / "_quarantine").exists()
    assert node.result.validation is not None and node.result.validation.tests[1].failing_rows \
        == 1  # the failed node still reports every test
    assert "validation" in node.result.extra
    assert "sales.orders" in str(node.exception)


def test_warn_and_mode_warn_record_failures_and_let_the_node_succeed(tmp_path: Path) -> None:
    path = make_project(tmp_path, validation="""\
mode: warn
tests:
  - {type: not_null, columns: [amount]}
  - {type: distribution, column: amount, metric: mean, threshold: "< 10", on_fail: warn}
""")
    node = run(path)
    assert node.succeeded, node.result.error
    tests = node.result.validation.tests
    assert [(t.on_fail, t.passed) for t in tests] == [("warn", False), ("warn", False)]
    assert tests[1].message == "mean of amount is 14351.96429; expected < 10"
    assert tests[1].observed == pytest.approx(200927.5 / 14)
    assert node.result.rows_written == 15


def test_contracts_check_the_input_and_list_every_failing_contract(tmp_path: Path) -> None:
    path = make_project(tmp_path, validation=None, contracts="""\
contracts:
  - {type: not_null, columns: [amount]}
  - {type: accepted_values, column: status, values: [open, shipped]}
  - {type: row_count, min: 1}
  - {type: schema, columns: [order_id, email, total]}
""")
    node = run(path)
    assert not node.succeeded
    error = node.result.error
    assert error.phase == "contracts"
    assert error.message == (
        "The input of sales.orders breaks 3 contracts (15 rows checked):\n"
        "  - 'not_null' (not_null, contracts[0]): 1 of 15 rows fail: null in amount; sample "
        "failing values: [null]\n"
        "  - 'accepted_values' (accepted_values, contracts[1]): 1 of 15 rows fail: status not "
        "in [open, shipped]; sample failing values: [\"lost\"]\n"
        "  - 'schema' (schema, contracts[3]): missing columns: total (expected declared: "
        "order_id, email, total)")
    assert error.fix.startswith("Contracts check the input before the transform")
    assert [t.phase for t in node.result.timings] == ["read", "contracts"]  # no transform
    contracts = node.result.contracts
    assert [t.kind for t in contracts.tests] == ["contract"] * 4 and contracts.total_rows == 15
    assert node.result.extra["contracts"][2]["status"] == "passed"


def test_contracts_that_pass_let_the_node_run(tmp_path: Path) -> None:
    path = make_project(tmp_path, validation=None, contracts="""\
contracts:
  - {type: row_count, min: 15, max: 15}
  - {type: unique, columns: [email]}
""")
    node = run(path)
    assert node.succeeded, node.result.error
    assert node.result.contracts.passed and node.result.validation is None
    assert [t.phase for t in node.result.timings] == ["read", "contracts", "transform", "write"]


def test_contracts_need_an_input_frame(tmp_path: Path) -> None:
    node = run(make_project(tmp_path), key="sales.totals")
    assert node.result.error.phase == "contracts"
    assert "declares contracts, but it has no input frame" in node.result.error.message


def test_a_test_naming_a_missing_column_says_which_and_suggests(tmp_path: Path) -> None:
    path = make_project(tmp_path, validation="tests:\n  - {type: range, column: amout, min: 0}\n")
    error = run(path).result.error
    assert error.phase == "validate"
    assert error.message.startswith(
        "test 'range' (validation.tests[0]) names column 'amout', which the output does not "
        "have. Did you mean 'amount'? Available columns: order_id, email, status, amount, "
        "created_at, updated_at.")


GATED = ROW_TESTS + QUARANTINE


def test_gate_abort_fails_the_node_and_writes_nothing(tmp_path: Path) -> None:
    path = make_project(tmp_path, validation=GATED + "gate: {require_pass_rate: 0.9}\n")
    node = run(path)
    error = node.result.error
    assert error.phase == "validate"
    assert error.message == (
        "The validation gate of sales.orders failed, so nothing was written: 33.33% of 15 rows "
        "pass every row-level test; require_pass_rate is 90.00%.")
    assert node.result.gate.action == "abort" and not node.result.gate.passed
    assert node.result.extra["gate"]["action"] == "abort"
    assert not (tmp_path / "lake").exists()


def test_gate_thresholds_name_tests_by_name_or_type(tmp_path: Path) -> None:
    path = make_project(tmp_path, validation=GATED + """\
gate:
  require_pass_rate: 0
  thresholds: [{test: regex_match, min_pass_rate: 0.99}, {test: dates_ordered, min_pass_rate: 0.5}]
""")
    error = run(path).result.error
    assert error.message.endswith(
        "test 'regex_match' passes 93.33% of rows; its threshold is 99.00%.")


def test_gate_warn_and_write_writes_everything_and_records_the_warning(tmp_path: Path) -> None:
    path = make_project(tmp_path, validation=GATED + """\
gate: {require_pass_rate: 0.9, on_fail: warn_and_write}
""")
    node = run(path)
    assert node.succeeded, node.result.error
    gate = node.result.gate
    assert (gate.passed, gate.action, gate.rows_dropped) == (False, "warn_and_write", 0)
    assert gate.pass_rate == pytest.approx(5 / 15)
    assert emails(tmp_path, "silver/orders") == VALID
    assert emails(tmp_path, "_quarantine/orders") == QUARANTINED


def test_gate_write_valid_only_writes_rows_passing_every_test(tmp_path: Path) -> None:
    path = make_project(tmp_path, validation=GATED + """\
gate: {require_pass_rate: 0.9, on_fail: write_valid_only}
""")
    node = run(path)
    assert node.succeeded, node.result.error
    assert emails(tmp_path, "silver/orders") == [e for e in VALID if e != "not-an-email"]
    assert emails(tmp_path, "_quarantine/orders") == QUARANTINED
    assert node.result.gate.rows_dropped == 1 and node.result.rows_written == 5


def test_a_passing_gate_writes_as_usual(tmp_path: Path) -> None:
    path = make_project(tmp_path, validation=GATED + "gate: {require_pass_rate: 0.3}\n")
    node = run(path)
    assert node.succeeded and node.result.gate.passed and node.result.gate.action == "write"
    assert node.result.rows_written == 6


def test_max_rows_and_sample_fraction_cap_what_is_written(tmp_path: Path) -> None:
    path = make_project(tmp_path, validation=ROW_TESTS + """\
quarantine: {connection: lake, path: _quarantine/orders, max_rows: 4, sample_fraction: 0.8}
""")
    quarantine = run(path).result.quarantine
    assert (quarantine.rows, quarantine.rows_written) == (9, 4)
    assert DeltaTable(str(tmp_path / "lake/_quarantine/orders")).to_pyarrow_table().num_rows == 4


def test_dry_run_validates_but_writes_no_quarantine(tmp_path: Path) -> None:
    node = run(make_project(tmp_path), dry_run=True)
    assert node.succeeded
    assert (node.result.quarantine.rows, node.result.quarantine.rows_written) == (9, 0)
    assert not (tmp_path / "lake").exists()


def _record_earlier(path: Path, run_id: str, *, rows: int, days_ago: float,
                    status: str = "success", dry_run: bool = False, columns=None) -> None:
    project = load_project(path)
    started = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=days_ago)
    records = RunRecords(system_root(project))
    records.start(RunMeta(run_id=run_id, project="quality", started_at=started.isoformat()))
    from odibi_core.results import ColumnSchema

    records.record(run_id, NodeResult(
        pipeline="sales", node="orders", status=status,  # type: ignore[arg-type]
        started_at=started.isoformat().replace("+00:00", "Z"), duration_seconds=1.0,
        engine="pandas", rows_in=rows, rows_out=rows, dry_run=dry_run,
        schema_out=tuple(ColumnSchema(c, "string") for c in (columns or ()))))


def test_volume_drop_compares_with_earlier_successful_runs(tmp_path: Path) -> None:
    path = make_project(tmp_path, validation="tests:\n  - {type: volume_drop, threshold: 0.5}\n")
    _record_earlier(path, "old1", rows=100, days_ago=1)
    _record_earlier(path, "old2", rows=20, days_ago=2)
    _record_earlier(path, "too_old", rows=1000, days_ago=10)
    _record_earlier(path, "failed", rows=1000, days_ago=1, status="failed")
    _record_earlier(path, "dry", rows=1000, days_ago=1, dry_run=True)
    error = run(path).result.error
    assert "'volume_drop' (volume_drop, validation.tests[0]): 15 rows, 75.0% below the " \
           "average of 60 over 2 earlier run(s) in 7 days; at most 50.0% allowed" \
           in error.message


def test_volume_drop_passes_within_threshold_and_counts_this_runs_output(tmp_path: Path) -> None:
    path = make_project(tmp_path, validation="tests:\n  - {type: volume_drop, threshold: 0.5}\n")
    _record_earlier(path, "old1", rows=20, days_ago=1)
    node = run(path)
    assert node.succeeded and node.result.validation.tests[0].message.startswith(
        "15 rows, 25.0% below the average of 20 over 1 earlier run(s)")
    # This run's record counts for the next one.
    RunRecords(system_root(load_project(path))).record("r1", node.result)
    again = run(path, run_id="r2").result.validation.tests[0]
    assert "over 2 earlier run(s)" in again.message


def test_schema_without_columns_compares_with_the_last_successful_run(tmp_path: Path) -> None:
    path = make_project(tmp_path, validation="tests:\n  - {type: schema, strict: true}\n")
    first = run(path).result.validation.tests[0]
    assert first.passed and "no earlier successful run" in first.message
    _record_earlier(path, "old", rows=15, days_ago=1,
                    columns=["order_id", "email", "status", "amount", "region"])
    error = run(path, run_id="r2").result.error
    assert "missing columns: region; unexpected columns: created_at, updated_at (expected of " \
           "the last successful run: order_id, email, status, amount, region)" in error.message


def test_results_round_trip_through_run_records_and_render_in_the_story(tmp_path: Path) -> None:
    path = make_project(tmp_path, validation=GATED + """\
gate: {require_pass_rate: 0.9, on_fail: warn_and_write}
""", contracts="contracts:\n  - {type: row_count, min: 1}\n")
    result = run(path).result
    records = RunRecords(tmp_path / "sys")
    records.record("r1", result)
    assert records.results("r1", "sales") == [result]
    story = RunStory(project="quality", pipeline="sales", run_id="r1", environment=None,
                     engine="pandas", started_at=result.started_at, finished_at=None,
                     status="success", nodes=(result,))
    assert RunStory.from_dict(json.loads(json.dumps(story.to_dict()))) == story
    markdown = render_markdown(story)
    for heading in ("Contracts", "Validation", "Quarantine", "Gate"):
        assert f"### {heading}" in markdown
    assert "dates_ordered" in markdown and "warn_and_write" in markdown


def test_quarantine_to_a_parquet_folder_is_idempotent_too(tmp_path: Path) -> None:
    path = make_project(tmp_path, validation=ROW_TESTS + """\
quarantine: {connection: lake, path: _quarantine/orders, format: parquet}
""")
    run(path, run_id="r1")
    run(path, run_id="r2")
    files = list((tmp_path / "lake" / "_quarantine" / "orders").glob("*.parquet"))
    assert len(files) == 1
    import pyarrow.parquet as pq

    assert pq.read_table(files[0]).num_rows == 9
