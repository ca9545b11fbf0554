"""After a failed run (SPEC §8): `on_failure: rollback` restores what the run wrote, `odibi
rollback RUN_ID` does it on demand, and `odibi resume RUN_ID` re-runs only the failed node and
what follows it, reusing the rest — the final tables equal a clean run's."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import pytest
from deltalake import DeltaTable

from odibi_core.config import load_project
from odibi_core.exactly_once import BatchLedger
from odibi_dagster.cli.main import main
from odibi_dagster.execution import run_project

PROJECT = """\
project: recovery
connections:
  src: {type: local, base_path: ./src}
  lake: {type: local, base_path: ./lake}
system: {connection: lake, path: _system}
story: {connection: lake, path: _stories}
pipelines:
  - pipeline: p
    on_failure: ON_FAILURE
    nodes:
      - name: n1
        read: {connection: src, format: csv, path: orders}
        write: {connection: lake, format: delta, path: t1, mode: append}
      - name: n2
        depends_on: [n1]
        transform: {steps: ["SELECT order_id, region, amount * 2 AS amount FROM n1"]}
        write: {connection: lake, format: delta, path: t2, mode: overwrite}
      - name: n3
        depends_on: [n2]
        read: {connection: src, format: csv, path: rates.csv}
        contracts: [{type: not_null, columns: [rate]}]
        transform:
          steps: ["SELECT o.order_id, o.amount * r.rate AS taxed FROM n2 AS o JOIN df AS r ON o.region = r.region"]
        write: {connection: lake, format: delta, path: t3, mode: overwrite}
      - name: n4
        depends_on: [n3]
        transform: {steps: ["SELECT order_id, taxed FROM n3 WHERE taxed > 0"]}
        write: {connection: lake, format: delta, path: t4, mode: overwrite}
      - name: n5
        depends_on: [n4]
        transform: {steps: ["SELECT count(*) AS n, sum(taxed) AS total FROM n4"]}
        write: {connection: lake, format: delta, path: t5, mode: overwrite}
"""
NODES = [f"p.n{i}" for i in range(1, 6)]
GOOD_RATES = "region,rate\neu,1.2\nus,1.1\n"
BAD_RATES = "region,rate\neu,\nus,1.1\n"


def _project(root: Path, on_failure: str) -> Path:
    (root / "src" / "orders").mkdir(parents=True)
    (root / "odibi.yaml").write_text(PROJECT.replace("ON_FAILURE", on_failure))
    _orders(root, "day1.csv", [(1, "eu", 10.0), (2, "us", 20.0)])
    (root / "src" / "rates.csv").write_text(GOOD_RATES)
    return root / "odibi.yaml"


def _orders(root: Path, name: str, rows: list[tuple[int, str, float]]) -> None:
    text = "order_id,region,amount\n" + "".join(f"{i},{r},{a}\n" for i, r, a in rows)
    (root / "src" / "orders" / name).write_text(text)


def _table(root: Path, name: str) -> DeltaTable:
    return DeltaTable(str(root / "lake" / name))


def _ids(root: Path, name: str) -> list[int]:
    return sorted(_table(root, name).to_pyarrow_table().column("order_id").to_pylist())


def _rows(root: Path, name: str) -> list[tuple]:
    data = _table(root, name).to_pyarrow_table().to_pylist()
    return sorted(tuple(sorted(row.items())) for row in data)


def test_on_failure_rollback_restores_the_tables_the_failed_run_wrote(
        tmp_path: Path, dagster_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _project(tmp_path, "rollback")
    assert main(["run", str(path)]) == 0
    before = {t: (_table(tmp_path, t).version(), _rows(tmp_path, t)) for t in ("t1", "t2", "t3")}
    assert before["t1"][0] == before["t2"][0] == 0
    capsys.readouterr()

    _orders(tmp_path, "day2.csv", [(3, "eu", 30.0)])  # a new batch for n1
    (tmp_path / "src" / "rates.csv").write_text(BAD_RATES)  # n3's contract fails
    assert main(["run", str(path)]) == 1
    err = capsys.readouterr().err
    assert "Rollback (on_failure: rollback):" in err
    assert "p.n1 → lake:t1: written version 1 → restored to 0" in err
    assert "p.n2 → lake:t2: written version 1 → restored to 0" in err
    assert "p.n3 → lake:t3: not written" in err
    for name in ("t1", "t2"):
        table = _table(tmp_path, name)
        assert _rows(tmp_path, name) == before[name][1]  # content as before the run
        last = table.history(1)[0]
        assert last["operation"] == "RESTORE" and int(
            last["operationParameters"]["version"]) == 0
    assert _table(tmp_path, "t3").version() == 0 and _rows(tmp_path, "t3") == before["t3"][1]
    story = sorted((tmp_path / "lake" / "_stories" / "p").rglob("*.md"))[-1].read_text()
    assert "p.n1 → lake:t1: written version 1 → restored to 0" in story
    assert "p.n3 → lake:t3: not written" in story

    # The rolled-back batch of n1 is free again: fixing the input and running appends it.
    (tmp_path / "src" / "rates.csv").write_text(GOOD_RATES)
    assert main(["run", str(path)]) == 0
    assert _ids(tmp_path, "t1") == [1, 1, 2, 2, 3]
    ledger = BatchLedger(tmp_path / "lake" / "_system", "p", "n1").entries()
    assert "rolled_back" in [e.status for e in ledger]


def test_odibi_rollback_restores_a_finished_run_on_demand(tmp_path: Path, dagster_home: Path,
                                                          capsys: pytest.CaptureFixture[str]
                                                          ) -> None:
    path = _project(tmp_path, "keep")
    first = run_project(load_project(path), NODES)
    _orders(tmp_path, "day2.csv", [(3, "eu", 30.0)])
    second = run_project(load_project(path), NODES)
    assert first.success and second.success
    capsys.readouterr()
    assert main(["rollback", second.run_id, str(path)]) == 0
    out = capsys.readouterr().out
    for name in ("t1", "t2", "t3", "t4", "t5"):
        assert f"lake:{name}: written version 1 → restored to 0" in out
    assert _ids(tmp_path, "t1") == [1, 2]
    assert main(["rollback", "no-such-run", str(path)]) == 1
    assert "No run no-such-run is recorded" in capsys.readouterr().err


def test_resume_runs_only_the_failed_node_and_what_follows_and_ends_like_a_clean_run(
        tmp_path: Path, dagster_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    clean_root = tmp_path / "clean"
    clean = _project(clean_root, "keep")
    assert run_project(load_project(clean), NODES).success

    root = tmp_path / "failing"
    path = _project(root, "keep")
    (root / "src" / "rates.csv").write_text(BAD_RATES)
    failed = run_project(load_project(path), NODES)
    assert not failed.success
    assert failed.written == ("p.n1 → lake:t1 (delta append, version 0)",
                              "p.n2 → lake:t2 (delta overwrite, version 0)")
    capsys.readouterr()

    (root / "src" / "rates.csv").write_text(GOOD_RATES)  # fix the input
    assert main(["resume", failed.run_id, str(path)]) == 0
    out = capsys.readouterr().out
    assert f"resuming {failed.run_id}" in out
    with dg.DagsterInstance.get() as instance:
        resumed = instance.get_runs(filters=dg.RunsFilter(tags={"odibi/resume_of": failed.run_id}))
        (run,) = resumed
        assert run.parent_run_id == failed.run_id
        started = {e.step_key for e in instance.all_logs(
            run.run_id, of_type=dg.DagsterEventType.STEP_START)}
    assert started == {"p__n3", "p__n4", "p__n5"}
    for name in ("t1", "t2", "t3", "t4", "t5"):
        assert _rows(root, name) == _rows(clean_root, name), name
    assert _table(root, "t1").version() == 0 and _table(root, "t2").version() == 0
    story = sorted((root / "lake" / "_stories" / "p").rglob("*.json"))[-1].read_text()
    assert failed.run_id in story  # the resumed run's story names its parent

    assert main(["resume", run.run_id, str(path)]) == 1
    assert "is success, not failed" in capsys.readouterr().err
    shutil.rmtree(root / "lake" / "_system" / "runs" / failed.run_id)


def test_a_run_launched_outside_odibi_is_rolled_back_by_the_failure_sensor(
        tmp_path: Path, dagster_home: Path) -> None:
    from odibi_dagster.definitions import defs_from_loaded_project
    from odibi_dagster.execution import _asset_job
    from odibi_dagster.project_env import project_environment
    from odibi_dagster.rollback_sensor import ROLLBACK_SENSOR_NAME

    path = _project(tmp_path, "rollback")
    project = load_project(path)
    assert run_project(project, NODES).success
    _orders(tmp_path, "day2.csv", [(3, "eu", 30.0)])
    (tmp_path / "src" / "rates.csv").write_text(BAD_RATES)
    with project_environment(project), dg.DagsterInstance.get() as instance:
        # As the UI launches it: no odibi/invocation tag, so odibi run's own rollback is absent.
        failed = dg.execute_job(_asset_job(), instance=instance,
                                run_config={"execution": {"config": {"in_process": {}}}})
        assert not failed.success
        assert _table(tmp_path, "t1").version() == 1  # written, not yet rolled back
        (sensor,) = [s for s in defs_from_loaded_project(project).sensors
                     if s.name == ROLLBACK_SENSOR_NAME]
        context = dg.build_run_status_sensor_context(
            sensor_name=ROLLBACK_SENSOR_NAME, dagster_event=failed.get_run_failure_event(),
            dagster_instance=instance, dagster_run=failed.dagster_run).for_run_failure()
        sensor(context)
    assert _ids(tmp_path, "t1") == [1, 2]
    assert _table(tmp_path, "t1").history(1)[0]["operation"] == "RESTORE"
    report = (tmp_path / "lake" / "_system" / "runs" / failed.run_id / "rollback.json")
    assert '"complete": true' in report.read_text()
    # A project without on_failure: rollback has no such sensor.
    keep = _project(tmp_path / "keep", "keep")
    assert ROLLBACK_SENSOR_NAME not in {
        s.name for s in defs_from_loaded_project(load_project(keep)).sensors or []}
