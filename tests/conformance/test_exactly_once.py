"""Exactly-once writes on every engine (SPEC §7): a repeated batch appends nothing, new input
is a new batch, a rolled-back batch is appended again, ``skip_if_unchanged`` extends the no-op
to overwrite, and the high-water mark follows the write."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conformance_projects import run_nodes, write_project
from deltalake import DeltaTable

from odibi_core.config import load_project
from odibi_core.engines.base import Engine
from odibi_core.exactly_once import BatchLedger

ORDERS = """\
order_id,amount,updated_at
1,10.0,2026-01-01
2,20.0,2026-01-02
3,30.0,2026-01-03
"""


def read_back(path: Path, fmt: str) -> dict[str, list]:
    """The target's rows by column, read with pyarrow / delta-rs (not with the engine under
    test)."""
    import pyarrow as pa
    import pyarrow.csv as pcsv
    import pyarrow.dataset as ds

    if fmt == "delta":
        return DeltaTable(str(path)).to_pyarrow_table().to_pydict()
    files = sorted(str(p) for p in path.rglob(f"*.{fmt}") if not p.name.startswith((".", "_")))
    if fmt == "csv":
        return pa.concat_tables([pcsv.read_csv(f) for f in files]).to_pydict()
    return ds.dataset(files, format="parquet").to_table().to_pydict()


def _append_node(fmt: str, *, mode: str = "append", extra: str = "") -> str:
    return f"""\
    - name: load
      read: {{connection: src, format: csv, path: orders}}
      write: {{connection: lake, format: {fmt}, path: silver/orders, mode: {mode}{extra}}}
    """


def _ids(root: Path, fmt: str) -> list[int]:
    return sorted(read_back(root / "lake" / "silver" / "orders", fmt)["order_id"])


def _add_file(root: Path, name: str, text: str) -> None:
    (root / "src" / "orders" / name).write_text(text, encoding="utf-8")


@pytest.mark.parametrize("fmt", ["delta", "parquet", "csv"])
def test_a_repeated_batch_appends_nothing_and_new_input_is_a_new_batch(
        tmp_path: Path, engine: Engine, fmt: str) -> None:
    path = write_project(tmp_path, engine, _append_node(fmt), {"orders/a.csv": ORDERS})
    first = run_nodes(path, engine, run_id="r1")["load"].result
    second = run_nodes(path, engine, run_id="r2")["load"].result
    assert first.write.rows_written == 3 and first.write.skipped is None
    assert second.status == "success"
    assert second.write.skipped_duplicate_batch and second.write.rows_written == 0
    assert second.write.batch_id == first.write.batch_id
    assert _ids(tmp_path, fmt) == [1, 2, 3]

    _add_file(tmp_path, "b.csv", "order_id,amount,updated_at\n4,40.0,2026-01-04\n")
    third = run_nodes(path, engine, run_id="r3")["load"].result
    assert third.write.batch_id != first.write.batch_id and third.write.skipped is None
    # The read is not incremental: the new batch is all of the input again.
    assert _ids(tmp_path, fmt) == [1, 1, 2, 2, 3, 3, 4]
    if fmt == "delta":
        table = DeltaTable(str(tmp_path / "lake" / "silver" / "orders"))
        app_id = third.write.transaction.rsplit("@", 1)[0]
        assert table.transaction_version(app_id) == 0
        assert table.version() == 1  # the skipped repeat made no commit


def test_a_rolled_back_batch_is_appended_again(tmp_path: Path, engine: Engine) -> None:
    path = write_project(tmp_path, engine, _append_node("delta"), {"orders/a.csv": ORDERS})
    first = run_nodes(path, engine, run_id="r1")["load"].result
    table_path = str(tmp_path / "lake" / "silver" / "orders")
    _add_file(tmp_path, "b.csv", "order_id,amount,updated_at\n4,40.0,2026-01-04\n")
    second = run_nodes(path, engine, run_id="r2")["load"].result
    assert _ids(tmp_path, "delta") == [1, 1, 2, 2, 3, 3, 4]
    # Roll the second batch back: RESTORE keeps its transaction record, the ledger frees it.
    DeltaTable(table_path).restore(first.write.delta_version)
    BatchLedger(tmp_path / "lake" / "_system", "p", "load").mark_rolled_back(
        second.write.batch_id)
    assert _ids(tmp_path, "delta") == [1, 2, 3]
    again = run_nodes(path, engine, run_id="r3")["load"].result
    assert again.write.batch_id == second.write.batch_id
    assert again.write.skipped is None and again.write.transaction.endswith("@1")
    assert _ids(tmp_path, "delta") == [1, 1, 2, 2, 3, 3, 4]
    repeat = run_nodes(path, engine, run_id="r4")["load"].result
    assert repeat.write.skipped_duplicate_batch
    assert _ids(tmp_path, "delta") == [1, 1, 2, 2, 3, 3, 4]


@pytest.mark.parametrize("fmt", ["delta", "parquet"])
def test_skip_if_unchanged_makes_a_repeated_overwrite_a_no_op(
        tmp_path: Path, engine: Engine, fmt: str) -> None:
    node = _append_node(fmt, mode="overwrite", extra=", skip_if_unchanged: true")
    path = write_project(tmp_path, engine, node, {"orders/a.csv": ORDERS})
    first = run_nodes(path, engine, run_id="r1")["load"].result
    second = run_nodes(path, engine, run_id="r2")["load"].result
    assert first.write.skipped is None and second.write.skipped == "unchanged"
    assert second.write.rows_written == 0 and _ids(tmp_path, fmt) == [1, 2, 3]
    # A changed node definition is not "unchanged", even with the same input.
    text = path.read_text(encoding="utf-8").replace(
        "path: orders}", "path: orders}\n        transformer: filter_rows\n"
        "        params: {condition: \"order_id > 1\"}")
    path.write_text(text, encoding="utf-8")
    third = run_nodes(path, engine, run_id="r3")["load"].result
    assert third.status == "success", third.error
    assert third.write.skipped is None and _ids(tmp_path, fmt) == [2, 3]


def test_overwrite_without_skip_if_unchanged_always_writes(tmp_path: Path,
                                                          engine: Engine) -> None:
    path = write_project(tmp_path, engine, _append_node("delta", mode="overwrite"),
                         {"orders/a.csv": ORDERS})
    run_nodes(path, engine, run_id="r1")
    second = run_nodes(path, engine, run_id="r2")["load"].result
    assert second.write.skipped is None and second.write.delta_version == 1


def test_stateful_incremental_appends_each_row_once(tmp_path: Path, engine: Engine) -> None:
    node = """\
    - name: load
      read:
        connection: src
        format: csv
        path: orders
        incremental: {mode: stateful, column: updated_at}
      write: {connection: lake, format: delta, path: silver/orders, mode: append}
    """
    path = write_project(tmp_path, engine, node, {"orders/a.csv": ORDERS})
    run_nodes(path, engine, run_id="r1")
    repeat = run_nodes(path, engine, run_id="r2")["load"].result
    assert repeat.rows_written == 0 and repeat.write.skipped == "no_rows"  # nothing newer
    _add_file(tmp_path, "b.csv", "order_id,amount,updated_at\n4,40.0,2026-01-04\n")
    third = run_nodes(path, engine, run_id="r3")["load"].result
    assert third.write.rows_written == 1
    assert _ids(tmp_path, "delta") == [1, 2, 3, 4]
    state = tmp_path / "lake" / "_system" / "state" / "p" / "load.json"
    assert '"2026-01-04' in state.read_text(encoding="utf-8")
    ledger = BatchLedger(tmp_path / "lake" / "_system", "p", "load").entries()
    assert [e.status for e in ledger] == ["committed", "skipped", "committed"]
    assert all(e.hwm_saved for e in ledger if e.hwm is not None)


def test_upsert_and_append_once_are_keyed_merges_on_delta(tmp_path: Path,
                                                         engine: Engine) -> None:
    node = """\
    - name: load
      read: {connection: src, format: csv, path: orders}
      write:
        connection: lake
        format: delta
        path: silver/orders
        mode: upsert
        options: {keys: [order_id]}
    - name: once
      read: {connection: src, format: csv, path: orders}
      write:
        connection: lake
        format: delta
        path: silver/once
        mode: append_once
        options: {keys: [order_id]}
    """
    path = write_project(tmp_path, engine, node, {"orders/a.csv": ORDERS})
    for run_id in ("r1", "r2"):
        runs = run_nodes(path, engine, run_id=run_id)
        assert all(r.succeeded for r in runs.values())
    _add_file(tmp_path, "b.csv", "order_id,amount,updated_at\n3,99.0,2026-01-05\n")
    # a.csv and b.csv both hold order 3 now: deduplicate first, the newest wins.
    text = path.read_text(encoding="utf-8").replace(
        "path: orders}", "path: orders}\n        transformer: deduplicate\n"
        "        params: {keys: [order_id], order_by: \"updated_at DESC\"}")
    path.write_text(text, encoding="utf-8")
    runs = run_nodes(path, engine, run_id="r3")
    assert all(r.succeeded for r in runs.values()), {k: r.result.error for k, r in runs.items()}
    upserted = read_back(tmp_path / "lake" / "silver" / "orders", "delta")
    once = read_back(tmp_path / "lake" / "silver" / "once", "delta")
    assert sorted(zip(upserted["order_id"], upserted["amount"])) == [
        (1, 10.0), (2, 20.0), (3, 99.0)]
    assert sorted(zip(once["order_id"], once["amount"])) == [(1, 10.0), (2, 20.0), (3, 30.0)]


@pytest.mark.parametrize("mode", ["upsert", "append_once"])
def test_keyed_modes_on_files_are_refused_before_anything_is_written(
        tmp_path: Path, engine: Engine, mode: str) -> None:
    node = f"""\
    - name: load
      read: {{connection: src, format: csv, path: orders}}
      write:
        connection: lake
        format: parquet
        path: silver/orders
        mode: {mode}
        options: {{keys: [order_id]}}
    """
    path = write_project(tmp_path, engine, node, {"orders/a.csv": ORDERS})
    result = run_nodes(path, engine)["load"].result
    assert result.status == "failed"
    assert f"'{mode}' needs a Delta target" in result.error.message
    assert "format: delta" in (result.error.fix or "")
    assert not (tmp_path / "lake" / "silver").exists()
    ledger = BatchLedger(tmp_path / "lake" / "_system", "p", "load").entries()
    assert [e.status for e in ledger] in ([], ["pending"])  # resolved by the next writer


def test_a_downstream_batch_follows_its_upstream_batch(tmp_path: Path, engine: Engine) -> None:
    nodes = """\
    - name: raw
      read: {connection: src, format: csv, path: orders}
    - name: load
      depends_on: [raw]
      write: {connection: lake, format: delta, path: silver/orders, mode: append}
    """
    path = write_project(tmp_path, engine, nodes, {"orders/a.csv": ORDERS})
    first = run_nodes(path, engine, run_id="r1")["load"].result
    second = run_nodes(path, engine, run_id="r2")["load"].result
    assert first.write.batch_id == second.write.batch_id
    assert second.write.skipped_duplicate_batch and _ids(tmp_path, "delta") == [1, 2, 3]
    os.utime(tmp_path / "src" / "orders" / "a.csv", ns=(1, 1))  # same bytes, new mtime
    third = run_nodes(path, engine, run_id="r3")["load"].result
    assert third.write.batch_id != first.write.batch_id


def test_the_batch_is_in_the_result_and_the_ledger(tmp_path: Path, engine: Engine) -> None:
    path = write_project(tmp_path, engine, _append_node("delta"), {"orders/a.csv": ORDERS})
    result = run_nodes(path, engine)["load"].result
    batch = result.extra["batch"]
    assert batch["source"] == "input" and batch["batch_id"] == result.write.batch_id
    assert batch["detail"]["files"] == 1
    project = load_project(path)
    assert project.config.project in result.write.transaction
    (entry,) = BatchLedger(tmp_path / "lake" / "_system", "p", "load").entries()
    assert (entry.status, entry.batch_id, entry.rows, entry.mode) == (
        "committed", result.write.batch_id, 3, "append")
