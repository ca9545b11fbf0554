"""An append of no rows to a target that exists commits nothing, on every engine: no empty
Delta version (its log, change-feed sensors and rollbacks stay as they were), no empty part file;
the write is reported ``skipped: no_rows`` and recorded in the ledger, and the high-water mark
stays. A first append of no rows still creates the target, with its schema."""

from __future__ import annotations

from pathlib import Path

import pytest
from conformance_projects import run_nodes, write_project
from deltalake import DeltaTable
from test_exactly_once import read_back

from odibi_core.engines.base import Engine
from odibi_core.exactly_once import BatchLedger

ORDERS = "order_id,amount\n1,10.0\n2,20.0\n3,30.0\n"


def _node(fmt: str, where: str = "") -> str:
    transform = f'\n  transform: {{steps: ["SELECT * FROM df {where}"]}}' if where else ""
    return f"""\
- name: load
  read:
    connection: src
    format: csv
    path: orders
    incremental: {{mode: stateful, column: order_id}}{transform}
  write: {{connection: lake, format: {fmt}, path: silver/orders, mode: append}}
"""


def _parts(root: Path) -> list[str]:
    folder = root / "lake" / "silver" / "orders"
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("part-"))


def _ids(root: Path, fmt: str) -> list[int]:
    """The target's order ids, read with pyarrow / delta-rs (not with the engine under test)."""
    import csv
    import json

    folder = root / "lake" / "silver" / "orders"
    if fmt in ("delta", "parquet"):
        return sorted(read_back(folder, fmt)["order_id"])
    ids: list[int] = []
    for name in _parts(root):  # (Spark writes an empty part for an empty Spark partition)
        text = (folder / name).read_text(encoding="utf-8")
        rows = csv.DictReader(text.splitlines()) if fmt == "csv" \
            else [json.loads(line) for line in text.splitlines() if line.strip()]
        ids.extend(int(row["order_id"]) for row in rows)
    return sorted(ids)


def _mark(root: Path) -> str:
    return (root / "lake" / "_system" / "state" / "p" / "load.json").read_text(encoding="utf-8")


@pytest.mark.parametrize("fmt", ["delta", "parquet", "csv", "json"])
def test_an_append_with_no_new_rows_commits_nothing(tmp_path: Path, engine: Engine,
                                                    fmt: str) -> None:
    path = write_project(tmp_path, engine, _node(fmt), {"orders/a.csv": ORDERS})
    first = run_nodes(path, engine, run_id="r1")["load"].result
    assert first.write.rows_written == 3 and first.write.skipped is None
    before = (DeltaTable(str(tmp_path / "lake" / "silver" / "orders")).version()
              if fmt == "delta" else _parts(tmp_path))
    mark = _mark(tmp_path)

    for run_id in ("r2", "r3"):  # nothing new since r1
        result = run_nodes(path, engine, run_id=run_id)["load"].result
        assert result.status == "success", result.error
        assert result.write.skipped == "no_rows" and result.write.rows_written == 0
        if fmt == "delta":
            table = DeltaTable(str(tmp_path / "lake" / "silver" / "orders"))
            assert table.version() == before == result.write.delta_version == 0
        else:
            assert _parts(tmp_path) == before  # no empty part file
        assert _mark(tmp_path) == mark
    ledger = BatchLedger(tmp_path / "lake" / "_system", "p", "load").entries()
    # One entry for the repeated empty batch: a schedule with no new data grows no ledger.
    assert [(e.status, e.run_id, e.rows) for e in ledger] == [
        ("committed", "r1", 3), ("skipped", "r3", 0)]

    (tmp_path / "src" / "orders" / "b.csv").write_text("order_id,amount\n4,40.0\n",
                                                      encoding="utf-8")
    fourth = run_nodes(path, engine, run_id="r4")["load"].result
    assert fourth.write.skipped is None and fourth.write.rows_written == 1
    assert _ids(tmp_path, fmt) == [1, 2, 3, 4]
    if fmt == "delta":
        assert fourth.write.delta_version == 1


def test_a_first_append_of_no_rows_creates_the_table(tmp_path: Path, engine: Engine) -> None:
    path = write_project(tmp_path, engine, _node("delta", "WHERE order_id > 100"),
                         {"orders/a.csv": ORDERS})
    first = run_nodes(path, engine, run_id="r1")["load"].result
    assert first.status == "success", first.error
    assert first.write.skipped is None and first.write.delta_version == 0
    table = DeltaTable(str(tmp_path / "lake" / "silver" / "orders"))
    assert table.to_pyarrow_table().num_rows == 0
    assert "order_id" in table.to_pyarrow_table().column_names  # its schema, for downstream
    second = run_nodes(path, engine, run_id="r2")["load"].result
    assert second.write.skipped == "no_rows" and DeltaTable(
        str(tmp_path / "lake" / "silver" / "orders")).version() == 0
