"""Reading with a dead-letter queue, on every engine: which records are valid, which lines become
dead letters and why, max_bad_fraction, re-reads, the strict read's messages, and replay.

The fixture files are described in ``tests/fixtures/dead_letters/README.md``.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from deltalake import DeltaTable

from odibi_core.config.node import DeadLetterConfig
from odibi_core.dead_letters import (
    DeadLetterStore,
    list_dead_letters,
    load_corrections,
    read_with_dead_letter_queue,
    replay_dead_letters,
)
from odibi_core.engines.base import Engine
from odibi_core.errors import ConfigError, DataError
from odibi_core.storage.requests import ReadRequest, WriteRequest
from odibi_core.testing import assert_frames_equal, frame_to_rows

FIXTURES = Path(__file__).parents[1] / "fixtures" / "dead_letters"
TYPED_SCHEMA = {"id": "int64", "amount": "int64", "price": "decimal(10,2)", "day": "date",
                "active": "bool", "label": "string"}


@pytest.fixture
def landing(tmp_path: Path) -> Path:
    """The fixture files under ``<lake>/landing``."""
    folder = tmp_path / "lake" / "landing"
    folder.mkdir(parents=True)
    for name in ("orders.csv", "events.jsonl", "typed.csv"):
        shutil.copy(FIXTURES / name, folder / name)
    return folder


def _request(lake, path: str, fmt: str = "csv", **options) -> ReadRequest:
    return ReadRequest(location=lake.resolve(path), format=fmt, options=options,
                       node="sales.orders")


def _letters(batch) -> list[tuple[str, int]]:
    return [(d.source_file, d.line) for d in batch.dead_letters]


def _errors(batch) -> dict[int, str]:
    return {d.line: d.error for d in batch.dead_letters}


# ---- what is a dead letter ---------------------------------------------------------------------
def test_csv_wrong_field_counts_unclosed_quote_and_bad_bytes(engine: Engine, lake, landing):
    frame, batch = engine.read_with_dead_letters(_request(lake, "landing/orders.csv"))

    assert_frames_equal(engine, frame, [
        {"order_id": 1, "customer": "ada", "amount": 10.5, "note": "ok"},
        {"order_id": 2, "customer": "bob", "amount": 7.25, "note": "multi\nline note"},
        {"order_id": 7, "customer": "fay", "amount": 5.0, "note": "ok"},
        {"order_id": 8, "customer": "gus", "amount": 6.0, "note": None},
    ], check_order=True,
        schema={"order_id": "int64", "customer": "string", "amount": "float64", "note": "string"})
    assert _letters(batch) == [("landing/orders.csv", n) for n in (5, 6, 7, 8)]
    errors = _errors(batch)
    assert errors[5] == "expected 4 fields, got 5"
    assert errors[6] == "expected 4 fields, got 3"
    assert errors[7] == "invalid utf-8 byte 0xe9 at column 6 (byte offset 109 of the file)"
    assert errors[8].startswith("unclosed quote")
    raws = {d.line: d.raw for d in batch.dead_letters}
    assert raws == {5: "3,cy,3.00,ok,EXTRA", 6: "4,dee,1.00", 7: "5,caf\ufffd,2.00,ok",
                    8: '6,eve,"4.00,ok'}
    assert {d.header for d in batch.dead_letters} == {"order_id,customer,amount,note"}
    assert (batch.records_read, batch.bad_records) == (8, 4)
    assert batch.bad_fraction == 0.5


def test_json_lines_invalid_lines_and_bad_bytes(engine, lake, landing):
    frame, batch = engine.read_with_dead_letters(_request(lake, "landing/events.jsonl", "json"))

    assert_frames_equal(engine, frame, [
        {"event_id": 1, "kind": "click", "value": 3.0},
        {"event_id": 2, "kind": "view", "value": 4.5},
        {"event_id": 6, "kind": "view", "value": 1.0},
    ], check_order=True, schema={"event_id": "int64", "kind": "string", "value": "float64"})
    assert _letters(batch) == [("landing/events.jsonl", n) for n in (3, 5, 6, 8, 9)]
    errors = _errors(batch)
    assert errors[3] == "invalid JSON: Expecting ',' delimiter at column 32"
    assert errors[5] == "expected a JSON object, found an array"
    assert errors[6] == "invalid utf-8 byte 0xe9 at column 29 (byte offset 173 of the file)"
    assert errors[8] == "expected a JSON object, found a string"
    assert errors[9].startswith("invalid JSON: Extra data")
    assert {d.format for d in batch.dead_letters} == {"json"}
    assert batch.records_read == 8  # the blank line is no record


def test_values_that_do_not_fit_the_declared_schema(engine, lake, landing):
    frame, batch = engine.read_with_dead_letters(
        _request(lake, "landing/typed.csv", schema=TYPED_SCHEMA))

    assert_frames_equal(engine, frame, [
        {"id": 1, "amount": 10, "price": 1.5, "day": "2024-01-05", "active": True,
         "label": "007"},
        {"id": 6, "amount": 60, "price": 6.0, "day": "2024-01-10", "active": False,
         "label": "v"},
        {"id": 7, "amount": None, "price": 7.0, "day": None, "active": True, "label": "u"},
    ], check_order=True, schema=TYPED_SCHEMA)
    assert _errors(batch) == {
        3: 'value "abc" is not int64 in column amount',
        4: 'value "2.555" is not decimal(10,2) in column price',
        5: 'value "2024-02-30" is not date in column day',
        6: 'value "yes" is not bool in column active',
    }
    assert batch.dead_letters[0].raw == "2,abc,2.00,2024-01-06,false,x"


def test_json_values_that_do_not_fit_the_declared_schema(engine, lake, tmp_path):
    path = tmp_path / "lake" / "p.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text('{"id": 1, "amount": 5}\n{"id": 2, "amount": "abc"}\n'
                    '{"id": 3, "amount": 1.5}\n{"id": 4}\n{"id": 5, "amount": "12"}\n')
    frame, batch = engine.read_with_dead_letters(
        _request(lake, "p.jsonl", "json", schema={"amount": "int64"}))
    assert_frames_equal(engine, frame, [{"id": 1, "amount": 5}, {"id": 4, "amount": None},
                                        {"id": 5, "amount": 12}],
                        check_order=True, schema={"id": "int64", "amount": "int64"})
    assert _errors(batch) == {2: 'value "abc" is not int64 in column amount',
                              3: 'value "1.5" is not int64 in column amount'}


def test_valid_records_read_as_a_clean_file_reads(engine, lake, landing):
    lines = (landing / "orders.csv").read_bytes().split(b"\n")
    clean = b"\n".join(lines[i] for i in (0, 1, 2, 3, 8, 10)) + b"\n"
    (landing / "clean.csv").write_bytes(clean)

    dirty, _ = engine.read_with_dead_letters(_request(lake, "landing/orders.csv"))
    expected = engine.read(_request(lake, "landing/clean.csv"))
    assert engine.schema(dirty) == engine.schema(expected)
    assert frame_to_rows(engine, dirty) == frame_to_rows(engine, expected)


def test_clean_file_has_no_dead_letters_and_reads_as_read_does(engine, lake, tmp_path):
    path = tmp_path / "lake" / "ok.csv"
    path.parent.mkdir(parents=True)
    path.write_text("id,name,score\n1,a,\n2,,3.5\n3,c,\n")  # empty last values are no short rows
    frame, batch = engine.read_with_dead_letters(_request(lake, "ok.csv"))
    assert batch.dead_letters == () and batch.records_read == 3
    assert frame_to_rows(engine, frame) == frame_to_rows(engine,
                                                         engine.read(_request(lake, "ok.csv")))


def test_extra_field_on_the_first_row_is_a_dead_letter_not_an_index(engine, lake, tmp_path):
    path = tmp_path / "lake" / "shift.csv"
    path.parent.mkdir(parents=True)
    path.write_text("a,b\n1,2,3\n4,5\n")
    frame, batch = engine.read_with_dead_letters(_request(lake, "shift.csv"))
    assert_frames_equal(engine, frame, [{"a": 4, "b": 5}])
    assert _errors(batch) == {2: "expected 2 fields, got 3"}


def test_files_of_a_folder_are_named_relative_to_the_connection(engine, lake, tmp_path):
    folder = tmp_path / "lake" / "in" / "orders"
    folder.mkdir(parents=True)
    (folder / "a.csv").write_text("id,v\n1,x\n2\n")
    (folder / "b.csv").write_text("id,v\n3,y\n4,z,zz\n5,w\n")
    frame, batch = engine.read_with_dead_letters(_request(lake, "in/orders"))
    assert_frames_equal(engine, frame, [{"id": 1, "v": "x"}, {"id": 3, "v": "y"},
                                        {"id": 5, "v": "w"}], check_order=True)
    assert _letters(batch) == [("in/orders/a.csv", 3), ("in/orders/b.csv", 3)]
    assert batch.records_read == 5
    globbed, again = engine.read_with_dead_letters(_request(lake, "in/*/b.csv"))
    assert _letters(again) == [("in/orders/b.csv", 3)]
    assert [f.path for f in batch.files] == ["in/orders/a.csv", "in/orders/b.csv"]


def test_header_false_gzip_and_other_separators(engine, lake, tmp_path):
    import gzip

    path = tmp_path / "lake" / "semi.csv.gz"
    path.parent.mkdir(parents=True)
    with gzip.open(path, "wb") as handle:
        handle.write(b"1;x\n2;y;z\n3;w\n")
    frame, batch = engine.read_with_dead_letters(
        _request(lake, "semi.csv.gz", header=False, sep=";"))
    assert_frames_equal(engine, frame, [{"_c0": 1, "_c1": "x"}, {"_c0": 3, "_c1": "w"}])
    assert [(d.line, d.error, d.header) for d in batch.dead_letters] == [
        (2, "expected 2 fields, got 3", "_c0;_c1")]


def test_a_broken_json_document_is_one_dead_letter(engine, lake, tmp_path):
    folder = tmp_path / "lake" / "docs"
    folder.mkdir(parents=True)
    (folder / "a.json").write_text('[{"id": 1}, {"id": 2}]')
    (folder / "b.json").write_text('[{"id": 3},\n {"id": ]')
    frame, batch = engine.read_with_dead_letters(_request(lake, "docs", "json"))
    assert_frames_equal(engine, frame, [{"id": 1}, {"id": 2}])
    (letter,) = batch.dead_letters
    assert (letter.source_file, letter.line) == ("docs/b.json", 1)
    assert letter.error.startswith("invalid JSON document: Expecting value at line 2")
    assert letter.raw == '[{"id": 3},\n {"id": ]'
    assert batch.records_read == 3


def test_dead_letters_need_csv_or_json(engine, lake, tmp_path):
    with pytest.raises(ConfigError, match=r"read.dead_letter works with csv and json reads; "
                                          r"this read is parquet"):
        engine.read_with_dead_letters(_request(lake, "x.parquet", "parquet"))


def test_schema_types_are_checked(engine, lake, landing):
    with pytest.raises(ConfigError, match=r"read.options.schema.amount: Column 'amount': "
                                          r"unknown type 'integr'"):
        engine.read(_request(lake, "landing/typed.csv", schema={"amount": "integr"}))


def test_batch_id_is_a_fingerprint_of_the_source_files(engine, lake, landing):
    _, first = engine.read_with_dead_letters(_request(lake, "landing/orders.csv"))
    _, again = engine.read_with_dead_letters(_request(lake, "landing/orders.csv"))
    assert first.batch_id == again.batch_id and first.batch_id.startswith("b-")
    os.utime(landing / "orders.csv", ns=(1_000_000_000, 1_000_000_000))
    _, touched = engine.read_with_dead_letters(_request(lake, "landing/orders.csv"))
    assert touched.batch_id != first.batch_id
    _, named = engine.read_with_dead_letters(_request(lake, "landing/orders.csv"),
                                             batch_id="run-42")
    assert named.batch_id == "run-42"


# ---- without dead_letter: the first malformed record fails, naming file and line ----------------
@pytest.mark.parametrize("content,fmt,options,message", [
    (b"a,b\n1,2\n3,4,5\n", "csv", {}, r"line 3: expected 2 fields, got 3"),
    (b"a,b\n1,2\n3\n", "csv", {}, r"line 3: expected 2 fields, got 1"),
    (b'a,b\n1,2\n3,"x\n4,5\n', "csv", {}, r"line 3: unclosed quote"),
    (b"a,b\n1,2\n3,caf\xe9\n", "csv", {},
     r"line 3: invalid utf-8 byte 0xe9 at column 6 \(byte offset 13 of the file\)"),
    (b"a,b\n1,2\n3,x\n", "csv", {"schema": {"b": "int64"}},
     r'line 3: value "x" is not int64 in column b'),
    (b'{"a": 1}\n{"a": \n', "json", {}, r"line 2: invalid JSON: Expecting value at column 7"),
    (b'{"a": 1}\n{"a": "caf\xe9"}\n', "json", {}, r"line 2: invalid utf-8 byte 0xe9"),
])
def test_without_dead_letter_the_read_names_file_and_line(engine, lake, tmp_path, content, fmt,
                                                          options, message):
    name = "bad.csv" if fmt == "csv" else "bad.jsonl"
    path = tmp_path / "lake" / "in" / name
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    with pytest.raises(DataError, match=rf"\[sales.orders\] Cannot parse {fmt} file "
                                        rf"lake:in/{name}, {message}[\s\S]*Fix: Fix line "
                                        r"\d+ of the file[\s\S]*add read.dead_letter"):
        engine.read(_request(lake, "in", fmt, **options))


def test_strict_read_counts_the_other_malformed_records(engine, lake, landing):
    with pytest.raises(DataError, match=r"orders.csv, line 5: expected 4 fields, got 5. "
                                        r"Line: '3,cy,3.00,ok,EXTRA'. 3 more records of this "
                                        r"file are malformed"):
        engine.read(_request(lake, "landing/orders.csv"))


# ---- the queue: destination, max_bad_fraction, re-reads ------------------------------------------
def _dlq(path: str = "_dlq/orders", **kw) -> DeadLetterConfig:
    return DeadLetterConfig(connection="lake", path=path, **kw)


def _delta_rows(lake, path: str = "_dlq/orders") -> list[dict]:
    table = DeltaTable(lake.resolve(path).uri).to_pyarrow_table()
    return sorted(table.to_pylist(), key=lambda r: (r["source_file"], r["line"]))


def test_dead_letters_go_to_a_delta_destination(engine, lake, landing):
    frame, result = read_with_dead_letter_queue(engine, _request(lake, "landing/orders.csv"),
                                                _dlq(), lake)
    assert engine.count(frame) == 4
    assert (result.rows_read, result.bad_records, result.written) == (8, 4, 4)
    assert result.bad_fraction == 0.5 and result.destination == "lake:_dlq/orders"
    assert result.samples[0] == {"source_file": "landing/orders.csv", "line": 5,
                                 "error": "expected 4 fields, got 5"}
    rows = _delta_rows(lake)
    assert [(r["source_file"], r["line"]) for r in rows] == [
        ("landing/orders.csv", n) for n in (5, 6, 7, 8)]
    first = rows[0]
    assert first["raw"] == "3,cy,3.00,ok,EXTRA" and first["node"] == "sales.orders"
    assert first["_batch_id"] == result.batch_id and first["_batch_status"] == "loaded"
    assert first["_dead_lettered_at"] is not None and first["_replayed_at"] is None
    assert all(str(lake.base_path) not in json.dumps(r, default=str) for r in rows)


def test_a_dry_run_writes_no_dead_letters(engine, lake, landing):
    frame, result = read_with_dead_letter_queue(engine, _request(lake, "landing/orders.csv"),
                                                _dlq(), lake, dry_run=True)
    assert (engine.count(frame), result.bad_records, result.written) == (4, 4, 0)
    assert not os.path.exists(lake.resolve("_dlq/orders").uri)


def test_rereading_the_same_batch_does_not_duplicate(engine, lake, landing):
    request = _request(lake, "landing/orders.csv")
    read_with_dead_letter_queue(engine, request, _dlq(), lake)
    read_with_dead_letter_queue(engine, request, _dlq(), lake)
    assert len(_delta_rows(lake)) == 4
    other = _request(lake, "landing/events.jsonl", "json")
    read_with_dead_letter_queue(engine, other, _dlq(), lake)  # another batch: added
    assert len(_delta_rows(lake)) == 9
    (landing / "orders.csv").write_text("order_id,customer\n1,a\n")  # fixed: a new batch
    read_with_dead_letter_queue(engine, request, _dlq(), lake)
    assert len(_delta_rows(lake)) == 9  # the old batch stays as history


def test_above_max_bad_fraction_the_read_fails_and_dead_letters_are_kept(engine, lake, landing):
    request = _request(lake, "landing/orders.csv")
    with pytest.raises(DataError, match=(
            r"\[sales.orders\] 4 of 8 records \(50.0%\) could not be read, above "
            r"read.dead_letter.max_bad_fraction 0.25. Dead letters per file: "
            r"landing/orders.csv \(4\). First: landing/orders.csv line 5: expected 4 fields, "
            r"got 5. The dead letters of this batch \(b-\w+\) are in lake:_dlq/orders."
            r"[\s\S]*Fix: Fix the source file\(s\) or the read options[\s\S]*raise "
            r"read.dead_letter.max_bad_fraction")):
        read_with_dead_letter_queue(engine, request, _dlq(max_bad_fraction=0.25), lake)
    rows = _delta_rows(lake)
    assert len(rows) == 4 and {r["_batch_status"] for r in rows} == {"failed"}
    assert list_dead_letters(DeadLetterStore(lake.resolve("_dlq/orders"))).pending == 0

    frame, result = read_with_dead_letter_queue(engine, request, _dlq(max_bad_fraction=0.5),
                                                lake)  # at the limit: accepted, same batch
    assert result.bad_records == 4 and engine.count(frame) == 4
    assert {r["_batch_status"] for r in _delta_rows(lake)} == {"loaded"}


@pytest.mark.parametrize("fmt", ["parquet", "csv", "json"])
def test_file_destinations_replace_their_batch(engine, lake, landing, fmt):
    request = _request(lake, "landing/orders.csv")
    config = _dlq("_dlq/files", format=fmt)
    read_with_dead_letter_queue(engine, request, config, lake)
    read_with_dead_letter_queue(engine, request, config, lake)
    listing = list_dead_letters(DeadLetterStore.from_config(config, lake))
    assert listing.total == 4 and listing.pending == 4
    assert [r["raw"] for r in listing.rows][:2] == ["3,cy,3.00,ok,EXTRA", "4,dee,1.00"]
    assert len(os.listdir(lake.resolve("_dlq/files").uri)) == 1


# ---- dlq show and replay -------------------------------------------------------------------------
def _target_writer(engine, lake, path: str = "silver/orders"):
    def append(frame):
        engine.write(frame, WriteRequest(location=lake.resolve(path), format="delta",
                                         mode="append", merge_schema=True))
    return append


def test_list_dead_letters(engine, lake, landing):
    _, result = read_with_dead_letter_queue(engine, _request(lake, "landing/orders.csv"),
                                            _dlq(), lake)
    store = DeadLetterStore(lake.resolve("_dlq/orders"))
    listing = list_dead_letters(store, node="sales.orders", limit=2)
    assert (listing.total, listing.pending, listing.replayed) == (4, 4, 0)
    assert len(listing.rows) == 2 and listing.rows[0]["line"] == 5
    assert isinstance(listing.rows[0]["_dead_lettered_at"], str)
    (summary,) = listing.batches
    assert (summary.batch_id, summary.status, summary.dead_letters) == (result.batch_id,
                                                                         "loaded", 4)
    assert list_dead_letters(store, batch_id="nope").total == 0
    json.dumps(listing.to_dict())


def test_replay_round_trip_with_a_corrections_file(engine, lake, landing, tmp_path):
    request = _request(lake, "landing/orders.csv")
    frame, _ = read_with_dead_letter_queue(engine, request, _dlq(), lake)
    append = _target_writer(engine, lake)
    append(frame)
    store = DeadLetterStore(lake.resolve("_dlq/orders"))
    fixes = tmp_path / "fixes.csv"
    fixes.write_text('source_file,line,raw\n'
                     'landing/orders.csv,5,"3,cy,3.00,ok"\n'
                     'landing/orders.csv,7,"5,café,2.00,ok"\n'
                     'landing/orders.csv,8,"6,eve,4.00,still,bad"\n')

    result = replay_dead_letters(store, engine, options={}, append=append,
                                 node="sales.orders", corrections=load_corrections(fixes))

    assert (result.replayed, result.still_failing) == (2, 2)
    assert_frames_equal(engine, result.frame, [
        {"order_id": 3, "customer": "cy", "amount": 3.0, "note": "ok"},
        {"order_id": 5, "customer": "café", "amount": 2.0, "note": "ok"},
    ], check_order=True)
    target = engine.read(ReadRequest(location=lake.resolve("silver/orders"), format="delta"))
    assert sorted(r["order_id"] for r in frame_to_rows(engine, target)) == [1, 2, 3, 5, 7, 8]
    rows = {r["line"]: r for r in _delta_rows(lake)}
    assert rows[5]["_replayed_at"] is not None and rows[7]["raw"] == "5,café,2.00,ok"
    assert rows[8]["_replayed_at"] is None and rows[8]["error"] == "expected 4 fields, got 5"
    assert rows[8]["raw"] == "6,eve,4.00,still,bad"
    assert rows[6]["_replayed_at"] is None and rows[6]["error"] == "expected 4 fields, got 3"

    again = replay_dead_letters(store, engine, options={}, append=append, node="sales.orders")
    assert (again.replayed, again.still_failing) == (0, 2)  # replayed ones are not replayed twice
    assert engine.count(engine.read(ReadRequest(location=lake.resolve("silver/orders"),
                                                format="delta"))) == 6


def test_replay_after_editing_raw_in_the_table_with_a_schema(engine, lake, landing):
    options = {"schema": TYPED_SCHEMA}
    request = _request(lake, "landing/typed.csv", **options)
    read_with_dead_letter_queue(engine, request, _dlq(), lake)
    table = DeltaTable(lake.resolve("_dlq/orders").uri)
    table.update(predicate="line = 3", updates={"raw": "'2,20,2.00,2024-01-06,false,x'"})
    table.update(predicate="line = 6", updates={"raw": "'5,50,5.00,2024-01-09,maybe,w'"})
    written = []

    result = replay_dead_letters(DeadLetterStore(lake.resolve("_dlq/orders")), engine,
                                 options=options, append=written.append)

    assert len(written) == 1 and result.replayed == 1
    assert_frames_equal(engine, written[0], [{"id": 2, "amount": 20, "price": 2.0,
                                              "day": "2024-01-06", "active": False,
                                              "label": "x"}], schema=TYPED_SCHEMA)
    assert {f["line"]: f["error"] for f in result.failures} == {
        4: 'value "2.555" is not decimal(10,2) in column price',
        5: 'value "2024-02-30" is not date in column day',
        6: 'value "maybe" is not bool in column active'}


def test_replay_json_dead_letters(engine, lake, landing, tmp_path):
    request = _request(lake, "landing/events.jsonl", "json")
    read_with_dead_letter_queue(engine, request, _dlq(), lake)
    fixes = tmp_path / "fixes.jsonl"
    fixes.write_text(json.dumps({"source_file": "landing/events.jsonl", "line": 3,
                                 "raw": '{"event_id": 3, "kind": "click"}'}) + "\n")
    store = DeadLetterStore(lake.resolve("_dlq/orders"))
    dry = replay_dead_letters(store, engine, options={}, append=None,
                              corrections=load_corrections(fixes))
    assert dry.dry_run and dry.replayed == 1 and list_dead_letters(store).pending == 5
    assert _delta_rows(lake)[0]["raw"] == '{"event_id": 3, "kind": "click"'  # unchanged

    written = []
    result = replay_dead_letters(store, engine, options={}, append=written.append,
                                 corrections=load_corrections(fixes))
    assert_frames_equal(engine, written[0], [{"event_id": 3, "kind": "click"}])
    assert (result.replayed, result.still_failing) == (1, 4)
    assert list_dead_letters(store).pending == 4


def test_replay_marks_nothing_when_the_append_fails(engine, lake, landing, tmp_path):
    read_with_dead_letter_queue(engine, _request(lake, "landing/orders.csv"), _dlq(), lake)
    store = DeadLetterStore(lake.resolve("_dlq/orders"))
    fixes = {("landing/orders.csv", 6): "4,dee,1.00,ok"}

    def broken(frame):
        raise DataError("target is gone")

    with pytest.raises(DataError, match="target is gone"):
        replay_dead_letters(store, engine, options={}, append=broken, corrections=fixes)
    assert list_dead_letters(store).pending == 4
    assert _delta_rows(lake)[1]["raw"] == "4,dee,1.00"  # corrections are not kept either


def test_replay_refuses_a_correction_for_no_pending_dead_letter(engine, lake, landing):
    read_with_dead_letter_queue(engine, _request(lake, "landing/orders.csv"), _dlq(), lake)
    store = DeadLetterStore(lake.resolve("_dlq/orders"))
    with pytest.raises(DataError, match=r"1 correction\(s\) match no pending dead letter at "
                                        r"lake:_dlq/orders: landing/orders.csv line 2"):
        replay_dead_letters(store, engine, options={}, append=lambda f: None,
                            corrections={("landing/orders.csv", 2): "x"})


def test_replay_csv_without_header_and_with_a_schema(engine, lake, tmp_path):
    path = tmp_path / "lake" / "nohead.csv"
    path.parent.mkdir(parents=True)
    path.write_text("1;007\n2;x\n3\n")
    options = {"header": False, "sep": ";", "schema": {"_c1": "int64"}}
    frame, result = read_with_dead_letter_queue(
        engine, _request(lake, "nohead.csv", **options), _dlq(), lake)
    assert_frames_equal(engine, frame, [{"_c0": 1, "_c1": 7}],
                        schema={"_c0": "int64", "_c1": "int64"})
    assert [(s["line"], s["error"]) for s in result.samples] == [
        (2, 'value "x" is not int64 in column _c1'), (3, "expected 2 fields, got 1")]
    written = []
    replayed = replay_dead_letters(DeadLetterStore(lake.resolve("_dlq/orders")), engine,
                                   options=options, append=written.append,
                                   corrections={("nohead.csv", 2): "2;8", ("nohead.csv", 3): "3;9"})
    assert replayed.replayed == 2
    assert_frames_equal(engine, written[0], [{"_c0": 2, "_c1": 8}, {"_c0": 3, "_c1": 9}],
                        schema={"_c0": "int64", "_c1": "int64"})
