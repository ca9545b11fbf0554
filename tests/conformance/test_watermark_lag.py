"""The ``watermark_lag`` example of docs/connections.md on every engine: a stateful SQL read
that re-reads the hour before its mark, written with ``mode: upsert`` on ``options.keys``
(a plain ``append`` is refused by the loader). Three runs over overlapping windows — new rows,
a late row and a late update inside the lag, then nothing new — leave each row once, with its
latest values."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

from deltalake import DeltaTable

from odibi_core.engines.base import Engine

from conformance_projects import run_nodes

DOCS = Path(__file__).resolve().parents[2] / "docs" / "connections.md"

# The eu_orders node of docs/connections.md, with SQLite for the warehouse.
PROJECT = """\
project: lagged
engine: {engine}
connections:
  warehouse: {{type: sql, url: "sqlite:///data/shop.db"}}
  lake: {{type: local, base_path: ./lake}}
system: {{connection: lake, path: _system}}
pipelines:
  - pipeline: sales
    nodes:
      - name: eu_orders
        read:
          connection: warehouse
          format: sql
          query: "SELECT id, amount, updated_at FROM orders WHERE region = :region"
          options: {{params: {{region: EU}}, chunk_size: 50000}}
          incremental: {{mode: stateful, column: updated_at, watermark_lag: 1h}}
        write: {{connection: lake, format: delta, path: silver/eu_orders, mode: upsert,
                options: {{keys: [id]}}}}
"""

START = dt.datetime(2026, 1, 1, 10, 0)


def _insert(root: Path, rows: list[tuple[int, float, dt.datetime, str]]) -> None:
    with sqlite3.connect(root / "data" / "shop.db") as db:
        db.executemany("INSERT INTO orders VALUES (?, ?, ?, ?)",
                       [(i, amount, at.isoformat(sep=" "), region)
                        for i, amount, at, region in rows])
    db.close()


def _stored(root: Path) -> dict[int, float]:
    rows = DeltaTable(str(root / "lake" / "silver" / "eu_orders")).to_pyarrow_table().to_pylist()
    ids = [row["id"] for row in rows]
    assert len(ids) == len(set(ids)), sorted(ids)
    return {row["id"]: row["amount"] for row in rows}


def test_the_docs_example_run_three_times_keeps_each_row_once(engine: Engine,
                                                              tmp_path: Path) -> None:
    assert "path: silver/eu_orders, mode: upsert" in DOCS.read_text(encoding="utf-8")
    (tmp_path / "data").mkdir()
    with sqlite3.connect(tmp_path / "data" / "shop.db") as db:
        db.execute("CREATE TABLE orders (id INTEGER, amount REAL, updated_at TIMESTAMP, "
                   "region TEXT)")
    db.close()
    (tmp_path / "odibi.yaml").write_text(PROJECT.format(engine=engine.name), encoding="utf-8")
    minute = dt.timedelta(minutes=1)
    _insert(tmp_path, [(i, float(i), START + i * minute, "EU") for i in range(1, 51)]
            + [(1000, 1.0, START, "US")])

    first = run_nodes(tmp_path / "odibi.yaml", engine, run_id="r1")["eu_orders"]
    assert first.succeeded, first.result.error
    assert _stored(tmp_path) == {i: float(i) for i in range(1, 51)}

    # New rows after the mark (10:50), a late row and a late update inside the hour before it.
    with sqlite3.connect(tmp_path / "data" / "shop.db") as db:
        db.execute("UPDATE orders SET amount = 500.0, updated_at = ? WHERE id = 5",
                   ((START + 45 * minute).isoformat(sep=" "),))
    db.close()
    _insert(tmp_path, [(i, float(i), START + i * minute, "EU") for i in range(51, 61)]
            + [(61, 61.0, START + 30 * minute, "EU")])
    second = run_nodes(tmp_path / "odibi.yaml", engine, run_id="r2")["eu_orders"]
    assert second.succeeded, second.result.error
    third = run_nodes(tmp_path / "odibi.yaml", engine, run_id="r3")["eu_orders"]  # nothing new
    assert third.succeeded, third.result.error

    expected = {i: float(i) for i in range(1, 62)}
    expected[5] = 500.0
    assert _stored(tmp_path) == expected
