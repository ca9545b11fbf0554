"""materialized: view and incremental, read.incremental, cache: true, partitioned Delta writes."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

from odibi_core.storage.requests import ReadRequest, WriteRequest
from odibi_core.testing import assert_frames_equal, frame_from_rows

from conformance_projects import run_nodes, write_project

ORDERS = "id,amount,updated_at\n1,10,2026-01-01 10:00:00\n2,20,2026-01-02 10:00:00\n"
MORE = ORDERS + "3,30,2026-01-03 10:00:00\n4,40,2026-01-04 10:00:00\n"


def _stored(path: Path) -> list[dict]:
    from deltalake import DeltaTable  # the stored table, read independently of the engine

    return sorted(DeltaTable(str(path)).to_pyarrow_table().to_pylist(),
                  key=lambda r: r.get("id", 0))


def _files(root: Path) -> list[str]:
    """Data files under ``root`` (the ``_system`` store's run records are not data)."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")
                  if p.is_file() and "_system" not in p.relative_to(root).parts)


# ---- rows_after --------------------------------------------------------------------------------
def test_rows_after_compares_ints_dates_and_timestamps_and_drops_nulls(engine):
    rows = [{"n": 1, "d": dt.date(2026, 1, 1), "t": dt.datetime(2026, 1, 1, 9)},
            {"n": 2, "d": dt.date(2026, 1, 2), "t": dt.datetime(2026, 1, 2, 9)},
            {"n": None, "d": None, "t": None}]
    frame = frame_from_rows(engine, rows, {"n": "int64", "d": "date", "t": "timestamp_ntz"})
    assert engine.count(engine.rows_after(frame, "n", 1)) == 1
    assert engine.count(engine.rows_after(frame, "d", dt.date(2026, 1, 1))) == 1
    assert engine.count(engine.rows_after(frame, "t", dt.datetime(2026, 1, 1, 12))) == 1
    assert engine.count(engine.rows_after(frame, "n", 0)) == 2


# ---- views -------------------------------------------------------------------------------------
def test_create_view_registers_a_view_sql_can_name(engine):
    frame = frame_from_rows(engine, [{"id": 1}, {"id": 2}])
    view = engine.create_view("recent_ids", frame)
    assert "recent_ids" in engine.view_names()
    assert_frames_equal(engine, view, [{"id": 1}, {"id": 2}])
    assert_frames_equal(engine, engine.sql("SELECT sum(id) AS s FROM recent_ids", {}),
                        [{"s": 3}], check_types=False)


def test_view_node_stores_nothing_and_feeds_downstream(engine, tmp_path):
    path = write_project(tmp_path, engine, """\
        - name: orders
          read: {connection: src, format: csv, path: orders.csv}
        - name: big_orders
          depends_on: [orders]
          materialized: view
          transform: {steps: ["SELECT id, amount FROM orders WHERE amount > 10"]}
        - name: total
          depends_on: [big_orders]
          transform: {steps: ["SELECT sum(amount) AS total FROM big_orders"]}
          write: {connection: lake, format: delta, path: total}
        """, files={"orders.csv": MORE})
    runs = run_nodes(path, engine)
    assert all(r.succeeded for r in runs.values()), [r.result.error for r in runs.values()]
    view = runs["big_orders"].result
    assert view.write is None and view.extra["view"] == "big_orders"
    assert "big_orders" in engine.view_names()
    assert not any("big_orders" in f for f in _files(tmp_path / "lake"))
    assert [r["total"] for r in _stored(tmp_path / "lake" / "total")] == [90]


# ---- read.incremental --------------------------------------------------------------------------
def _incremental_project(tmp_path, engine, extra="", write_mode="append"):
    return write_project(tmp_path, engine, f"""\
        - name: orders
          read:
            connection: src
            format: csv
            path: orders.csv
            options: {{schema: {{updated_at: timestamp_ntz}}}}
            incremental: {{mode: stateful, column: updated_at}}
          {extra}
          write: {{connection: lake, format: delta, path: orders, mode: {write_mode}}}
        """, files={"orders.csv": ORDERS})


def test_stateful_read_loads_only_new_rows_and_commits_the_mark_after_the_write(engine, tmp_path):
    path = _incremental_project(tmp_path, engine)
    first = run_nodes(path, engine)["orders"]
    assert first.succeeded, first.result.error
    mark = tmp_path / "lake" / "_system" / "state" / "p" / "orders.json"
    assert json.loads(mark.read_text())["value"].startswith("2026-01-02T10:00")

    again = run_nodes(path, engine, run_id="r2")["orders"]  # nothing new
    assert again.succeeded and again.result.rows_written == 0
    (tmp_path / "src" / "orders.csv").write_text(MORE, encoding="utf-8")
    third = run_nodes(path, engine, run_id="r3")["orders"]
    assert third.result.rows_in == 2 and third.result.rows_written == 2
    assert [r["id"] for r in _stored(tmp_path / "lake" / "orders")] == [1, 2, 3, 4]
    assert third.result.extra["incremental"]["lower_bound"].startswith("2026-01-02T10:00")
    assert json.loads(mark.read_text())["value"].startswith("2026-01-04T10:00")


def test_a_failed_write_keeps_the_old_mark(engine, tmp_path):
    path = _incremental_project(tmp_path, engine)
    assert run_nodes(path, engine)["orders"].succeeded
    mark = tmp_path / "lake" / "_system" / "state" / "p" / "orders.json"
    before = mark.read_text()
    (tmp_path / "src" / "orders.csv").write_text(MORE.replace("3,30", "3,thirty"),
                                                 encoding="utf-8")
    # amount becomes a string column: the append to the int64 Delta table fails
    run = run_nodes(path, engine, run_id="r2")["orders"]
    assert not run.succeeded and run.result.error.phase == "write"
    assert mark.read_text() == before


def test_rolling_window_keeps_recent_rows(engine, tmp_path):
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, microsecond=0)
    old, new = now - dt.timedelta(days=10), now - dt.timedelta(hours=1)
    path = write_project(tmp_path, engine, """\
        - name: recent
          read:
            connection: src
            format: csv
            path: events.csv
            options: {schema: {at: timestamp_ntz}}
            incremental: {mode: rolling_window, column: at, lookback: 2, unit: day}
        """, files={"events.csv": f"id,at\n1,{old:%Y-%m-%d %H:%M:%S}\n2,{new:%Y-%m-%d %H:%M:%S}\n"})
    run = run_nodes(path, engine)["recent"]
    assert run.succeeded, run.result.error
    assert [r["id"] for r in engine.to_rows(engine.collect(run.output))] == [2]


# ---- materialized: incremental -----------------------------------------------------------------
def test_materialized_incremental_appends_only_rows_newer_than_the_target(engine, tmp_path):
    path = write_project(tmp_path, engine, """\
        - name: orders
          read:
            connection: src
            format: csv
            path: orders.csv
            options: {schema: {updated_at: timestamp_ntz}}
            incremental: {mode: rolling_window, column: updated_at, lookback: 100, unit: year}
        - name: silver
          depends_on: [orders]
          materialized: incremental
          write: {connection: lake, format: delta, path: silver}
        """, files={"orders.csv": ORDERS})
    assert run_nodes(path, engine)["silver"].succeeded
    (tmp_path / "src" / "orders.csv").write_text(MORE, encoding="utf-8")
    run = run_nodes(path, engine, run_id="r2")["silver"]
    assert run.succeeded, run.result.error
    assert run.result.rows_written == 2 and run.result.write.mode == "append"
    assert [r["id"] for r in _stored(tmp_path / "lake" / "silver")] == [1, 2, 3, 4]


def test_materialized_incremental_upserts_on_keys(engine, tmp_path):
    path = write_project(tmp_path, engine, """\
        - name: orders
          read:
            connection: src
            format: csv
            path: orders.csv
            options: {schema: {updated_at: timestamp_ntz}}
            incremental: {mode: rolling_window, column: updated_at, lookback: 100, unit: year}
          materialized: incremental
          write: {connection: lake, format: delta, path: silver, options: {keys: [id]}}
        """, files={"orders.csv": ORDERS})
    assert run_nodes(path, engine)["orders"].succeeded
    (tmp_path / "src" / "orders.csv").write_text(
        ORDERS + "2,25,2026-01-05 10:00:00\n", encoding="utf-8")
    run = run_nodes(path, engine, run_id="r2")["orders"]
    assert run.succeeded, run.result.error
    assert run.result.write is not None and run.result.write.mode == "upsert"
    assert [(r["id"], r["amount"]) for r in _stored(tmp_path / "lake" / "silver")] == [
        (1, 10), (2, 25)]


# ---- cache and partitioned writes --------------------------------------------------------------
def test_cache_true_keeps_the_same_rows(engine, tmp_path):
    path = write_project(tmp_path, engine, """\
        - name: orders
          read: {connection: src, format: csv, path: orders.csv}
          cache: true
        - name: total
          depends_on: [orders]
          transform: {steps: ["SELECT count(*) AS n FROM orders"]}
        """, files={"orders.csv": MORE})
    runs = run_nodes(path, engine)
    assert runs["orders"].succeeded and engine.count(runs["orders"].output) == 4
    assert_frames_equal(engine, runs["total"].output, [{"n": 4}], check_types=False)


def test_partitioned_delta_write_makes_partition_folders(engine, lake):
    rows = [{"id": 1, "region": "EU"}, {"id": 2, "region": "US"}, {"id": 3, "region": "EU"}]
    location = lake.resolve("by_region")
    engine.write(frame_from_rows(engine, rows), WriteRequest(
        location=location, format="delta", partition_by=("region",)))
    assert sorted(d for d in os.listdir(location.uri) if not d.startswith("_")) == [
        "region=EU", "region=US"]
    back = engine.read(ReadRequest(location=location, format="delta"))
    assert_frames_equal(engine, back, rows, check_column_order=False)
    from deltalake import DeltaTable

    assert DeltaTable(location.uri).metadata().partition_columns == ["region"]


def test_read_schema_reads_the_target_without_data(engine, lake):
    location = lake.resolve("t")
    assert engine.read_schema(ReadRequest(location=location, format="delta")) is None
    engine.write(frame_from_rows(engine, [{"id": 1, "d": dt.date(2026, 1, 1)}]),
                 WriteRequest(location=location, format="delta"))
    schema = engine.read_schema(ReadRequest(location=location, format="delta"))
    assert [(c.name, c.type) for c in schema] == [("id", "int64"), ("d", "date")]


def test_partitioned_parquet_folder_round_trips_with_string_partition_values(engine, lake):
    rows = [{"id": 1, "region": "EU", "year": 2025}, {"id": 2, "region": "US", "year": 2026},
            {"id": 3, "region": "EU", "year": 2026}]
    location = lake.resolve("by_region_pq")
    engine.write(frame_from_rows(engine, rows), WriteRequest(
        location=location, format="parquet", partition_by=("region", "year")))
    assert sorted(os.listdir(location.uri)) == ["region=EU", "region=US"]
    assert sorted(os.listdir(os.path.join(location.uri, "region=EU"))) == ["year=2025",
                                                                           "year=2026"]
    engine.write(frame_from_rows(engine, [{"id": 4, "region": "US", "year": 2026}]),
                 WriteRequest(location=location, format="parquet", mode="append",
                              partition_by=("region", "year")))
    back = engine.read(ReadRequest(location=location, format="parquet"))
    expected = [{**r, "year": str(r["year"])} for r in rows] + [
        {"id": 4, "region": "US", "year": "2026"}]
    assert_frames_equal(engine, back, expected, check_column_order=False,
                        schema={"id": "int64", "region": "string", "year": "string"})


def test_partitioned_csv_is_refused_before_writing(engine, lake):
    import pytest

    from odibi_core.errors import ConfigError

    with pytest.raises(ConfigError, match="partition_by is available for parquet and Delta"):
        engine.write(frame_from_rows(engine, [{"id": 1, "r": "EU"}]), WriteRequest(
            location=lake.resolve("by_r"), format="csv", partition_by=("r",)))
    assert not os.path.exists(lake.resolve("by_r").uri)
