"""Soak: four `odibi run` processes at once, 25 rounds, on a project with no Dagster instance yet.

Every round lands new input for an incremental append (a growing folder read with a stateful
high-water mark) and a plain append (one file per round, named by ``${SOAK_ROUND}``), starts
four real `odibi run` processes on the project's own Dagster home, and kills some of them with
SIGKILL at a random moment. In the middle, one run is rolled back with `odibi rollback` and its
round is run again. At the end every source row is in each target exactly once, the Dagster
instance still works, and no killed run is left "started".

Bounded: 25 rounds of four processes each, every process by ``RUN_TIMEOUT``, the test by its
pytest timeout; the seed makes the kills repeatable in choice and delay.
"""

from __future__ import annotations

import os
import random
import re
import subprocess
import textwrap
import time
from pathlib import Path

import dagster as dg
import pytest
from deltalake import DeltaTable

from odibi_core.faults import CRASH_ENV
from tests.processes import ODIBI, RUN_TIMEOUT

ROUNDS = 25
PROCESSES = 4
ROWS_PER_ROUND = 40
ROLLBACK_ROUND = 12

PROJECT = textwrap.dedent("""\
    project: soak
    engine: pandas
    connections:
      src: {type: local, base_path: ./src}
      lake: {type: local, base_path: ./lake}
    system: {connection: lake, path: _system}
    pipelines:
      - pipeline: incremental
        nodes:
          - name: load_orders
            read:
              connection: src
              format: csv
              path: orders
              incremental: {mode: stateful, column: order_id}
            write: {connection: lake, format: delta, path: silver/orders, mode: append}
      - pipeline: plain
        nodes:
          - name: load_events
            read: {connection: src, format: csv, path: "events/${SOAK_ROUND}.csv"}
            write: {connection: lake, format: delta, path: silver/events, mode: append}
    """)


def _land(root: Path, round_no: int) -> None:
    """The round's input: new orders in the incremental folder, the round's events file."""
    ids = range(round_no * ROWS_PER_ROUND + 1, (round_no + 1) * ROWS_PER_ROUND + 1)
    for folder, column in (("orders", "order_id"), ("events", "event_id")):
        (root / "src" / folder).mkdir(parents=True, exist_ok=True)
        lines = [f"{column},amount"] + [f"{i},{i}.25" for i in ids]
        (root / "src" / folder / f"{round_no}.csv").write_text("\n".join(lines) + "\n",
                                                              encoding="utf-8")


def _env(round_no: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("DAGSTER_HOME", CRASH_ENV, "ODIBI_PROJECT", "ODIBI_ENV")}
    return {**env, "SOAK_ROUND": str(round_no)}  # the project's own .odibi/dagster_home


def _odibi(root: Path, round_no: int, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*ODIBI, *args], capture_output=True, text=True, cwd=root,
                          env=_env(round_no), timeout=RUN_TIMEOUT)


def _ids(root: Path, table: str, column: str) -> list[int]:
    path = root / "lake" / "silver" / table
    if not (path / "_delta_log").exists():
        return []
    return sorted(DeltaTable(str(path)).to_pyarrow_table().column(column).to_pylist())


def _round(root: Path, round_no: int, chooser: random.Random) -> tuple[int, int]:
    """Four concurrent runs of the whole project; some killed. Returns how many were killed
    and how many finished. A round where every run was killed is started again (a user's
    retry)."""
    while True:
        started = [subprocess.Popen([*ODIBI, "run", str(root / "odibi.yaml")],
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                    text=True, env=_env(round_no))
                   for _ in range(PROCESSES)]
        doomed = set(chooser.sample(range(PROCESSES), chooser.choice([0, 1, 1, 2])))
        delay = chooser.uniform(0.5, 6.0)
        deadline = time.monotonic() + delay
        while time.monotonic() < deadline and any(started[i].poll() is None for i in doomed):
            time.sleep(0.05)
        killed = 0
        for index in doomed:
            if started[index].poll() is None:
                started[index].kill()  # SIGKILL: no finally, no atexit
                killed += 1
        survivors = 0
        for index, process in enumerate(started):
            output, _ = process.communicate(timeout=RUN_TIMEOUT)
            if index in doomed and process.returncode < 0:
                continue
            assert process.returncode == 0, f"round {round_no}, run {index}:\n{output}"
            survivors += 1
        if survivors:
            return killed, survivors


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_four_concurrent_runs_for_25_rounds_with_kills_and_a_rollback_keep_every_row_once(
        tmp_path: Path) -> None:
    root = tmp_path / "soak"
    root.mkdir()
    (root / "odibi.yaml").write_text(PROJECT, encoding="utf-8")
    chooser = random.Random(20261207)
    kills = finished = 0
    for round_no in range(ROUNDS):
        _land(root, round_no)
        if round_no == ROLLBACK_ROUND:
            before = (_ids(root, "orders", "order_id"), _ids(root, "events", "event_id"))
            ran = _odibi(root, round_no, "run", "odibi.yaml")
            assert ran.returncode == 0, ran.stdout + ran.stderr
            run_id = re.search(r"Dagster run ([0-9a-f-]{36})", ran.stdout + ran.stderr)
            assert run_id, ran.stdout
            rolled = _odibi(root, round_no, "rollback", run_id.group(1), "odibi.yaml")
            assert rolled.returncode == 0, rolled.stdout + rolled.stderr
            assert (_ids(root, "orders", "order_id"), _ids(root, "events", "event_id")) \
                == before
        killed, survived = _round(root, round_no, chooser)
        kills, finished = kills + killed, finished + survived

    expected = list(range(1, ROUNDS * ROWS_PER_ROUND + 1))
    assert _ids(root, "orders", "order_id") == expected
    assert _ids(root, "events", "event_id") == expected
    assert kills >= 5  # the seed kills runs in many rounds, at many moments

    final = _odibi(root, ROUNDS - 1, "run", "odibi.yaml")  # the instance still works
    assert final.returncode == 0, final.stdout + final.stderr
    assert _ids(root, "orders", "order_id") == expected
    with dg.DagsterInstance.from_config(str(root / ".odibi" / "dagster_home")) as instance:
        runs = instance.get_runs()
        stuck = [r.run_id for r in runs if r.status in (
            dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.STARTING,
            dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED)]
        assert stuck == []  # a killed run was marked failed by the next command
        succeeded = [r for r in runs if r.status == dg.DagsterRunStatus.SUCCESS]
        # Every finished process (+ the rolled-back run and the final one) left a successful
        # run; a process killed after its Dagster run ended (writing its story) may have too.
        assert finished + 2 <= len(succeeded) <= finished + 2 + kills
