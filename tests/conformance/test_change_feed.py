"""Delta change data feed reads (``read.change_feed``) and ``write.table_properties`` on every
engine: the feed's rows and types, the node's state (the last version consumed, committed
with the write), reruns, failures, timestamps, and the errors for tables without a feed."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path
from typing import Any

import pytest
from conformance_projects import run_nodes, write_project
from deltalake import DeltaTable

from odibi_core.engines.base import Engine
from odibi_core.errors import DataError
from odibi_core.storage.requests import ChangeFeedRead, ReadRequest, WriteRequest
from odibi_core.testing import frame_from_rows

CDF = {"delta.enableChangeDataFeed": "true"}
SOURCE = "bronze/src"
FEED_NODE = """\
- name: changes
  read:
    connection: lake
    format: delta
    path: bronze/src
    change_feed: {start}
  {extra}
  write: {{connection: lake, format: delta, path: silver/changes, mode: append}}
"""


# ---- helpers ---------------------------------------------------------------------------------
def _write(engine: Engine, root: Path, rows: list[dict[str, Any]], mode: str = "overwrite",
           path: str = SOURCE, properties: dict[str, str] | None = None) -> None:
    """Commit ``rows`` to the Delta table ``lake/<path>`` with the engine under test."""
    from odibi_core.connections import LocalConnection

    location = LocalConnection("lake", "lake", root).resolve(path)
    engine.write(frame_from_rows(engine, rows, schema={"id": "int64", "v": "string"}),
                 WriteRequest(location=location, format="delta", mode=mode,  # type: ignore[arg-type]
                              options={"keys": ["id"]} if mode == "upsert" else {},
                              table_properties=CDF if properties is None else properties))


def _delete(engine: Engine, root: Path, predicate: str, path: str = SOURCE) -> None:
    """A Delta DELETE of the rows matching ``predicate``: Spark SQL on the Spark engine,
    delta-rs on the others."""
    uri = str(root / "lake" / path)
    if engine.name == "spark":
        engine.session.sql(f"DELETE FROM delta.`{uri}` WHERE {predicate}")  # type: ignore[attr-defined]
    else:
        DeltaTable(uri).delete(predicate)


def _rows(root: Path, path: str = "silver/changes") -> list[tuple[Any, ...]]:
    """(id, v, _change_type, _commit_version) of the target, read with delta-rs."""
    data = DeltaTable(str(root / "lake" / path)).to_pyarrow_table().to_pylist()
    return sorted((r["id"], r["v"], r["_change_type"], r["_commit_version"]) for r in data)


def _state(root: Path, node: str = "changes") -> Any:
    file = root / "lake" / "_system" / "state" / "p" / f"{node}.json"
    return json.loads(file.read_text())["value"] if file.exists() else None


def _feed_project(root: Path, engine: Engine, start: str = "{starting_version: 0}",
                  extra: str = "") -> Path:
    return write_project(root, engine, FEED_NODE.format(start=start, extra=extra))


V0 = [(1, "a", "insert", 0), (2, "b", "insert", 0), (3, "c", "insert", 0)]
V1 = [(2, "b", "update_preimage", 1), (2, "B", "update_postimage", 1), (4, "d", "insert", 1)]
V2 = [(1, "a", "delete", 2)]


def _three_versions(engine: Engine, root: Path) -> None:
    """Version 0: an insert of 1, 2, 3; 1: an upsert of 2 and 4; 2: a delete of 1."""
    _write(engine, root, [{"id": 1, "v": "a"}, {"id": 2, "v": "b"}, {"id": 3, "v": "c"}])
    _write(engine, root, [{"id": 2, "v": "B"}, {"id": 4, "v": "d"}], mode="upsert")
    _delete(engine, root, "id = 1")


# ---- the node --------------------------------------------------------------------------------
def test_the_feed_is_appended_once_per_version(tmp_path: Path, engine: Engine) -> None:
    _three_versions(engine, tmp_path)
    path = _feed_project(tmp_path, engine)
    first = run_nodes(path, engine, run_id="r1")["changes"]
    assert first.succeeded, first.result.error
    assert _rows(tmp_path) == sorted(V0 + V1 + V2)
    assert first.result.rows_written == 7
    assert first.result.extra["incremental"] == {
        "mode": "change_feed", "column": "_commit_version", "lower_bound": None,
        "new_high_water_mark": 2}
    assert _state(tmp_path) == 2

    # More changes: only the new versions are read.
    _write(engine, tmp_path, [{"id": 5, "v": "e"}], mode="append")
    _write(engine, tmp_path, [{"id": 3, "v": "C"}], mode="upsert")
    second = run_nodes(path, engine, run_id="r2")["changes"]
    assert second.succeeded, second.result.error
    assert second.result.rows_written == 3
    assert _rows(tmp_path) == sorted(V0 + V1 + V2 + [
        (5, "e", "insert", 3), (3, "c", "update_preimage", 4), (3, "C", "update_postimage", 4)])
    assert second.result.extra["incremental"]["lower_bound"] == 2
    assert _state(tmp_path) == 4

    # No changes: nothing new, the state stays; the same batch once more is a no-op.
    for run_id in ("r3", "r4"):
        again = run_nodes(path, engine, run_id=run_id)["changes"]
        assert again.succeeded, again.result.error
        assert again.result.rows_written == 0
        assert again.result.extra["incremental"] == {
            "mode": "change_feed", "column": "_commit_version", "lower_bound": 4,
            "new_high_water_mark": 4}
    assert len(_rows(tmp_path)) == 10
    assert _state(tmp_path) == 4


def test_the_batch_is_the_range_of_versions(tmp_path: Path, engine: Engine) -> None:
    """Each range of versions is its own batch: the batch id names the table's version and the
    last version consumed, so reading the same range again (here: the state lost after the
    write committed) is recognised as the same batch and appends nothing."""
    _three_versions(engine, tmp_path)
    path = _feed_project(tmp_path, engine)
    first = run_nodes(path, engine, run_id="r1")["changes"]
    assert first.succeeded, first.result.error
    batch = first.result.extra["batch"]
    assert batch["source"] == "input"
    assert batch["detail"]["window"] == {"mode": "change_feed", "column": "_commit_version",
                                         "lower_bound": None}
    (tmp_path / "lake" / "_system" / "state" / "p" / "changes.json").unlink()
    repeated = run_nodes(path, engine, run_id="r2")["changes"]
    assert repeated.succeeded, repeated.result.error
    assert repeated.result.extra["batch"]["batch_id"] == batch["batch_id"]
    assert repeated.result.write.skipped == "duplicate_batch"
    assert _rows(tmp_path) == sorted(V0 + V1 + V2)


def test_a_failed_write_keeps_the_state(tmp_path: Path, engine: Engine) -> None:
    _three_versions(engine, tmp_path)
    blocking = "validation: {tests: [{type: not_null, columns: [v]}]}"
    path = _feed_project(tmp_path, engine, extra=blocking)
    assert run_nodes(path, engine, run_id="r1")["changes"].succeeded
    _write(engine, tmp_path, [{"id": 6, "v": None}], mode="append")  # version 3 fails the test
    failed = run_nodes(path, engine, run_id="r2")["changes"]
    assert not failed.succeeded and failed.result.error.phase == "validate"
    assert _state(tmp_path) == 2
    _write(engine, tmp_path, [{"id": 7, "v": "g"}], mode="append")  # version 4

    path = _feed_project(tmp_path, engine)  # without the test: versions 3 and 4 are read
    fixed = run_nodes(path, engine, run_id="r3")["changes"]
    assert fixed.succeeded, fixed.result.error
    assert fixed.result.extra["incremental"]["lower_bound"] == 2
    assert _rows(tmp_path) == sorted(V0 + V1 + V2 + [(6, None, "insert", 3),
                                                     (7, "g", "insert", 4)])
    assert _state(tmp_path) == 4


def test_starting_timestamp(tmp_path: Path, engine: Engine) -> None:
    _three_versions(engine, tmp_path)
    stamps = {h["version"]: h["timestamp"] for h in DeltaTable(
        str(tmp_path / "lake" / SOURCE)).history()}
    at = dt.datetime.fromtimestamp(stamps[1] / 1000, dt.timezone.utc)
    path = _feed_project(tmp_path, engine, start=f'{{starting_timestamp: "{at.isoformat()}"}}')
    run = run_nodes(path, engine)["changes"]
    assert run.succeeded, run.result.error
    assert _rows(tmp_path) == sorted(V1 + V2)

    later = dt.datetime.fromtimestamp(stamps[2] / 1000 + 3600, dt.timezone.utc)
    other = tmp_path / "late"
    _three_versions(engine, other)
    path = _feed_project(other, engine, start=f'{{starting_timestamp: "{later.isoformat()}"}}')
    run = run_nodes(path, engine)["changes"]
    assert run.succeeded, run.result.error
    assert run.result.rows_written == 0 and _state(other) is None


def test_a_node_writes_the_table_another_node_reads_as_a_feed(tmp_path: Path,
                                                              engine: Engine) -> None:
    nodes = """\
    - name: load
      read: {connection: src, format: csv, path: orders.csv}
      write:
        connection: lake
        format: delta
        path: silver/orders
        mode: upsert
        options: {keys: [id]}
        table_properties: {delta.enableChangeDataFeed: true}
    - name: changes
      read:
        connection: lake
        format: delta
        path: silver/orders
        change_feed: {starting_version: 0}
      write: {connection: lake, format: delta, path: gold/changes, mode: append}
    """
    path = write_project(tmp_path, engine, nodes, {"orders.csv": "id,v\n1,a\n2,b\n"})
    runs = run_nodes(path, engine, run_id="r1")
    assert runs["changes"].succeeded, runs["changes"].result.error
    orders = str(tmp_path / "lake" / "silver" / "orders")
    assert DeltaTable(orders).metadata().configuration == CDF
    assert _rows(tmp_path, "gold/changes") == [(1, "a", "insert", 0), (2, "b", "insert", 0)]

    time.sleep(0.01)  # a new modification time: the csv is new input
    (tmp_path / "src" / "orders.csv").write_text("id,v\n2,B\n3,c\n", encoding="utf-8")
    _delete(engine, tmp_path, "id = 1", path="silver/orders")  # version 1
    runs = run_nodes(path, engine, run_id="r2")  # load: version 2 (a merge)
    assert runs["changes"].succeeded, runs["changes"].result.error
    assert _rows(tmp_path, "gold/changes") == sorted([
        (1, "a", "insert", 0), (2, "b", "insert", 0), (1, "a", "delete", 1),
        (2, "b", "update_preimage", 2), (2, "B", "update_postimage", 2), (3, "c", "insert", 2)])
    assert len(DeltaTable(orders).history()) == 3  # the property was set once, at creation


def test_table_properties_on_an_existing_table(tmp_path: Path, engine: Engine) -> None:
    _write(engine, tmp_path, [{"id": 1, "v": "a"}], properties={})
    uri = str(tmp_path / "lake" / SOURCE)
    assert DeltaTable(uri).metadata().configuration == {}
    _write(engine, tmp_path, [{"id": 1, "v": "A"}], mode="upsert")  # versions 1 (set) and 2
    table = DeltaTable(uri)
    assert table.metadata().configuration == CDF and table.version() == 2
    _write(engine, tmp_path, [{"id": 2, "v": "b"}], mode="append")  # nothing to set: version 3
    assert DeltaTable(uri).version() == 3
    feed = engine.read(ReadRequest(location=_location(tmp_path), format="delta",
                                   change_feed=ChangeFeedRead(starting_version=1)))
    rows = sorted((r["id"], r["v"], r["_change_type"], r["_commit_version"])
                  for r in engine.to_rows(feed))
    assert rows == [(1, "A", "update_postimage", 2), (1, "a", "update_preimage", 2),
                    (2, "b", "insert", 3)]


# ---- the engine read -------------------------------------------------------------------------
def _location(root: Path, path: str = SOURCE) -> Any:
    from odibi_core.connections import LocalConnection

    return LocalConnection("lake", "lake", root).resolve(path)


def _feed(engine: Engine, root: Path, **kw: Any) -> Any:
    return engine.read(ReadRequest(location=_location(root), format="delta",
                                   change_feed=ChangeFeedRead(**kw), node="p.changes"))


def test_feed_columns_types_and_range(tmp_path: Path, engine: Engine) -> None:
    _three_versions(engine, tmp_path)
    expected_schema = [("id", "int64"), ("v", "string"), ("_change_type", "string"),
                       ("_commit_version", "int64"), ("_commit_timestamp", "timestamp")]
    frame = _feed(engine, tmp_path, starting_version=1, ending_version=1)
    assert [(c.name, c.type) for c in engine.schema(frame)] == expected_schema
    rows = engine.to_rows(frame)
    assert sorted((r["id"], r["v"], r["_change_type"], r["_commit_version"])
                  for r in rows) == sorted(V1)
    stamp = rows[0]["_commit_timestamp"]  # JSON-safe ISO text, in UTC
    assert stamp.endswith("+00:00")
    committed = {h["version"]: h["timestamp"] for h in DeltaTable(
        str(tmp_path / "lake" / SOURCE)).history()}[1]
    seen = dt.datetime.fromisoformat(stamp).timestamp() * 1000
    assert abs(seen - committed) < 1000  # Spark takes the commit file's time: close, not equal

    empty = _feed(engine, tmp_path, starting_version=3)  # past the latest version
    assert engine.count(empty) == 0
    assert [(c.name, c.type) for c in engine.schema(empty)] == expected_schema


def test_a_table_without_a_feed(tmp_path: Path, engine: Engine) -> None:
    _write(engine, tmp_path, [{"id": 1, "v": "a"}], properties={})
    with pytest.raises(DataError, match=r"The Delta table lake:bronze/src has no change data "
                                        r"feed for version 0") as caught:
        _feed(engine, tmp_path, starting_version=0)
    assert "table_properties: {delta.enableChangeDataFeed: true}" in caught.value.fix
    assert "SET TBLPROPERTIES" in caught.value.fix

    path = _feed_project(tmp_path, engine)
    run = run_nodes(path, engine)["changes"]
    assert not run.succeeded and run.result.error.type == "DataError"
    assert "has no change data feed for version 0" in run.result.error.message
    assert _state(tmp_path) is None

    with pytest.raises(DataError, match=r"There is no Delta table at lake:bronze/none"):
        engine.read(ReadRequest(location=_location(tmp_path, "bronze/none"), format="delta",
                                change_feed=ChangeFeedRead(starting_version=0)))


def test_vacuumed_change_data(tmp_path: Path, engine: Engine) -> None:
    _write(engine, tmp_path, [{"id": 1, "v": "a"}])
    _write(engine, tmp_path, [{"id": 2, "v": "b"}])  # an overwrite: version 0's file removed
    DeltaTable(str(tmp_path / "lake" / SOURCE)).vacuum(
        retention_hours=0, enforce_retention_duration=False, dry_run=False)
    with pytest.raises(DataError, match=r"The change data of versions 0 to \d+ of the Delta "
                                        r"table lake:bronze/src can no longer be read: files "
                                        r"they need were removed by VACUUM"):
        _feed(engine, tmp_path, starting_version=0)
