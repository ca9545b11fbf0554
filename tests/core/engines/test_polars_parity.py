"""The polars engine gives what the pandas engine gives: the same logical types and the same rows
for built-ins, casts, fills, validation flags, privacy, schema conforming and file writes, on a
frame mixing every common type with nulls, whitespace and edge values.

Known differences of the SQL dialects (DuckDB on pandas, polars SQL on polars) are listed in
``odibi_core/engines/polars_sql.py``; expressions here stay within what both spell alike.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from odibi_core.config.validation import ValidationConfig
from odibi_core.connections import LocalConnection
from odibi_core.engines import get_engine
from odibi_core.results import ColumnSchema
from odibi_core.storage.requests import ReadRequest, WriteRequest
from odibi_core.testing import frame_from_rows
from odibi_core.transforms import apply_transform
from odibi_core.validation import EvaluationContext, evaluate_tests

ROWS = [
    {"i": 1, "i32": 7, "f": 2.5, "s": "  Ada  Love ", "d": "2024-01-05",
     "ts": "2024-01-01T10:00:00", "dec": "12.50", "b": True, "t": "12"},
    {"i": -3, "i32": None, "f": -2.5, "s": "é\u00a0x", "d": None,
     "ts": "2024-03-01T23:59:59.5", "dec": None, "b": None, "t": " 3 "},
    {"i": None, "i32": 2, "f": None, "s": None, "d": "2024-02-29", "ts": None,
     "dec": "-0.05", "b": False, "t": "x"},
    {"i": 10, "i32": 2, "f": 1e20, "s": "", "d": "2023-12-31", "ts": "2023-12-31T00:00:00",
     "dec": "3.00", "b": True, "t": "2024-01-01T10:00:00+02:00"},
]
SCHEMA = {"i": "int64", "i32": "int32", "f": "float64", "s": "string", "d": "date",
          "ts": "timestamp", "dec": "decimal(10,2)", "b": "bool", "t": "string"}
ENGINES = {name: get_engine(name) for name in ("pandas", "polars")}


def outcome(name, build):
    engine = ENGINES[name]
    try:
        out = build(engine, frame_from_rows(engine, ROWS, SCHEMA))
        return [(c.name, c.type) for c in engine.schema(out)], engine.to_rows(out)
    except Exception as exc:  # noqa: BLE001 - both must fail alike
        return type(exc).__name__


def assert_same(build):
    assert outcome("polars", build) == outcome("pandas", build)


def step(name, params, tables=None):
    return lambda engine, frame: apply_transform(engine, name, frame, params, tables or {})


@pytest.mark.parametrize("expression", [
    "i / 2", "i % 3", "f * 2", "s || '!'", "upper(s)", "coalesce(i, i32, 0)", "i32 + i",
    "abs(i)", "substr(s, 1, 3)", "CASE WHEN i > 0 THEN 'pos' ELSE 'neg' END",
    "CAST(i AS VARCHAR)", "CAST(f AS VARCHAR)", "CAST(d AS VARCHAR)", "CAST(b AS VARCHAR)",
    "trim(s)", "replace(s, 'a', 'b')", "lower(s) LIKE '%a%'", "i IN (1, 10)",
    "i BETWEEN 0 AND 5", "nullif(i, 1)", "greatest(i, i32)", "concat(s, 'x')", "s IS NULL",
    "NOT b", "i = 1 OR b", "10 / 4", "sqrt(i)", "ceil(f)", "floor(f)", "left(s, 2)",
    "d >= DATE '2024-01-01'", "regexp_replace(s, 'a', 'x')",
])
def test_derive_columns(expression):
    assert_same(step("derive_columns", {"columns": {"x": expression}}))


@pytest.mark.parametrize("column,kinds", [
    ("i", ["string", "float64", "int32", "bool", "decimal(10,2)"]),
    ("f", ["int64", "string", "decimal(10,2)", "float32"]),
    ("d", ["string", "timestamp", "timestamp_ntz"]),
    ("ts", ["string", "date", "timestamp_ntz"]),
    ("dec", ["string", "float64", "int64", "decimal(12,3)", "decimal(3,1)"]),
    ("b", ["string", "int64"]),
    ("t", ["int64", "timestamp", "date", "bool", "float64", "decimal(10,1)"]),
])
def test_cast_columns(column, kinds):
    for kind in kinds:
        assert_same(step("cast_columns", {"columns": {column: kind}}))


def test_casts_from_text():
    def cast(engine, frame):
        texts = frame_from_rows(engine, [
            {"n": " 12 ", "x": "12.345", "when": "2024-01-01T10:00:00Z", "flag": "YES",
             "day": "2024-02-29"},
            {"n": "-7", "x": "1.005", "when": "2024-01-01 10:30", "flag": "f", "day": None},
            {"n": None, "x": "-2.5", "when": "2024-01-01T10:00:00+02:00", "flag": "0",
             "day": "2024-03-01"}])
        return apply_transform(engine, "cast_columns", texts, {"columns": {
            "n": "int64", "x": "decimal(10,2)", "when": "timestamp", "flag": "bool",
            "day": "date"}}, {})

    assert_same(cast)


@pytest.mark.parametrize("column,value", [
    ("d", "2024-01-01"), ("dec", 1.5), ("dec", "2.25"), ("ts", "2024-01-01T00:00:00Z"),
    ("b", True), ("f", 0), ("i32", 5), ("i", 2.5), ("s", 5), ("i", "n/a"),
])
def test_fill_nulls(column, value):
    assert_same(step("fill_nulls", {"values": {column: value}}))


@pytest.mark.parametrize("name,params", [
    ("clean_text", {"columns": ["s"], "case": "upper", "empty_as_null": True}),
    ("clean_text", {"columns": ["s", "t"], "trim": False}),
    ("sort", {"by": "f"}), ("sort", {"by": "f DESC"}), ("sort", {"by": "d NULLS FIRST"}),
    ("sort", {"by": "b, i DESC"}), ("sort", {"by": "dec"}), ("sort", {"by": "ts DESC"}),
    ("sort", {"by": "s"}),
    ("deduplicate", {"keys": ["i32"], "order_by": "f DESC"}),
    ("deduplicate", {"keys": ["b", "i32"]}),
    ("distinct", {"columns": ["i32", "b"]}),
    ("filter_rows", {"condition": "i32 = 2 OR s LIKE '%Ada%'"}),
    ("aggregate", {"group_by": ["i32"], "aggregations": {
        "n": "count(*)", "s": "sum(i32)", "sf": "sum(f)", "a": "avg(i)", "mn": "min(d)",
        "mx": "max(ts)", "cd": "count(DISTINCT b)", "sd": "sum(dec)", "md": "median(i)"}}),
    ("aggregate", {"aggregations": {"n": "count(*)", "s": "sum(i32)", "st": "stddev(f)",
                                    "mxd": "max(dec)"}}),
])
def test_builtins(name, params):
    def run(engine, frame):
        out = apply_transform(engine, name, frame, params, {})
        if name == "aggregate" and params.get("group_by"):
            out = apply_transform(engine, "sort", out, {"by": params["group_by"]}, {})
        return out

    assert_same(run)


@pytest.mark.parametrize("how", ["inner", "left", "right", "full", "semi", "anti", "cross"])
def test_join_with_keys_of_different_int_types_and_repeated_keys(how):
    left = [{"k": 1, "v": "a"}, {"k": 2, "v": "b"}, {"k": None, "v": "n"}, {"k": 1, "v": "c"}]
    right = [{"k": 1, "w": "x"}, {"k": 1, "w": "y"}, {"k": 3, "w": "z"}]

    def join(engine, frame):
        left_frame = frame_from_rows(engine, left, {"k": "int32"})
        right_frame = frame_from_rows(engine, right, {"k": "int64"})
        out = apply_transform(engine, "join", left_frame, {
            "right": "r", "on": None if how == "cross" else "k", "how": how}, {"r": right_frame})
        keys = ["k", "v"] if how in ("semi", "anti") else ["k", "v", "w"]
        return apply_transform(engine, "sort", out, {"by": keys}, {})

    assert_same(join)


def test_union_widens_types_like_pandas():
    def union(engine, frame):
        first = frame_from_rows(engine, [{"x": 1, "y": 1.5}], {"x": "int32", "y": "float32"})
        second = frame_from_rows(engine, [{"y": 2, "x": None, "z": dt.date(2024, 1, 1)}],
                                 {"x": "int64", "y": "int64", "z": "date"})
        return apply_transform(engine, "union", first, {"tables": ["b"]}, {"b": second})

    assert_same(union)


def test_validation_results_and_flags():
    config = ValidationConfig.model_validate({"tests": [
        {"type": "accepted_values", "column": "i", "values": [1, 10]},
        {"type": "accepted_values", "column": "i32", "values": ["2"]},
        {"type": "accepted_values", "column": "s", "values": ["", None]},
        {"type": "range", "column": "f", "min": 0, "max": 5},
        {"type": "range", "column": "i", "min": 0.5},
        {"type": "range", "column": "d", "min": "2024-01-01"},
        {"type": "range", "column": "ts", "max": "2024-01-02"},
        {"type": "regex_match", "column": "i32", "pattern": "^[27]$"},
        {"type": "regex_match", "column": "b", "pattern": "^t"},
        {"type": "unique", "columns": ["i32", "b"]},
        {"type": "not_null", "columns": ["i32", "b"]},
        {"type": "custom_sql", "condition": "i > i32"},
        {"type": "distribution", "column": "f", "metric": "null_percentage",
         "threshold": "< 50"},
        {"type": "freshness", "column": "ts", "max_age": "1000d"},
    ]})
    context = EvaluationContext(node="p.n", now=dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc))
    results = {}
    for name, engine in ENGINES.items():
        evaluation = evaluate_tests(engine, frame_from_rows(engine, ROWS, SCHEMA), config.tests,
                                    context)
        results[name] = ([(t.name, t.passed, t.failing_rows, t.sample, t.message)
                          for t in evaluation.result.tests],
                         engine.to_rows(evaluation.flagged))
    assert results["polars"] == results["pandas"]


@pytest.mark.parametrize("method", ["hash", "mask", "redact"])
def test_anonymize(method):
    assert_same(lambda engine, frame: engine.anonymize(frame, ["i", "s", "b", "d", "i32"],
                                                       method, "salt"))


def test_conform_rows_after_and_constants():
    assert_same(lambda engine, frame: engine.conform(frame, [
        ColumnSchema("i", "float64"), ColumnSchema("dec", "float64"), ColumnSchema("new", "date"),
        ColumnSchema("i32", "int64"), ColumnSchema("t", "string")]))
    assert_same(lambda engine, frame: engine.conform(frame, [ColumnSchema("t", "int64")]))
    assert_same(lambda engine, frame: engine.conform(frame, [ColumnSchema("f", "int64")]))
    assert_same(lambda engine, frame: engine.rows_after(
        frame, "ts", dt.datetime(2024, 1, 1, 10, tzinfo=dt.timezone.utc)))
    assert_same(lambda engine, frame: engine.rows_after(frame, "d", dt.date(2024, 1, 5)))
    assert_same(lambda engine, frame: engine.with_constants(frame, {
        "a": 1, "b2": 1.5, "c": "x", "d2": True,
        "at": dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)}))


@pytest.mark.parametrize("fraction", [0.1, 0.25, 0.5, 0.75])
def test_sample_fraction_keeps_as_many_rows(fraction):
    counts = {name: engine.count(engine.sample_fraction(
        frame_from_rows(engine, [{"i": i} for i in range(37)]), fraction, seed=5))
        for name, engine in ENGINES.items()}
    assert counts["polars"] == counts["pandas"]


@pytest.mark.parametrize("fmt,path", [
    ("csv", "o.csv"), ("json", "o.json"), ("json", "o.jsonl"), ("parquet", "o.parquet"),
    ("csv", "o.csv.gz"), ("json", "part_folder")])
def test_written_files_read_back_alike(tmp_path: Path, fmt, path):
    back = {}
    texts = {}
    reader = ENGINES["pandas"]
    for name, engine in ENGINES.items():
        lake = LocalConnection("lake", "lake", tmp_path / name)
        engine.write(frame_from_rows(engine, ROWS, SCHEMA),
                     WriteRequest(location=lake.resolve(path), format=fmt))
        frame = reader.read(ReadRequest(location=lake.resolve(path), format=fmt))
        back[name] = ([(c.name, c.type) for c in reader.schema(frame)], reader.to_rows(frame))
        if fmt == "json" and path.endswith((".json", ".jsonl")):
            texts[name] = Path(lake.resolve(path).uri).read_bytes()
    assert back["polars"] == back["pandas"]
    assert texts.get("polars") == texts.get("pandas")  # JSON: the same bytes


def test_csv_text_matches_pandas_but_for_empty_strings(tmp_path: Path):
    texts = {}
    for name, engine in ENGINES.items():
        lake = LocalConnection("lake", "lake", tmp_path / name)
        engine.write(frame_from_rows(engine, ROWS, SCHEMA),
                     WriteRequest(location=lake.resolve("o.csv"), format="csv"))
        texts[name] = Path(lake.resolve("o.csv").uri).read_text(encoding="utf-8")
    # polars quotes an empty string ("" reads back as null on both, as pandas writes it)
    assert texts["polars"].replace(',"",', ",,") == texts["pandas"]
