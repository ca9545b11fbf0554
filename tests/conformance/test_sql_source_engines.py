"""``format: sql`` on every engine: the same SQLite rows reach pandas, polars and Spark with the
same logical types (the source builds Arrow once; each engine takes it as is)."""

from __future__ import annotations

import datetime as dt
import sqlite3
from decimal import Decimal
from pathlib import Path

from odibi_core.engines.base import Engine

from conformance_projects import run_nodes

PROJECT = """\
project: sqlconf
engine: {engine}
connections:
  shop: {{type: sql, url: "sqlite:///data/shop.db"}}
  lake: {{type: local, base_path: ./lake}}
system: {{connection: lake, path: _system}}
pipelines:
  - pipeline: p
    nodes:
      - name: orders
        read:
          connection: shop
          format: sql
          query: "SELECT * FROM orders WHERE id <= :last ORDER BY id"
          options: {{params: {{last: 2}}, chunk_size: 1}}
      - name: empty
        read: {{connection: shop, format: sql, table: orders, options: {{chunk_size: 5}}}}
        transform: {{steps: ["SELECT * FROM df WHERE id < 0"]}}
"""

TYPES = {"id": "int64", "amount": "decimal(10,2)", "ratio": "float64", "name": "string",
         "paid": "bool", "day": "date", "updated_at": "timestamp_ntz", "seen_at": "timestamp"}


def _database(root: Path) -> None:
    (root / "data").mkdir(parents=True)
    with sqlite3.connect(root / "data" / "shop.db") as db:
        db.execute("CREATE TABLE orders (id INTEGER, amount NUMERIC(10,2), ratio REAL, "
                   "name VARCHAR(20), paid BOOLEAN, day DATE, updated_at TIMESTAMP, "
                   "seen_at TIMESTAMP WITH TIME ZONE)")
        db.executemany("INSERT INTO orders VALUES (?, ?, ?, ?, ?, ?, ?, ?)", [
            (1, 12.5, 0.5, "ann", 1, "2026-01-02", "2026-01-02 03:04:05",
             "2026-01-02T05:04:05+02:00"),
            (2, None, None, None, None, None, None, None),
            (3, 1, 1.0, "cy", 0, "2026-01-04", "2026-01-04 00:00:00", "2026-01-04 00:00:00"),
        ])
    db.close()


def test_sql_source_gives_the_same_rows_and_types_on_every_engine(engine: Engine, tmp_path):
    _database(tmp_path)
    (tmp_path / "odibi.yaml").write_text(PROJECT.format(engine=engine.name), encoding="utf-8")
    runs = run_nodes(tmp_path / "odibi.yaml", engine)
    assert runs["orders"].succeeded, runs["orders"].result.error
    frame = runs["orders"].output
    assert {c.name: c.type for c in engine.schema(frame)} == TYPES
    rows = engine.to_rows(frame)
    assert rows == [
        {"id": 1, "amount": _json(Decimal("12.50"), rows[0]["amount"]), "ratio": 0.5,
         "name": "ann", "paid": True, "day": "2026-01-02", "updated_at": "2026-01-02T03:04:05",
         "seen_at": rows[0]["seen_at"]},
        {"id": 2, "amount": None, "ratio": None, "name": None, "paid": None, "day": None,
         "updated_at": None, "seen_at": None},
    ]
    # The instant, whatever text form the engine's JSON gives it, is 03:04:05 UTC.
    seen = dt.datetime.fromisoformat(str(rows[0]["seen_at"]).replace("Z", "+00:00"))
    assert seen == dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)
    # An empty result keeps every column and type, on every engine.
    assert runs["empty"].succeeded, runs["empty"].result.error
    empty = runs["empty"].output
    assert engine.count(empty) == 0
    assert {c.name: c.type for c in engine.schema(empty)} == TYPES


def _json(expected: Decimal, actual: object) -> object:
    """Decimals come back from ``to_rows`` as JSON-safe text or numbers: equal in value."""
    assert Decimal(str(actual)) == expected
    return actual
