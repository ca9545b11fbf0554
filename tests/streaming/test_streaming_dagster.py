"""A streaming node is a Dagster asset: each materialization runs its query once and records
the micro-batches, rows and watermark as metadata; its checks and the node downstream of it
(which reads the Delta target back) run as for any node."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from odibi_dagster import defs_from_project
from odibi_dagster import metadata as md
from tests.streaming.streams import APPEND_NODE, arrive, event, write_project

pytestmark = pytest.mark.usefixtures("spark_session")

DOWNSTREAM = """\
- name: per_customer
  depends_on: [events]
  transform:
    steps:
      - "SELECT customer, count(*) AS events FROM df GROUP BY customer"
  write: {connection: lake, format: delta, path: gold/per_customer}
"""


def _materialize(path: Path) -> dg.ExecuteInProcessResult:
    defs = defs_from_project(path)
    with dg.DagsterInstance.ephemeral() as instance:
        return defs.resolve_implicit_global_asset_job_def().execute_in_process(
            instance=instance, raise_on_error=False)


def _metadata(result: dg.ExecuteInProcessResult, name: str) -> dict:
    events = [e for e in result.get_asset_materialization_events()
              if e.asset_key.path[-1] == name]
    assert len(events) == 1
    return {k: v.value for k, v in events[0].materialization.metadata.items()}


def test_each_materialization_runs_the_query_once_and_records_its_batches(
        tmp_path: Path) -> None:
    path = write_project(tmp_path, APPEND_NODE + DOWNSTREAM)
    arrive(tmp_path, "a", [event(1, "00", customer="a"), event(2, "01", customer="b"),
                           event(3, "02", -1.0, customer="b")])
    first = _materialize(path)
    assert first.success
    meta = _metadata(first, "events")
    assert meta[md.STREAM_ROWS_IN] == 3 and meta[md.ROWS_WRITTEN] == 2
    assert meta[md.STREAM_BATCHES] >= 1 and meta[md.QUARANTINE_ROWS] == 1
    assert meta[md.CHECKPOINT].endswith("checkpoints/live/events")
    assert meta[md.STREAM]["replayed_batches"] == []
    checks = {e.check_name: e.passed for e in first.get_asset_check_evaluations()}
    assert checks == {"range": False}  # a quarantine test: one row failed, the rest went on
    assert _metadata(first, "per_customer")[md.ROWS_WRITTEN] == 2

    arrive(tmp_path, "b", [event(4, "03", customer="a")])
    second = _materialize(path)
    assert second.success
    assert _metadata(second, "events")[md.STREAM_ROWS_IN] == 1
    per_customer = _metadata(second, "per_customer")
    assert per_customer[md.SAMPLE] and {r["customer"]: r["events"]
                                        for r in per_customer[md.SAMPLE]} == {"a": 2, "b": 1}

    idle = _materialize(path)
    assert idle.success
    assert _metadata(idle, "events")[md.STREAM_ROWS_IN] == 0
    assert {e.check_name: e.passed for e in idle.get_asset_check_evaluations()} == \
        {"range": True}


def test_rollback_reports_a_streaming_target_instead_of_restoring_it(
        tmp_path: Path, dagster_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Restoring the table alone would lose micro-batches the checkpoint calls done."""
    from deltalake import DeltaTable

    from odibi_core.config import load_project
    from odibi_dagster.cli.main import main
    from odibi_dagster.execution import run_project

    path = write_project(tmp_path, APPEND_NODE + DOWNSTREAM)
    arrive(tmp_path, "a", [event(1, "00"), event(2, "01")])
    assert run_project(load_project(path), ["live.events", "live.per_customer"]).success
    arrive(tmp_path, "b", [event(3, "02")])
    second = run_project(load_project(path), ["live.events", "live.per_customer"])
    assert second.success
    capsys.readouterr()
    assert main(["rollback", second.run_id, str(path)]) == 1  # not complete: said loudly
    out = capsys.readouterr()
    text = out.out + out.err
    assert "live.events" in text and "streaming node" in text and "checkpoint" in text
    assert "live.per_customer" in text and "restored to" in text  # the batch node still is
    events = DeltaTable(str(tmp_path / "lake" / "silver" / "events")).to_pyarrow_table()
    assert sorted(events.column("event_id").to_pylist()) == [1, 2, 3]


def test_the_source_change_sensor_keeps_the_stream_current_end_to_end(tmp_path: Path) -> None:
    """Sensor tick → run of what it requested → the next tick skips; new files → a new run."""
    from deltalake import DeltaTable

    path = write_project(tmp_path, APPEND_NODE + DOWNSTREAM)
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("  - pipeline: live\n",
                                 "  - pipeline: live\n    sensor: {type: source_change}\n"),
                    encoding="utf-8")
    defs = defs_from_project(path)
    sensor = next(s for s in defs.sensors if s.name == "live_source_sensor")

    def tick(instance: dg.DagsterInstance, cursor: str | None):
        data = sensor.evaluate_tick(dg.build_sensor_context(instance=instance, cursor=cursor,
                                                            definitions=defs))
        return list(data.run_requests or []), data.cursor

    def execute(instance: dg.DagsterInstance, request: dg.RunRequest) -> None:
        job = defs.resolve_implicit_global_asset_job_def()
        result = job.execute_in_process(instance=instance, tags=request.tags,
                                        asset_selection=list(request.asset_selection or []))
        assert result.success

    def ids() -> list[int]:
        table = DeltaTable(str(tmp_path / "lake" / "silver" / "events")).to_pyarrow_table()
        return sorted(table.column("event_id").to_pylist())

    with dg.instance_for_test() as instance:
        arrive(tmp_path, "a", [event(1, "00"), event(2, "01")])
        requests, cursor = tick(instance, None)
        assert [[k.path[-1] for k in r.asset_selection] for r in requests] == \
            [["events", "per_customer"]]
        execute(instance, requests[0])
        assert ids() == [1, 2]
        assert tick(instance, cursor)[0] == []  # nothing new: no run

        arrive(tmp_path, "b", [event(3, "02")])
        requests, cursor = tick(instance, cursor)
        assert len(requests) == 1
        execute(instance, requests[0])
        assert ids() == [1, 2, 3]
