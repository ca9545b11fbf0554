"""Two `odibi run`s of the same incremental node at once (SPEC §4, §7): the first reads its
window and stops before writing; new data arrives; the second starts. Every row must land in
the target exactly once, and both runs must succeed — the second waits for the first (the
node's window lock, ``odibi_core.window_lock``) and then reads only what came after the first
run's new mark.

The order is forced with pause points (``ODIBI_PAUSE_AT``, ``odibi_core.faults``), not sleeps:
the first run waits after its read until the test releases it, and the second run says when it
starts waiting for the window (or, without the lock, runs to its end).
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake

from odibi_core.config import load_project
from odibi_core.engines import get_engine
from odibi_core.errors import TransientError
from odibi_core.faults import PAUSE_DIR_ENV, PAUSE_ENV
from odibi_core.node import NodeRunner, RunContext
from odibi_core.window_lock import window_lock_path
from tests.processes import (
    ODIBI,
    RUN_TIMEOUT,
    kill_process_tree,
    odibi_env,
    run_odibi,
    wait_until,
)

FILES_PROJECT = """\
project: overlap
engine: {engine}
connections:
  src: {{type: local, base_path: ./src}}
  lake: {{type: local, base_path: ./lake}}
system: {{connection: lake, path: _system}}
pipelines:
  - pipeline: p
    nodes:
      - name: load
        read:
          connection: src
          format: csv
          path: orders
          incremental: {{mode: stateful, column: order_id}}
        transform:
          steps:
            - sql: SELECT order_id, amount * 2 AS amount FROM df
        write: {{connection: lake, format: delta, path: silver/orders, mode: append}}
"""

FEED_PROJECT = """\
project: overlap
engine: {engine}
connections:
  lake: {{type: local, base_path: ./lake}}
system: {{connection: lake, path: _system}}
pipelines:
  - pipeline: p
    nodes:
      - name: load
        read:
          connection: lake
          format: delta
          path: bronze/orders
          change_feed: {{starting_version: 0}}
        write: {{connection: lake, format: delta, path: silver/orders, mode: append}}
"""


ROLLING_PROJECT = """\
project: overlap
engine: {engine}
connections:
  src: {{type: local, base_path: ./src}}
  lake: {{type: local, base_path: ./lake}}
system: {{connection: lake, path: _system}}
pipelines:
  - pipeline: p
    nodes:
      - name: load
        read:
          connection: src
          format: csv
          path: orders
          options: {{schema: {{at: timestamp_ntz}}}}
          incremental: {{mode: rolling_window, column: at, lookback: 30, unit: day}}
        materialized: incremental
        write: {{connection: lake, format: delta, path: silver/orders}}
"""


def _start(root: Path, pauses: Path, pause_at: str | None = None) -> subprocess.Popen[str]:
    pauses.mkdir(parents=True, exist_ok=True)
    env = {**odibi_env(root), PAUSE_DIR_ENV: str(pauses)}
    env.pop(PAUSE_ENV, None)
    if pause_at is not None:
        env[PAUSE_ENV] = pause_at
    return subprocess.Popen([*ODIBI, "run", str(root / "odibi.yaml")], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)


def _finish(proc: subprocess.Popen[str]) -> tuple[int, str]:
    try:
        output, _ = proc.communicate(timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        kill_process_tree(proc)
        raise
    return proc.returncode, output


def _overlapping_runs(root: Path, second_batch: Callable[[], None],
                      pause_at: str = "after_read") -> None:
    """Run 1 stops at ``pause_at``; ``second_batch`` adds data; run 2 starts and either waits
    for the window or runs through; then run 1 goes on. Both must exit 0."""
    first_pauses, second_pauses = root / "pause1", root / "pause2"
    first = _start(root, first_pauses, pause_at=pause_at)
    second = None
    try:
        wait_until(lambda: (first_pauses / f"{pause_at}.reached").exists() or first.poll()
                   is not None, RUN_TIMEOUT, interval=0.1, what=f"run 1 reached {pause_at}")
        assert first.poll() is None, _finish(first)[1]
        second_batch()
        second = _start(root, second_pauses)
        wait_until(lambda: (second_pauses / "window_lock_wait.reached").exists()
                   or second.poll() is not None, RUN_TIMEOUT, interval=0.1,
                   what="run 2 waits for the window or ends")
        (first_pauses / f"{pause_at}.release").touch()
        first_code, first_output = _finish(first)
        second_code, second_output = _finish(second)
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                kill_process_tree(proc)
    assert first_code == 0, first_output
    assert second_code == 0, second_output


def _target_ids(root: Path) -> list[int]:
    table = DeltaTable(str(root / "lake" / "silver" / "orders")).to_pyarrow_table()
    return sorted(table.column("order_id").to_pylist())


def _add_orders(root: Path, name: str, ids: range, *, timed: bool = False) -> None:
    """Orders ``ids``; ``timed``: with a column ``at``, a second apart, ending before now."""
    folder = root / "src" / "orders"
    folder.mkdir(parents=True, exist_ok=True)
    start = datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0) - timedelta(days=1)
    lines = ["order_id,amount" + (",at" if timed else "")] + [
        f"{i},{i % 97}.5" + (f",{start + timedelta(seconds=i):%Y-%m-%d %H:%M:%S}" if timed
                             else "") for i in ids]
    (folder / name).write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.mark.parametrize("engine", ["pandas", "polars", "spark"])
def test_two_overlapping_runs_of_a_stateful_incremental_node_load_each_row_once(
        tmp_path: Path, engine: str) -> None:
    (tmp_path / "odibi.yaml").write_text(FILES_PROJECT.format(engine=engine), encoding="utf-8")
    _add_orders(tmp_path, "a.csv", range(1, 1001))

    _overlapping_runs(tmp_path, lambda: _add_orders(tmp_path, "b.csv", range(1001, 2001)))

    assert _target_ids(tmp_path) == list(range(1, 2001))


@pytest.mark.parametrize("engine", ["pandas", "polars"])
def test_two_overlapping_runs_of_a_materialized_incremental_node_load_each_row_once(
        tmp_path: Path, engine: str) -> None:
    """No mark here: the node keeps the rows newer than its target's maximum, read before the
    write; the first run stops after that, before its write."""
    (tmp_path / "odibi.yaml").write_text(ROLLING_PROJECT.format(engine=engine),
                                         encoding="utf-8")
    _add_orders(tmp_path, "a.csv", range(1, 1001), timed=True)

    _overlapping_runs(tmp_path, lambda: _add_orders(tmp_path, "b.csv", range(1001, 2001),
                                                    timed=True), pause_at="before_write")

    assert _target_ids(tmp_path) == list(range(1, 2001))


@pytest.mark.parametrize("engine", ["pandas", "polars", "spark"])
def test_two_overlapping_runs_of_a_change_feed_node_append_each_change_once(
        tmp_path: Path, engine: str) -> None:
    (tmp_path / "odibi.yaml").write_text(FEED_PROJECT.format(engine=engine), encoding="utf-8")
    source = str(tmp_path / "lake" / "bronze" / "orders")
    write_deltalake(source, pa.table({"order_id": list(range(1, 501))}),
                    configuration={"delta.enableChangeDataFeed": "true"})

    _overlapping_runs(tmp_path, lambda: write_deltalake(
        source, pa.table({"order_id": list(range(501, 1001))}), mode="append"))

    assert _target_ids(tmp_path) == list(range(1, 1001))


def test_a_run_that_waits_too_long_for_the_window_fails_naming_the_node_and_the_holder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A bounded wait: the error names the node, the run holding its window and the fix, and
    the window is left as it was (the holder, released, still loads every row once)."""
    (tmp_path / "odibi.yaml").write_text(FILES_PROJECT.format(engine="pandas"),
                                         encoding="utf-8")
    _add_orders(tmp_path, "a.csv", range(1, 11))
    pauses = tmp_path / "pause1"
    holder = _start(tmp_path, pauses, pause_at="after_read")
    try:
        wait_until(lambda: (pauses / "after_read.reached").exists() or holder.poll()
                   is not None, RUN_TIMEOUT, interval=0.1, what="run 1 read its window")
        assert holder.poll() is None, _finish(holder)[1]
        monkeypatch.setattr("odibi_core.window_lock.WINDOW_LOCK_TIMEOUT_SECONDS", 0.5)
        project = load_project(tmp_path / "odibi.yaml")
        run = NodeRunner(project, get_engine("pandas")).run(
            "p.load", inputs={}, context=RunContext(run_id="second"))
        (pauses / "after_read.release").touch()
        code, output = _finish(holder)
    finally:
        if holder.poll() is None:
            kill_process_tree(holder)
    assert run.result.status == "failed"
    assert isinstance(run.exception.__cause__, TransientError)
    assert run.result.error.transient
    message = run.result.error.message
    assert "Node p.load" in message and f"pid {holder.pid}" in message, message
    lock = window_lock_path(tmp_path / "lake" / "_system", "p", "load")
    assert str(lock) in run.result.error.fix, run.result.error.fix
    assert code == 0, output
    assert _target_ids(tmp_path) == list(range(1, 11))


def test_a_run_killed_while_holding_the_window_does_not_block_the_next(tmp_path: Path) -> None:
    """The kernel releases the lock of a killed holder: the next run goes straight on."""
    (tmp_path / "odibi.yaml").write_text(FILES_PROJECT.format(engine="pandas"),
                                         encoding="utf-8")
    _add_orders(tmp_path, "a.csv", range(1, 11))
    pauses = tmp_path / "pause1"
    holder = _start(tmp_path, pauses, pause_at="after_read")
    try:
        wait_until(lambda: (pauses / "after_read.reached").exists() or holder.poll()
                   is not None, RUN_TIMEOUT, interval=0.1, what="run 1 read its window")
        assert holder.poll() is None, _finish(holder)[1]
    finally:
        kill_process_tree(holder)

    second = run_odibi(tmp_path)
    assert second.returncode == 0, second.stdout + second.stderr
    assert _target_ids(tmp_path) == list(range(1, 11))
