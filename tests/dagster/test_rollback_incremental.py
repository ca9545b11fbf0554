"""Rolling back a run of an incremental node (SPEC §8): `odibi rollback RUN_ID` and
`on_failure: rollback` put the node's high-water mark (or change-feed state) back where it was
before the run wrote, so the next run reads the rolled-back rows again and they land exactly
once; a target that could not be restored keeps its mark (moving it back would duplicate)."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pytest
from deltalake import DeltaTable, write_deltalake

from odibi_core.config import load_project
from odibi_dagster.cli.main import main
from odibi_dagster.execution import run_project
from tests.processes import wait_until

PROJECT = """\
project: rollback_marks
engine: {engine}
connections:
  src: {{type: local, base_path: ./src}}
  lake: {{type: local, base_path: ./lake}}
system: {{connection: lake, path: _system}}
story: {{connection: lake, path: _stories}}
pipelines:
  - pipeline: p
    on_failure: {on_failure}
    nodes:
      - name: load
        read:
          connection: src
          format: csv
          path: orders
          incremental: {{mode: stateful, column: id}}
        write: {{connection: lake, format: {fmt}, path: orders, mode: append}}
      - name: check
        depends_on: [load]
        read: {{connection: src, format: csv, path: rates.csv}}
        contracts: [{{type: not_null, columns: [rate]}}]
        transform: {{steps: ["SELECT count(*) AS n FROM load"]}}
        write: {{connection: lake, format: delta, path: checked, mode: overwrite}}
"""
NODES = ["p.load", "p.check"]
GOOD_RATES = "region,rate\neu,1.2\n"
BAD_RATES = "region,rate\neu,\n"


def _project(root: Path, engine: str, *, on_failure: str = "keep", fmt: str = "delta") -> Path:
    (root / "src" / "orders").mkdir(parents=True)
    (root / "src" / "rates.csv").write_text(GOOD_RATES, encoding="utf-8")
    path = root / "odibi.yaml"
    path.write_text(PROJECT.format(engine=engine, on_failure=on_failure, fmt=fmt),
                    encoding="utf-8")
    return path


def _batch(root: Path, name: str, ids: range) -> None:
    lines = ["id,amount"] + [f"{i},{i * 1.5}" for i in ids]
    (root / "src" / "orders" / name).write_text("\n".join(lines) + "\n", encoding="utf-8")


def _ids(root: Path, fmt: str = "delta") -> list[int]:
    target = root / "lake" / "orders"
    table = DeltaTable(str(target)).to_pyarrow_table() if fmt == "delta" else ds.dataset(
        str(target), format="parquet", ignore_prefixes=[".", "_"]).to_table()
    return sorted(table.column("id").to_pylist())


def _mark(root: Path) -> int | None:
    state = root / "lake" / "_system" / "state" / "p" / "load.json"
    return json.loads(state.read_text(encoding="utf-8"))["value"] if state.exists() else None


def _run(path: Path, nodes: list[str] = NODES) -> object:
    outcome = run_project(load_project(path), nodes)
    assert outcome.success, [r.error for r in outcome.results]
    return outcome


@pytest.mark.parametrize("engine", ["pandas", "polars", "spark"])
def test_rolling_back_an_incremental_run_lets_the_next_run_read_its_rows_again(
        tmp_path: Path, engine: str, request: pytest.FixtureRequest,
        capsys: pytest.CaptureFixture[str]) -> None:
    if engine == "spark":
        request.getfixturevalue("spark_session")
    path = _project(tmp_path, engine)
    _batch(tmp_path, "b1.csv", range(1, 101))
    _run(path)
    _batch(tmp_path, "b2.csv", range(101, 201))
    second = _run(path)
    assert _ids(tmp_path) == list(range(1, 201)) and _mark(tmp_path) == 200

    capsys.readouterr()
    assert main(["rollback", second.run_id, str(path)]) == 0
    out = capsys.readouterr().out
    assert _ids(tmp_path) == list(range(1, 101)) and _mark(tmp_path) == 100

    _run(path)  # reads 101..200 again: they land once
    _run(path)  # and nothing twice
    assert _ids(tmp_path) == list(range(1, 201)) and _mark(tmp_path) == 200
    assert ("p.load → lake:orders: written version 1 → restored to 0; "
            "high-water mark 200 → 100") in out


def test_on_failure_rollback_puts_the_mark_back_with_the_table(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _project(tmp_path, "pandas", on_failure="rollback")
    _batch(tmp_path, "b1.csv", range(1, 101))
    _run(path)
    _batch(tmp_path, "b2.csv", range(101, 201))
    (tmp_path / "src" / "rates.csv").write_text(BAD_RATES, encoding="utf-8")  # check fails
    capsys.readouterr()
    assert main(["run", str(path)]) == 1
    err = capsys.readouterr().err
    assert ("p.load → lake:orders: written version 1 → restored to 0; "
            "high-water mark 200 → 100") in err
    assert _ids(tmp_path) == list(range(1, 101)) and _mark(tmp_path) == 100

    (tmp_path / "src" / "rates.csv").write_text(GOOD_RATES, encoding="utf-8")
    assert main(["run", str(path)]) == 0
    assert _ids(tmp_path) == list(range(1, 201)) and _mark(tmp_path) == 200


def test_a_target_another_writer_committed_to_keeps_its_rows_and_its_mark(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _project(tmp_path, "pandas")
    _batch(tmp_path, "b1.csv", range(1, 101))
    _run(path, ["p.load"])
    _batch(tmp_path, "b2.csv", range(101, 201))
    second = _run(path, ["p.load"])
    write_deltalake(str(tmp_path / "lake" / "orders"),  # someone else appends after the run
                    pa.table({"id": [999], "amount": [1.0]}), mode="append")
    capsys.readouterr()
    assert main(["rollback", second.run_id, str(path)]) == 1  # incomplete
    out = capsys.readouterr().out
    assert "another writer committed after the run" in out and "high-water mark" not in out
    assert _mark(tmp_path) == 200  # moved back, the next run would append 101..200 twice
    _run(path, ["p.load"])
    assert _ids(tmp_path) == [*range(1, 201), 999]


def test_an_incremental_run_is_rolled_back_only_after_the_runs_that_followed_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _project(tmp_path, "pandas", fmt="parquet")
    runs = []
    for index, ids in enumerate((range(1, 101), range(101, 201), range(201, 301))):
        _batch(tmp_path, f"b{index}.csv", ids)
        runs.append(_run(path, ["p.load"]).run_id)
    capsys.readouterr()
    assert main(["rollback", runs[1], str(path)]) == 1
    out = capsys.readouterr().out
    assert f"run {runs[2]} of this incremental node committed after this run" in out
    assert _ids(tmp_path, "parquet") == list(range(1, 301)) and _mark(tmp_path) == 300

    assert main(["rollback", runs[2], str(path)]) == 0  # newest first
    assert main(["rollback", runs[1], str(path)]) == 0
    out = capsys.readouterr().out
    assert "high-water mark 300 → 200" in out and "high-water mark 200 → 100" in out
    assert _ids(tmp_path, "parquet") == list(range(1, 101)) and _mark(tmp_path) == 100
    _run(path, ["p.load"])
    assert _ids(tmp_path, "parquet") == list(range(1, 301)) and _mark(tmp_path) == 300


FEED_PROJECT = """\
project: rollback_feed
engine: {engine}
connections:
  lake: {{type: local, base_path: ./lake}}
system: {{connection: lake, path: _system}}
pipelines:
  - pipeline: p
    nodes:
      - name: changes
        read:
          connection: lake
          format: delta
          path: bronze
          change_feed: {{starting_version: 0}}
        transform: {{steps: ["SELECT id, _commit_version AS v FROM df"]}}
        write: {{connection: lake, format: delta, path: silver, mode: append}}
"""


@pytest.mark.parametrize("engine", ["pandas", "polars", "spark"])
def test_rolling_back_a_change_feed_run_reads_its_versions_again(
        tmp_path: Path, engine: str, request: pytest.FixtureRequest,
        capsys: pytest.CaptureFixture[str]) -> None:
    if engine == "spark":
        request.getfixturevalue("spark_session")
    bronze = str(tmp_path / "lake" / "bronze")
    write_deltalake(bronze, pa.table({"id": [1, 2]}), mode="append",
                    configuration={"delta.enableChangeDataFeed": "true"})
    path = tmp_path / "odibi.yaml"
    path.write_text(FEED_PROJECT.format(engine=engine), encoding="utf-8")
    state = tmp_path / "lake" / "_system" / "state" / "p" / "changes.json"
    _run(path, ["p.changes"])
    write_deltalake(bronze, pa.table({"id": [3]}), mode="append")  # version 1
    second = _run(path, ["p.changes"])
    assert json.loads(state.read_text())["value"] == 1
    capsys.readouterr()
    assert main(["rollback", second.run_id, str(path)]) == 0
    assert "change feed version 1 → 0" in capsys.readouterr().out
    assert json.loads(state.read_text())["value"] == 0
    _run(path, ["p.changes"])
    _run(path, ["p.changes"])
    rows = DeltaTable(str(tmp_path / "lake" / "silver")).to_pyarrow_table().to_pylist()
    assert sorted((r["id"], r["v"]) for r in rows) == [(1, 0), (2, 0), (3, 1)]


HOLDER = """\
import sys, time
from pathlib import Path
from deltalake import write_deltalake
import pyarrow as pa
from odibi_core.config import load_project
from odibi_core.connections import build_connection
from odibi_core.exactly_once import target_lock
from odibi_core.runs import system_root

project = load_project(sys.argv[1])
lake = build_connection("lake", project.config.connections["lake"], project.root)
location = lake.resolve("orders")
held, go = Path(sys.argv[2]), Path(sys.argv[3])
with target_lock(system_root(project), location):
    held.write_text("held")
    deadline = time.monotonic() + 60
    while not go.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    # A writer holding the lock commits while the rollback waits for it.
    write_deltalake(location.uri, pa.table({"id": [999], "amount": [1.0]}), mode="append")
"""


def test_a_rollback_waits_for_the_writer_holding_the_targets_lock(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _project(tmp_path, "pandas")
    _batch(tmp_path, "b1.csv", range(1, 101))
    _run(path, ["p.load"])
    _batch(tmp_path, "b2.csv", range(101, 201))
    second = _run(path, ["p.load"])
    held, go = tmp_path / "held", tmp_path / "go"
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(HOLDER), str(path),
                               str(held), str(go)])
    waiting = threading.Event()

    class _Waiting(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "Waiting for the lock on lake:orders" in record.getMessage():
                waiting.set()

    lock_log = logging.getLogger("odibi_core.file_lock")
    handler, level = _Waiting(), lock_log.level
    lock_log.addHandler(handler)
    lock_log.setLevel(logging.INFO)
    try:
        wait_until(held.exists, 60, interval=0.05, what="the holder's lock")
        code: list[int] = []
        rollback = threading.Thread(
            target=lambda: code.append(main(["rollback", second.run_id, str(path)])))
        rollback.start()
        wait_until(lambda: waiting.is_set() or not rollback.is_alive(), 60, interval=0.05,
                   what="the rollback waiting for the lock, or done")
        assert waiting.is_set() and rollback.is_alive()  # it waits: it did nothing yet
        assert _ids(tmp_path) == list(range(1, 201)) and _mark(tmp_path) == 200
        go.write_text("go")
        rollback.join(60)
        assert holder.wait(60) == 0
    finally:
        go.write_text("go")
        lock_log.removeHandler(handler)
        lock_log.setLevel(level)
        if holder.poll() is None:
            holder.kill()
    assert code == [1]  # the holder committed: restoring would destroy its row
    assert "another writer committed after the run" in capsys.readouterr().out
    assert _ids(tmp_path) == [*range(1, 201), 999] and _mark(tmp_path) == 200
