"""A run resumed from failure keeps the batches of the run it resumes (SPEC §7): the nodes it
does not re-run hand over their outputs *and* their batch ids, so the re-run node appends the
same batch even when new input arrived in between — and a repeat of it is skipped."""

from __future__ import annotations

import textwrap
from pathlib import Path

import dagster as dg
from deltalake import DeltaTable

from odibi_core.config import load_project
from odibi_core.runs import RunRecords, system_root
from odibi_dagster.execution import _asset_job, run_project
from odibi_dagster.project_env import project_environment

PROJECT = """\
project: resumable
connections:
  src: {type: local, base_path: ./src}
  lake: {type: local, base_path: ./lake}
system: {connection: lake, path: _system}
pipelines:
  - pipeline: p
    nodes:
      - name: raw
        read: {connection: src, format: csv, path: orders}
      - name: load
        depends_on: [raw]
        write: {connection: lake, format: delta, path: silver/orders, mode: append}
"""


def _orders(root: Path, name: str, ids: range) -> None:
    lines = ["order_id,amount"] + [f"{i},{i}.5" for i in ids]
    (root / "src" / "orders" / name).write_text("\n".join(lines) + "\n", encoding="utf-8")


def _resume(project: object, run_id: str) -> dg.ExecutionResult:
    with project_environment(project), dg.DagsterInstance.get() as instance:
        return dg.execute_job(
            _asset_job(), instance=instance,
            run_config={"execution": {"config": {"in_process": {}}}},
            reexecution_options=dg.ReexecutionOptions.from_failure(run_id, instance))


def test_a_resumed_run_appends_the_batch_of_the_run_it_resumes(tmp_path: Path,
                                                               dagster_home: Path) -> None:
    (tmp_path / "src" / "orders").mkdir(parents=True)
    (tmp_path / "odibi.yaml").write_text(textwrap.dedent(PROJECT), encoding="utf-8")
    _orders(tmp_path, "a.csv", range(1, 4))
    target = tmp_path / "lake" / "silver" / "orders"
    target.parent.mkdir(parents=True)
    target.write_text("not a table")  # the write of `load` fails: a file where a folder goes
    project = load_project(tmp_path / "odibi.yaml")

    failed = run_project(project, ["p.raw", "p.load"])
    assert not failed.success
    error = {r.node: r for r in failed.results}["load"].error
    assert "is a file, where a Delta table (a folder) goes" in error.message
    assert error.fix and not error.transient
    records = RunRecords(system_root(project))
    recorded = records.batch_of(failed.run_id, "p.load")
    assert recorded is not None and recorded["source"] == "upstream"

    target.unlink()
    _orders(tmp_path, "b.csv", range(4, 6))  # new input: a fresh run would be a new batch
    resumed = _resume(project, failed.run_id)
    assert resumed.success
    assert resumed.dagster_run.parent_run_id == failed.run_id
    ran = {e.step_key for e in resumed.all_events if e.event_type_value == "STEP_SUCCESS"}
    assert ran == {"p__load"}  # raw was not run again: its output and batch are reused
    resumed_batch = records.batch_of(resumed.run_id, "p.load")
    assert resumed_batch == recorded
    assert records.meta(resumed.run_id).parent_run_id == failed.run_id
    table = DeltaTable(str(target))
    assert sorted(table.to_pyarrow_table().column("order_id").to_pylist()) == [1, 2, 3]

    fresh = run_project(project, ["p.raw", "p.load"])
    load = {r.node: r for r in fresh.results}["load"]
    assert fresh.success and load.write.batch_id != recorded["batch_id"]
    assert load.write.rows_written == 5


def test_the_story_and_the_materialization_say_a_repeat_was_skipped(
        tmp_path: Path, dagster_home: Path) -> None:
    (tmp_path / "src" / "orders").mkdir(parents=True)
    (tmp_path / "odibi.yaml").write_text(textwrap.dedent(PROJECT), encoding="utf-8")
    _orders(tmp_path, "a.csv", range(1, 4))
    project = load_project(tmp_path / "odibi.yaml")
    first = run_project(project, ["p.raw", "p.load"])
    second = run_project(project, ["p.raw", "p.load"])
    assert first.success and second.success
    with dg.DagsterInstance.get() as instance:
        events = instance.fetch_materializations(dg.AssetKey(["p", "load"]), limit=10).records
        metadata = [e.asset_materialization.metadata for e in events]  # newest first
    assert [m["skipped_duplicate_batch"].value for m in metadata] == [True, False]
    assert metadata[0]["odibi/batch_id"].value == metadata[1]["odibi/batch_id"].value
    assert metadata[0]["odibi/write_skipped"].value == "duplicate_batch"
    assert metadata[0]["odibi/rows_written"].value == 0
    assert "the batch was committed before" in metadata[0]["odibi/summary"].value
    story = second.stories[0].with_suffix(".md").read_text(encoding="utf-8")
    assert "duplicate batch: it was committed before, nothing appended" in story
    assert metadata[0]["odibi/batch_id"].value in story
