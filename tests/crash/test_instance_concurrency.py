"""Concurrent first runs share one Dagster instance safely: several `odibi run` processes
started at the same moment on a project that has no `.odibi/dagster_home` yet all succeed, the
instance's databases carry one alembic head each, and a later run works."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from pathlib import Path

import pytest

from tests.processes import ODIBI, RUN_TIMEOUT

PROJECT = """\
project: firstrun
connections:
  src: {type: local, base_path: ./src}
  lake: {type: local, base_path: ./lake}
system: {connection: lake, path: _system}
pipelines:
  - pipeline: p
    nodes:
      - name: load
        read: {connection: src, format: csv, path: orders.csv}
        write: {connection: lake, format: delta, path: silver/orders, mode: overwrite}
"""
PROCESSES = 4
ROUNDS = 3


def _fresh_project(root: Path) -> Path:
    (root / "src").mkdir(parents=True)
    (root / "src" / "orders.csv").write_text("order_id,amount\n1,1.5\n2,3.0\n", encoding="utf-8")
    (root / "odibi.yaml").write_text(PROJECT, encoding="utf-8")
    return root / "odibi.yaml"


def _env() -> dict[str, str]:
    """No DAGSTER_HOME: odibi creates <project>/.odibi/dagster_home itself."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("DAGSTER_HOME", "ODIBI_ENV", "ODIBI_PROJECT", "ODIBI_CRASH_AT")}
    return env


def _alembic_rows(home: Path) -> dict[str, int]:
    """Rows of alembic_version in every sqlite database of the instance (one means one head)."""
    rows = {}
    for db in sorted(home.rglob("*.db")):
        with sqlite3.connect(db) as conn:
            found = conn.execute("SELECT name FROM sqlite_master WHERE name='alembic_version'")
            if found.fetchone():
                rows[str(db.relative_to(home))] = conn.execute(
                    "SELECT count(*) FROM alembic_version").fetchone()[0]
    return rows


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_concurrent_first_runs_create_one_instance_and_all_succeed(tmp_path: Path,
                                                                   round_: int) -> None:
    project = _fresh_project(tmp_path / f"round{round_}")
    processes = [subprocess.Popen([*ODIBI, "run", str(project)], stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True, env=_env())
                 for _ in range(PROCESSES)]
    outputs = [p.communicate(timeout=RUN_TIMEOUT)[0] for p in processes]
    assert [p.returncode for p in processes] == [0] * PROCESSES, "\n".join(outputs)
    assert not any("Traceback" in out for out in outputs), "\n".join(outputs)
    home = project.parent / ".odibi" / "dagster_home"
    rows = _alembic_rows(home)
    assert rows and set(rows.values()) == {1}, rows
    later = subprocess.run([*ODIBI, "run", str(project)], capture_output=True, text=True,
                           env=_env(), timeout=RUN_TIMEOUT)
    assert later.returncode == 0, later.stdout + later.stderr


def _break_instance(home: Path, stamp: str) -> None:
    """Leave ``home``'s run and schedule databases with a second alembic stamp, the state two
    concurrent first opens left behind before odibi locked them."""
    for name in ("history/runs.db", "schedules/schedules.db"):
        with sqlite3.connect(home / name) as conn:
            conn.execute("INSERT INTO alembic_version (version_num) VALUES (?)", (stamp,))


def _run(project: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*ODIBI, "run", str(project)], capture_output=True, text=True,
                          env=_env(), timeout=RUN_TIMEOUT)


def test_an_instance_left_with_two_alembic_heads_is_repaired_and_keeps_its_history(
        tmp_path: Path) -> None:
    from dagster._core.storage.sqlite import LAST_KNOWN_STAMPED_SQLITE_ALEMBIC_REVISION

    project = _fresh_project(tmp_path / "project")
    first = _run(project)
    assert first.returncode == 0, first.stdout + first.stderr
    home = project.parent / ".odibi" / "dagster_home"
    _break_instance(home, LAST_KNOWN_STAMPED_SQLITE_ALEMBIC_REVISION)
    assert set(_alembic_rows(home).values()) == {1, 2}

    second = _run(project)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "repaired the Dagster instance" in second.stderr
    assert "history/runs.db" in second.stderr and "Traceback" not in second.stderr
    assert set(_alembic_rows(home).values()) == {1}
    import dagster as dg

    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert instance.get_runs_count() == 2  # the first run's history is kept


def test_an_instance_with_heads_odibi_cannot_reconcile_fails_with_the_fix(
        tmp_path: Path) -> None:
    project = _fresh_project(tmp_path / "project")
    assert _run(project).returncode == 0
    home = project.parent / ".odibi" / "dagster_home"
    _break_instance(home, "0123456789ab")

    broken = _run(project)
    assert broken.returncode == 1
    assert "Traceback" not in broken.stdout + broken.stderr
    output = broken.stdout + broken.stderr
    assert "is damaged" in output and "history/runs.db" in output
    assert "Fix:" in output and "DELETE FROM alembic_version" in output
