"""Rolling back a run of an incremental node (SPEC §8): `odibi rollback RUN_ID` and
`on_failure: rollback` put the node's high-water mark (or change-feed state) back where it was
before the run wrote, so the next run reads the rolled-back rows again and they land exactly
once; a target that could not be restored keeps its mark (moving it back would duplicate)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from deltalake import DeltaTable

from odibi_core.config import load_project
from odibi_dagster.cli.main import main
from odibi_dagster.execution import run_project

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


def _ids(root: Path) -> list[int]:
    return sorted(DeltaTable(str(root / "lake" / "orders")).to_pyarrow_table()
                  .column("id").to_pylist())


def _mark(root: Path) -> int | None:
    state = root / "lake" / "_system" / "state" / "p" / "load.json"
    return json.loads(state.read_text(encoding="utf-8"))["value"] if state.exists() else None


def _run(path: Path) -> object:
    outcome = run_project(load_project(path), NODES)
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
    assert "p.load → lake:orders: written version 1 → restored to 0" in out
    assert "high-water mark 200 → 100" in out
    assert _ids(tmp_path) == list(range(1, 101)) and _mark(tmp_path) == 100

    _run(path)  # reads 101..200 again: they land once
    _run(path)  # and nothing twice
    assert _ids(tmp_path) == list(range(1, 201)) and _mark(tmp_path) == 200
