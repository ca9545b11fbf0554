"""`odibi run` killed with SIGKILL while a node is about to commit (issue: a killed run kept
writing, and stayed "started" forever).

The node stops at the ``before_commit`` pause point (``odibi_core.faults``); the test kills
only the `odibi run` process — not its step process — and releases the pause. The target must
never receive the write; the next odibi command marks the Dagster run failed (its launcher is
gone) and finishes its story; `odibi resume` then completes the run with every row once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
from deltalake import DeltaTable

from odibi_core.faults import PAUSE_DIR_ENV, PAUSE_ENV
from odibi_dagster.launcher import LAUNCHER_ENV
from tests.processes import ODIBI, RUN_TIMEOUT, odibi_env, wait_until

PROJECT = """\
project: killed
engine: pandas
connections:
  src: {type: local, base_path: ./src}
  lake: {type: local, base_path: ./lake}
system: {connection: lake, path: _system}
story: {connection: lake, path: _stories}
pipelines:
  - pipeline: p
    nodes:
      - name: load
        read:
          connection: src
          format: csv
          path: orders
          incremental: {mode: stateful, column: order_id}
        write: {connection: lake, format: delta, path: silver/orders, mode: append}
      - name: total
        depends_on: [load]
        transform: {steps: ["SELECT count(*) AS n FROM load"]}
        write: {connection: lake, format: delta, path: gold/total, mode: overwrite}
"""
ORDERS = range(1, 51)
#: Longer than the paused step takes to commit and exit once released (about 12 s on main).
STEP_GONE_SECONDS = 60


def _project(root: Path) -> Path:
    (root / "src" / "orders").mkdir(parents=True)
    lines = ["order_id,amount"] + [f"{i},{i}.5" for i in ORDERS]
    (root / "src" / "orders" / "day1.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (root / "odibi.yaml").write_text(PROJECT, encoding="utf-8")
    return root / "odibi.yaml"


def _gone(pid: int) -> bool:
    """``pid`` has exited (a zombie nobody reaped counts as exited)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] == "Z"


def _ids(root: Path, path: str = "silver/orders") -> list[int]:
    target = root / "lake" / path
    if not (target / "_delta_log").exists():
        return []
    return sorted(DeltaTable(str(target)).to_pyarrow_table().column("order_id").to_pylist())


def _the_run(home: Path) -> dg.DagsterRun:
    with dg.DagsterInstance.from_config(str(home)) as instance:
        (run,) = instance.get_runs()
        return run


@pytest.mark.parametrize("executor", ["multiprocess", "in_process"])
def test_a_killed_run_never_commits_is_marked_failed_and_resumes_exactly_once(
        tmp_path: Path, executor: str) -> None:
    project = _project(tmp_path)
    home = tmp_path / "dagster_home"
    pause = tmp_path / "pause"
    env = {**odibi_env(tmp_path), PAUSE_ENV: "before_commit", PAUSE_DIR_ENV: str(pause)}
    launcher = subprocess.Popen([*ODIBI, "run", str(project), "--executor", executor],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                                start_new_session=True)
    try:
        paused = wait_until(lambda: sorted(pause.glob("before_commit.reached")), RUN_TIMEOUT,
                            interval=0.1, what="the node paused before its commit")
        step = int(paused[0].read_text())
        assert (step != launcher.pid) == (executor == "multiprocess")
        os.kill(launcher.pid, signal.SIGKILL)  # only `odibi run`, not its step process
        launcher.wait(timeout=30)
    finally:
        if launcher.poll() is None:
            launcher.kill()
            launcher.wait(timeout=30)
    (pause / "before_commit.release").write_text("go", encoding="utf-8")
    wait_until(lambda: _gone(step), STEP_GONE_SECONDS, interval=0.1,
               what="the step process exited")
    assert _ids(tmp_path) == []  # the write never landed

    killed = _the_run(home)
    assert killed.status == dg.DagsterRunStatus.STARTED  # nobody has looked yet
    clean = odibi_env(tmp_path)
    # The next command marks the run failed first: a dry run (writes nothing), or a rollback.
    command = (["run", str(project), "--dry-run"] if executor == "multiprocess"
               else ["rollback", killed.run_id, str(project)])
    following = subprocess.run([*ODIBI, *command], capture_output=True, text=True, env=clean,
                               timeout=RUN_TIMEOUT)
    assert following.returncode == 0, following.stdout + following.stderr
    assert f"marked run {killed.run_id} failed" in following.stderr
    assert _status(home, killed.run_id) == dg.DagsterRunStatus.FAILURE
    assert _ids(tmp_path) == []
    _assert_story_failed(tmp_path, killed.run_id)

    resumed = subprocess.run([*ODIBI, "resume", killed.run_id, str(project)],
                             capture_output=True, text=True, env=clean, timeout=RUN_TIMEOUT)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "marked run" not in resumed.stderr  # once is enough
    with dg.DagsterInstance.from_config(str(home)) as instance:
        failure = instance.all_logs(killed.run_id,
                                    of_type=dg.DagsterEventType.PIPELINE_FAILURE)
        assert failure and "died" in failure[-1].dagster_event.message
        (child,) = instance.get_runs(filters=dg.RunsFilter(tags={"odibi/resume_of":
                                                                 killed.run_id}))
        assert child.status == dg.DagsterRunStatus.SUCCESS
        assert child.parent_run_id == killed.run_id
    assert _ids(tmp_path) == list(ORDERS)
    total = DeltaTable(str(tmp_path / "lake" / "gold" / "total")).to_pyarrow_table()
    assert total.column("n").to_pylist() == [len(ORDERS)]


def test_a_step_process_whose_launcher_is_already_gone_kills_itself(tmp_path: Path) -> None:
    """The race PR_SET_PDEATHSIG alone misses: the launcher died before the step asked."""
    gone = subprocess.Popen(["true"])
    gone.wait(timeout=30)
    step = subprocess.run(
        [sys.executable, "-c", "from odibi_dagster.launcher import die_with_launcher\n"
                               "die_with_launcher()\nprint('committed')"],
        capture_output=True, text=True, timeout=RUN_TIMEOUT,
        env={**os.environ, LAUNCHER_ENV: str(gone.pid)})
    assert step.returncode == -signal.SIGKILL and "committed" not in step.stdout
    alive = subprocess.run(
        [sys.executable, "-c", "from odibi_dagster.launcher import die_with_launcher\n"
                               "die_with_launcher()\nprint('committed')"],
        capture_output=True, text=True, timeout=RUN_TIMEOUT,
        env={**os.environ, LAUNCHER_ENV: str(os.getpid())})  # its parent: this process
    assert alive.returncode == 0 and "committed" in alive.stdout


def _status(home: Path, run_id: str) -> dg.DagsterRunStatus:
    with dg.DagsterInstance.from_config(str(home)) as instance:
        run = instance.get_run_by_id(run_id)
        assert run is not None
        return run.status


def _assert_story_failed(root: Path, run_id: str) -> None:
    """The killed run's story ends failed, naming the node that was running, not 'running'."""
    import json

    stories = [json.loads(p.read_text()) for p in (root / "lake" / "_stories").rglob("*.json")]
    (story,) = [s for s in stories if isinstance(s, dict) and s.get("run_id") == run_id]
    assert story["status"] == "failed"
    nodes = {n["node"]: n for n in story["nodes"]}
    assert nodes["load"]["status"] == "failed"
    assert "died" in nodes["load"]["error"]["message"]
