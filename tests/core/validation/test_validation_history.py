"""RunHistory: a node's earlier successful runs from the run records."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from odibi_core.results import ColumnSchema, NodeResult, ValidationResult
from odibi_core.runs import RunRecords
from odibi_core.validation import RunHistory

NOW = dt.datetime.now(dt.timezone.utc)


def _record(records: RunRecords, run_id: str, *, days_ago: float, node: str = "orders",
            status: str = "success", **fields) -> None:
    started = (NOW - dt.timedelta(days=days_ago)).isoformat().replace("+00:00", "Z")
    records.record(run_id, NodeResult(pipeline="sales", node=node, status=status,
                                      started_at=started, duration_seconds=1.0,
                                      engine="pandas", **fields))


def test_row_counts_of_earlier_successful_runs_in_the_window(tmp_path: Path) -> None:
    records = RunRecords(tmp_path)
    _record(records, "a", days_ago=1, rows_in=50, rows_out=40)
    _record(records, "b", days_ago=2, rows_in=70, rows_out=60,
            validation=ValidationResult(kind="validation", total_rows=65))
    _record(records, "old", days_ago=8, rows_in=1, rows_out=1)
    _record(records, "bad", days_ago=1, rows_out=1, status="failed")
    _record(records, "dry", days_ago=1, rows_out=1, dry_run=True)
    _record(records, "other", days_ago=1, rows_out=1, node="customers")
    _record(records, "now", days_ago=0, rows_out=1)
    history = RunHistory(records.root, "sales", "orders", current_run_id="now")
    assert history.row_counts("validation", now=NOW, lookback_days=7) == [40, 65]
    assert history.row_counts("contract", now=NOW, lookback_days=7) == [50, 70]
    assert history.row_counts("validation", now=NOW, lookback_days=30) == [40, 65, 1]


def test_last_columns_come_from_the_newest_successful_run(tmp_path: Path) -> None:
    records = RunRecords(tmp_path)
    _record(records, "a", days_ago=3, schema_out=(ColumnSchema("x", "int64"),))
    _record(records, "b", days_ago=1, schema_in=(ColumnSchema("raw", "string"),),
            schema_out=(ColumnSchema("y", "int64"), ColumnSchema("z", "string")))
    history = RunHistory(lambda: records.root, "sales", "orders")
    assert history.last_columns("validation") == ["y", "z"]
    assert history.last_columns("contract") == ["raw"]


def test_no_records_means_no_history(tmp_path: Path) -> None:
    history = RunHistory(tmp_path / "nothing", "sales", "orders")
    assert history.row_counts("validation", now=NOW, lookback_days=7) == []
    assert history.last_columns("validation") is None


def test_an_unreadable_record_is_skipped(tmp_path: Path) -> None:
    records = RunRecords(tmp_path)
    _record(records, "a", days_ago=1, rows_out=5)
    broken = records.run_dir("b") / "sales" / "orders.json"
    broken.parent.mkdir(parents=True)
    broken.write_text("{not json", encoding="utf-8")
    history = RunHistory(records.root, "sales", "orders")
    assert history.row_counts("validation", now=NOW, lookback_days=7) == [5]
