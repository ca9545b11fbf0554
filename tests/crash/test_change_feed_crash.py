"""A change feed node killed inside its write (SPEC §4, §7): the run is repeated after new
changes arrive, and the target holds every change of the source exactly once — the last
version consumed is committed only with the write, and a version range already appended is
the same batch when it is read again."""

from __future__ import annotations

import signal
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake

from odibi_core.faults import CRASH_POINTS
from tests.processes import run_odibi

PROJECT = """\
project: crash
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
          path: bronze/src
          change_feed: {{starting_version: 0}}
        write: {{connection: lake, format: delta, path: silver/changes, mode: append}}
"""


def _source(root: Path) -> str:
    return str(root / "lake" / "bronze" / "src")


def _changes(root: Path) -> list[tuple[int, str, int]]:
    target = root / "lake" / "silver" / "changes"
    if not target.exists():
        return []
    rows = DeltaTable(str(target)).to_pyarrow_table().to_pylist()
    return sorted((r["id"], r["_change_type"], r["_commit_version"]) for r in rows)


@pytest.mark.parametrize("engine", ["pandas", "polars"])
@pytest.mark.parametrize("point", CRASH_POINTS)
def test_a_killed_change_feed_run_repeated_appends_each_change_once(
        tmp_path: Path, engine: str, point: str) -> None:
    (tmp_path / "odibi.yaml").write_text(PROJECT.format(engine=engine), encoding="utf-8")
    write_deltalake(_source(tmp_path), pa.table({"id": [1, 2], "v": ["a", "b"]}),
                    configuration={"delta.enableChangeDataFeed": "true"})
    DeltaTable(_source(tmp_path)).delete("id = 1")
    first = [(1, "delete", 1), (1, "insert", 0), (2, "insert", 0)]

    crashed = run_odibi(tmp_path, crash_at=point)
    assert crashed.returncode == -signal.SIGKILL, crashed.stdout + crashed.stderr
    assert _changes(tmp_path) == ([] if point == "before_commit" else first)

    write_deltalake(_source(tmp_path), pa.table({"id": [3], "v": ["c"]}), mode="append")
    repeated = run_odibi(tmp_path)
    assert repeated.returncode == 0, repeated.stdout + repeated.stderr
    assert _changes(tmp_path) == sorted(first + [(3, "insert", 2)])

    again = run_odibi(tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr
    assert _changes(tmp_path) == sorted(first + [(3, "insert", 2)])
