"""The dead-letter destination: batches replaced atomically, listed, and the model's helpers."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake

from odibi_core.connections import LocalConnection
from odibi_core.dead_letters import (
    DEAD_LETTER_COLUMNS,
    DeadLetter,
    DeadLetterBatch,
    DeadLetterStore,
    SourceFile,
    build_batch_id,
    check_bad_fraction,
    list_dead_letters,
    relative_source,
    summarize_batch,
)
from odibi_core.errors import DataError
from odibi_core.results import DeadLetterResult

AT = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)


def _batch(batch_id: str = "b-1", lines=(2, 5), node: str | None = "p.orders",
           records: int = 10) -> DeadLetterBatch:
    letters = tuple(DeadLetter("raw/a.csv", n, f"raw {n}", f"error {n}", "id,v") for n in lines)
    return DeadLetterBatch(batch_id=batch_id, records_read=records, dead_letters=letters,
                           node=node)


@pytest.fixture
def lake(tmp_path) -> LocalConnection:
    return LocalConnection("lake", "lake", tmp_path)


def _rows(store: DeadLetterStore) -> list[tuple]:
    return [(r["node"], r["_batch_id"], r["line"]) for r in store.read().to_pylist()]


def test_delta_batches_are_replaced_not_appended(lake):
    store = DeadLetterStore(lake.resolve("_dlq/orders"))
    assert store.read().num_rows == 0  # no table yet
    assert store.write_batch(_batch(), at=AT) == 2
    assert store.write_batch(_batch(), at=AT) == 2
    store.write_batch(_batch("b-2", lines=(7,)), at=AT)
    store.write_batch(_batch("b-1", lines=(9,), node="p.other"), at=AT)  # same id, other node
    assert sorted(_rows(store)) == [("p.orders", "b-1", 2), ("p.orders", "b-1", 5),
                            ("p.orders", "b-2", 7), ("p.other", "b-1", 9)]
    store.write_batch(_batch("b-1", lines=(3,)), at=AT)
    assert sorted(_rows(store)) == [("p.orders", "b-1", 3), ("p.orders", "b-2", 7),
                                    ("p.other", "b-1", 9)]
    table = DeltaTable(lake.resolve("_dlq/orders").uri)
    version = table.version()
    store.write_batch(_batch("b-3", lines=()), at=AT)  # a clean read commits nothing
    assert DeltaTable(lake.resolve("_dlq/orders").uri).version() == version
    store.write_batch(_batch("b-2", lines=()), at=AT)  # a clean re-read removes the old ones
    assert ("p.orders", "b-2", 7) not in _rows(store)


def test_the_destination_columns(lake):
    store = DeadLetterStore(lake.resolve("_dlq/orders"))
    store.write_batch(_batch(lines=(2,)), status="failed", at=AT)
    table = DeltaTable(lake.resolve("_dlq/orders").uri).to_pyarrow_table()
    assert tuple(table.column_names) == DEAD_LETTER_COLUMNS
    assert table.to_pylist() == [{
        "_batch_id": "b-1", "node": "p.orders", "source_file": "raw/a.csv", "line": 2,
        "raw": "raw 2", "error": "error 2", "header": "id,v", "format": "csv",
        "_batch_status": "failed", "_dead_lettered_at": AT, "_replayed_at": None}]


def test_a_table_without_the_dead_letter_columns_is_refused(lake):
    uri = lake.resolve("_dlq/other").uri
    write_deltalake(uri, pa.table({"x": [1]}))
    store = DeadLetterStore(lake.resolve("_dlq/other"))
    with pytest.raises(DataError, match=r"lake:_dlq/other does not have the dead-letter columns"):
        store.write_batch(_batch(), at=AT)


@pytest.mark.parametrize("fmt", ["parquet", "csv", "json"])
def test_file_destinations_round_trip(lake, fmt):
    store = DeadLetterStore(lake.resolve("_dlq/files"), format=fmt)
    batch = DeadLetterBatch("b-1", 3, (
        DeadLetter("a.csv", 2, 'x,"y, z"\n', "", "id,v"),
        DeadLetter("a.jsonl", 3, "{bad", "invalid JSON", None, "json")), node="p.n")
    store.write_batch(batch, at=AT)
    store.write_batch(batch, at=AT)
    rows = store.read().to_pylist()
    assert [(r["raw"], r["error"], r["header"], r["_dead_lettered_at"], r["_replayed_at"])
            for r in rows] == [('x,"y, z"\n', "", "id,v", AT, None),
                               ("{bad", "invalid JSON", None, AT, None)]
    store.write_batch(DeadLetterBatch("b-1", 3, (), node="p.n"), at=AT)
    assert store.read().num_rows == 0


def test_list_dead_letters_counts_pending_replayed_and_failed(lake):
    store = DeadLetterStore(lake.resolve("_dlq/orders"))
    store.write_batch(_batch("b-1", lines=(2, 5)), at=AT)
    store.write_batch(_batch("b-2", lines=(4,)), status="failed", at=AT)
    rows = store.read(batch_id="b-1")
    index = rows.column_names.index("_replayed_at")
    stamp = pa.array([AT, None], pa.timestamp("us", tz="UTC"))
    store.replace_batches([("p.orders", "b-1")], rows.set_column(index, "_replayed_at", stamp))

    listing = list_dead_letters(store)
    assert (listing.total, listing.pending, listing.replayed) == (3, 1, 1)
    assert [(r["_batch_id"], r["line"]) for r in listing.rows] == [("b-1", 5)]
    assert [(b.batch_id, b.status, b.dead_letters, b.pending) for b in listing.batches] == [
        ("b-1", "loaded", 2, 1), ("b-2", "failed", 1, 0)]
    everything = list_dead_letters(store, include_replayed=True, limit=None)
    assert len(everything.rows) == 3 and everything.rows[0]["_replayed_at"] == AT.isoformat()
    assert list_dead_letters(store, node="p.nobody").total == 0


def test_check_bad_fraction_and_summary():
    batch = _batch(lines=(2, 5), records=10)
    check_bad_fraction(batch, 0.2, destination="lake:_dlq")  # at the limit: fine
    check_bad_fraction(batch, None, destination="lake:_dlq")
    with pytest.raises(DataError, match=r"\[p.n\] 2 of 10 records \(20.0%\) could not be read, "
                                        r"above read.dead_letter.max_bad_fraction 0.1"):
        check_bad_fraction(batch, 0.1, destination="lake:_dlq", node="p.n")
    result = summarize_batch(batch, destination="lake:_dlq", written=2, max_bad_fraction=0.5)
    assert result.summary() == {"rows_read": 10, "bad_records": 2, "bad_fraction": 0.2,
                                "destination": "lake:_dlq", "written": 2, "batch_id": "b-1",
                                "max_bad_fraction": 0.5}
    assert DeadLetterResult.from_dict(result.to_dict()) == result
    assert [s["line"] for s in result.samples] == [2, 5] and "raw" not in result.samples[0]


def test_batch_ids_are_deterministic():
    files = [SourceFile("raw/a.csv", 10, 5), SourceFile("raw/b.csv", 3, 7)]
    assert build_batch_id("p.n", files) == build_batch_id("p.n", list(reversed(files)))
    assert build_batch_id("p.n", files) != build_batch_id("p.other", files)
    assert build_batch_id("p.n", files) != build_batch_id("p.n", [files[0]])
    assert build_batch_id("p.n", [SourceFile("raw/a.csv", 10, 6)]) != build_batch_id(
        "p.n", [files[0]])


def test_relative_source_never_shows_the_base_path(tmp_path):
    lake = LocalConnection("lake", "lake", tmp_path)
    file = str(tmp_path / "lake" / "raw" / "2026" / "a.csv")
    assert relative_source(lake.resolve("raw/2026/a.csv"), file) == "raw/2026/a.csv"
    assert relative_source(lake.resolve("raw"), file) == "raw/2026/a.csv"
    assert relative_source(lake.resolve("raw/*/a.csv"), file) == "raw/2026/a.csv"
    assert relative_source(lake.resolve("raw/**/*.csv"), file) == "raw/2026/a.csv"
    assert relative_source(lake.resolve(""), file) == "raw/2026/a.csv"
    other = LocalConnection("up", tmp_path / "lake" / "raw", tmp_path)
    assert relative_source(other.resolve("../raw/2026"), file) == "../raw/2026/a.csv"
