"""Behaviour the polars engine had to match that the other conformance files do not pin down:
casts from untidy text, join keys of different integer widths, fill values given as text,
parquet part files that gained a column."""

from __future__ import annotations

from odibi_core.storage.requests import ReadRequest, WriteRequest
from odibi_core.testing import assert_frames_equal, frame_from_rows
from odibi_core.transforms import apply_transform


def run(engine, name, frame, params, tables=None):
    return apply_transform(engine, name, frame, params, tables or {}, node="p.n")


def test_casts_from_text_trim_and_read_iso_instants(engine):
    frame = frame_from_rows(engine, [
        {"n": " 12 ", "at": "2024-01-01T10:00:00Z", "day": "2024-02-29", "flag": "true"},
        {"n": "-7", "at": "2024-01-01T10:00:00+02:00", "day": None, "flag": "false"}])
    out = run(engine, "cast_columns", frame, {"columns": {
        "n": "int64", "at": "timestamp", "day": "date", "flag": "bool"}})
    assert_frames_equal(engine, out, [
        {"n": 12, "at": "2024-01-01T10:00:00+00:00", "day": "2024-02-29", "flag": True},
        {"n": -7, "at": "2024-01-01T08:00:00+00:00", "day": None, "flag": False},
    ], check_order=True, schema={"n": "int64", "at": "timestamp", "day": "date",
                                 "flag": "bool"})


def test_join_keys_of_different_integer_widths_match(engine):
    left = frame_from_rows(engine, [{"k": 1, "v": "a"}, {"k": 2, "v": "b"}], {"k": "int32"})
    right = frame_from_rows(engine, [{"k": 1, "w": "x"}, {"k": 1, "w": "y"}], {"k": "int64"})
    out = run(engine, "join", left, {"right": "r", "on": "k", "how": "left"}, {"r": right})
    assert_frames_equal(engine, out, [{"k": 1, "v": "a", "w": "x"}, {"k": 1, "v": "a", "w": "y"},
                                      {"k": 2, "v": "b", "w": None}])


def test_fill_values_given_as_text_take_the_column_type(engine):
    frame = frame_from_rows(engine, [{"day": None, "price": None, "n": None}],
                            {"day": "date", "price": "decimal(10,2)", "n": "int64"})
    out = run(engine, "fill_nulls", frame, {"values": {
        "day": "2024-01-31", "price": "2.50", "n": 3}})
    assert_frames_equal(engine, out, [{"day": "2024-01-31", "price": 2.5, "n": 3}],
                        schema={"day": "date", "price": "decimal(10,2)", "n": "int64"})


def test_parquet_part_files_that_gained_a_column_stack(engine, lake):
    folder = lake.resolve("parts")
    engine.write(frame_from_rows(engine, [{"id": 1}]),
                 WriteRequest(location=folder, format="parquet"))
    engine.write(frame_from_rows(engine, [{"id": 2, "extra": "x"}]),
                 WriteRequest(location=folder, format="parquet", mode="append"))
    back = engine.read(ReadRequest(location=folder, format="parquet"))
    assert_frames_equal(engine, back, [{"id": 1, "extra": None}, {"id": 2, "extra": "x"}],
                        schema={"id": "int64", "extra": "string"})
