"""A file-arrival run (SPEC §11 sensors, ``reads: new_files``): the node reading the watched
glob reads only the run's new files, on every engine; other reads are untouched."""

from __future__ import annotations

from pathlib import Path

from deltalake import DeltaTable

from odibi_core.file_arrival import FileArrival
from tests.conformance.conformance_projects import run_nodes, write_project

NODES = """\
- name: orders
  read: {connection: src, format: csv, path: "orders/*.csv"}
  write: {connection: lake, format: delta, path: orders, mode: append}
- name: customers
  read: {connection: src, format: csv, path: "customers/*.csv"}
  write: {connection: lake, format: delta, path: customers, mode: overwrite}
"""
FILES = {
    "orders/a.csv": "id,amount\n1,10\n2,20\n",
    "orders/b.csv": "id,amount\n3,30\n",
    "orders/c.csv": "id,amount\n4,40\n5,50\n",
    "customers/all.csv": "id,name\n1,ada\n2,alan\n",
}


def _ids(root: Path, table: str) -> list[int]:
    return sorted(DeltaTable(str(root / "lake" / table)).to_pyarrow_table()
                  .column("id").to_pylist())


def test_an_arrival_narrows_the_watched_read_only(engine, tmp_path: Path) -> None:
    path = write_project(tmp_path, engine, NODES, FILES)
    arrival = FileArrival("src", "orders/*.csv", ("orders/a.csv", "orders/c.csv"))
    runs = run_nodes(path, engine, run_id="r1", arrival=arrival)
    assert runs["orders"].succeeded and runs["customers"].succeeded
    assert runs["orders"].result.rows_in == 4
    assert _ids(tmp_path, "orders") == [1, 2, 4, 5]
    assert _ids(tmp_path, "customers") == [1, 2]  # another glob: read whole

    # The next arrival appends just its file; the batch is new, so nothing is skipped.
    runs = run_nodes(path, engine, run_id="r2",
                     arrival=FileArrival("src", "orders/*.csv", ("orders/b.csv",)))
    assert runs["orders"].succeeded
    assert _ids(tmp_path, "orders") == [1, 2, 3, 4, 5]

    # The same arrival again (a retried run): the same batch, appended once.
    runs = run_nodes(path, engine, run_id="r3",
                     arrival=FileArrival("src", "orders/*.csv", ("orders/b.csv",)))
    assert runs["orders"].succeeded
    assert _ids(tmp_path, "orders") == [1, 2, 3, 4, 5]


def test_an_arrival_whose_files_are_gone_fails_clearly(engine, tmp_path: Path) -> None:
    path = write_project(tmp_path, engine, NODES, FILES)
    arrival = FileArrival("src", "orders/*.csv", ("orders/gone.csv",))
    runs = run_nodes(path, engine, arrival=arrival)
    failed = runs["orders"]
    assert not failed.succeeded and failed.result.error is not None
    assert "None of the run's 1 arrived file(s)" in failed.result.error.message
    assert not (tmp_path / "lake" / "orders").exists()
