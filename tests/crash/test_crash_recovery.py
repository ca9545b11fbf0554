"""Crash tests with real processes (SPEC §7): ``odibi run`` is killed with SIGKILL inside the
write — before the commit, after the commit, after the high-water mark — new input arrives,
the run is repeated, and the target must hold every source row exactly once.

The kill comes from the process itself at a named point (``ODIBI_CRASH_AT``, see
``odibi_core.faults``): a real ``kill -9`` (no ``finally``, no ``atexit``), at a known step.
A second test kills runs from outside at random moments. Every run is bounded by a timeout.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import textwrap
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pytest
from deltalake import DeltaTable

from odibi_core.faults import CRASH_POINTS
from tests.processes import ODIBI, RUN_TIMEOUT, odibi_env, run_odibi

PROJECT = """\
project: crash
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
        write: {{connection: lake, format: {fmt}, path: silver/orders, mode: append}}
"""


def _project(root: Path, engine: str, fmt: str) -> Path:
    (root / "src" / "orders").mkdir(parents=True)
    (root / "odibi.yaml").write_text(PROJECT.format(engine=engine, fmt=fmt), encoding="utf-8")
    return root / "odibi.yaml"


def _add_orders(root: Path, name: str, ids: range) -> None:
    lines = ["order_id,amount"] + [f"{i},{i * 1.5}" for i in ids]
    (root / "src" / "orders" / name).write_text("\n".join(lines) + "\n", encoding="utf-8")


def _ids(root: Path, fmt: str) -> list[int]:
    target = root / "lake" / "silver" / "orders"
    if not target.exists():
        return []
    if fmt == "delta":
        table = DeltaTable(str(target)).to_pyarrow_table()
    else:
        table = ds.dataset(str(target), format="parquet",
                           ignore_prefixes=[".", "_"]).to_table()
    return sorted(table.column("order_id").to_pylist())


@pytest.mark.parametrize(("engine", "fmt"), [
    ("pandas", "delta"), ("polars", "delta"), ("spark", "delta"), ("pandas", "parquet"),
])
@pytest.mark.parametrize("point", CRASH_POINTS)
def test_a_run_killed_inside_the_write_and_repeated_loads_each_row_once(
        tmp_path: Path, engine: str, fmt: str, point: str) -> None:
    _project(tmp_path, engine, fmt)
    _add_orders(tmp_path, "a.csv", range(1, 6))

    crashed = run_odibi(tmp_path, crash_at=point)
    assert crashed.returncode == -signal.SIGKILL, crashed.stdout + crashed.stderr
    committed = _ids(tmp_path, fmt)
    # Before the commit nothing is visible; after it the batch is there, once.
    assert committed == ([] if point == "before_commit" else [1, 2, 3, 4, 5])

    _add_orders(tmp_path, "b.csv", range(6, 9))  # new input arrives before the repeat
    repeated = run_odibi(tmp_path)
    assert repeated.returncode == 0, repeated.stdout + repeated.stderr
    assert _ids(tmp_path, fmt) == list(range(1, 9))

    again = run_odibi(tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr
    assert _ids(tmp_path, fmt) == list(range(1, 9))


@pytest.mark.parametrize("fmt", ["delta", "parquet"])
def test_runs_killed_at_random_moments_never_duplicate_or_lose_a_row(tmp_path: Path,
                                                                     fmt: str) -> None:
    """Three runs killed from outside after a random delay (bounded), each followed by new
    input; then one clean run. The target holds every row once."""
    _project(tmp_path, "pandas", fmt)
    chooser = random.Random(20261127)
    next_id = 1
    kills = 0
    for attempt in range(3):
        _add_orders(tmp_path, f"batch{attempt}.csv", range(next_id, next_id + 20_000))
        next_id += 20_000
        process = subprocess.Popen([*ODIBI, "run", str(tmp_path / "odibi.yaml")],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                   env=odibi_env(tmp_path))
        time.sleep(chooser.uniform(2.0, 6.0))
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            kills += 1
        process.wait(timeout=RUN_TIMEOUT)
    final = run_odibi(tmp_path)
    assert final.returncode == 0, final.stdout + final.stderr
    assert _ids(tmp_path, fmt) == list(range(1, next_id))
    assert kills >= 1  # at least one run really died mid-way


def test_concurrent_appends_from_two_processes_lose_nothing_and_duplicate_nothing(
        tmp_path: Path) -> None:
    """Two pipelines append their own batches to one Delta table, each started twice at the
    same moment (four processes): every batch lands once."""
    project = textwrap.dedent("""\
        project: race
        connections:
          src: {type: local, base_path: ./src}
          lake: {type: local, base_path: ./lake}
        system: {connection: lake, path: _system}
        pipelines:
          - pipeline: a
            nodes:
              - name: load_a
                read: {connection: src, format: csv, path: a}
                write: {connection: lake, format: delta, path: silver/orders, mode: append}
          - pipeline: b
            nodes:
              - name: load_b
                read: {connection: src, format: csv, path: b}
                write: {connection: lake, format: delta, path: silver/orders, mode: append}
        """)
    (tmp_path / "odibi.yaml").write_text(project, encoding="utf-8")
    for name, ids in (("a", range(1, 1001)), ("b", range(1001, 2001))):
        (tmp_path / "src" / name).mkdir(parents=True)
        lines = ["order_id,amount"] + [f"{i},{i}.5" for i in ids]
        (tmp_path / "src" / name / "part.csv").write_text("\n".join(lines) + "\n")
    processes = []
    for index, pipeline in enumerate(["a", "b", "a", "b"]):
        home = tmp_path / f"home{index}"  # one Dagster instance per process
        home.mkdir()
        processes.append(subprocess.Popen(
            [*ODIBI, "run", str(tmp_path / "odibi.yaml"), "--pipeline", pipeline],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env={**os.environ, "DAGSTER_HOME": str(home)}))
    outputs = [p.communicate(timeout=RUN_TIMEOUT)[0] for p in processes]
    assert [p.returncode for p in processes] == [0, 0, 0, 0], "\n".join(outputs)
    table = DeltaTable(str(tmp_path / "lake" / "silver" / "orders"))
    assert sorted(table.to_pyarrow_table().column("order_id").to_pylist()) == list(
        range(1, 2001))
    appends = [h for h in table.history() if h["operation"] == "WRITE"]
    assert len(appends) == 2  # the two repeats committed nothing
    assert isinstance(table.to_pyarrow_table(), pa.Table)
