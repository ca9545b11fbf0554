"""An append node downstream of an append node, through `odibi run` (Dagster reads the upstream
back whole from its target): the plain layout is refused before anything runs, and the fix the
error names first — ``materialized: incremental`` on the downstream node — loads each row once
over two batches."""

from __future__ import annotations

from pathlib import Path

import pytest
from deltalake import DeltaTable

from tests.processes import run_odibi

PROJECT = """\
project: chain
engine: {engine}
connections:
  src: {{type: local, base_path: ./src}}
  lake: {{type: local, base_path: ./lake}}
system: {{connection: lake, path: _system}}
pipelines:
  - pipeline: p
    nodes:
      - name: a
        read:
          connection: src
          format: csv
          path: orders
          incremental: {{mode: stateful, column: order_id}}
        write: {{connection: lake, format: delta, path: bronze/orders, mode: append}}
      - name: b
        depends_on: [a]
        {extra}
        transform: {{steps: ["SELECT order_id, amount * 2 AS amount FROM df"]}}
        write: {{connection: lake, format: delta, path: silver/orders, mode: append}}
"""


def _add_orders(root: Path, name: str, ids: range) -> None:
    folder = root / "src" / "orders"
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["order_id,amount"] + [f"{i},{i}.5" for i in ids]
    (folder / name).write_text("\n".join(lines) + "\n", encoding="utf-8")


def _ids(root: Path, path: str) -> list[int]:
    table = DeltaTable(str(root / "lake" / path)).to_pyarrow_table()
    return sorted(table.column("order_id").to_pylist())


def test_the_plain_layout_is_refused_before_anything_runs(tmp_path: Path) -> None:
    (tmp_path / "odibi.yaml").write_text(PROJECT.format(engine="pandas", extra=""),
                                         encoding="utf-8")
    _add_orders(tmp_path, "a.csv", range(1, 101))
    run = run_odibi(tmp_path)
    assert run.returncode == 1, run.stdout + run.stderr
    assert f"{tmp_path / 'odibi.yaml'}:" in run.stderr and "pipelines[0].nodes[1].write.mode" \
        in run.stderr, run.stderr
    assert "materialized: incremental" in run.stderr
    assert not (tmp_path / "lake" / "bronze").exists()


@pytest.mark.parametrize("engine", ["pandas", "polars"])
def test_materialized_incremental_downstream_of_an_append_loads_each_row_once(
        tmp_path: Path, engine: str) -> None:
    (tmp_path / "odibi.yaml").write_text(
        PROJECT.format(engine=engine, extra="materialized: incremental"), encoding="utf-8")
    _add_orders(tmp_path, "a.csv", range(1, 101))
    first = run_odibi(tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    _add_orders(tmp_path, "b.csv", range(101, 201))
    second = run_odibi(tmp_path)
    assert second.returncode == 0, second.stdout + second.stderr

    assert _ids(tmp_path, "bronze/orders") == list(range(1, 201))
    assert _ids(tmp_path, "silver/orders") == list(range(1, 201))
