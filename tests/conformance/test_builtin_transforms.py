"""Every built-in, with exact expected rows: the shared meaning of each transform."""

from __future__ import annotations

import pytest

from odibi_core.testing import assert_frames_equal, frame_from_rows
from odibi_core.transforms import apply_transform

ORDERS = [
    {"id": 1, "customer": "  Ada   Lovelace ", "status": "Shipped", "amount": 10,
     "updated": "2024-01-02"},
    {"id": 2, "customer": "grace", "status": None, "amount": None, "updated": "2024-01-01"},
    {"id": 1, "customer": "ada", "status": "open", "amount": 12, "updated": "2024-01-03"},
    {"id": 3, "customer": "", "status": "open", "amount": 4, "updated": None},
]


@pytest.fixture
def orders(engine):
    return frame_from_rows(engine, ORDERS, schema={"id": "int64", "amount": "int64"})


def run(engine, name, frame, params, tables=None):
    return apply_transform(engine, name, frame, params, tables or {}, node="p.n")


def test_filter_rows(engine, orders):
    out = run(engine, "filter_rows", orders, {"condition": "amount > 5 AND status <> 'x'"})
    assert_frames_equal(engine, out, [ORDERS[0], ORDERS[2]], check_order=True)


def test_derive_columns_in_order_and_in_place(engine, orders):
    out = run(engine, "derive_columns", orders, {"columns": {
        "double": "amount * 2", "amount": "coalesce(double, 0) + 1", "flag": True}})
    assert_frames_equal(engine, run(engine, "select_columns", out,
                                    {"columns": ["id", "amount", "double", "flag"]}), [
        {"id": 1, "amount": 21, "double": 20, "flag": True},
        {"id": 2, "amount": 1, "double": None, "flag": True},
        {"id": 1, "amount": 25, "double": 24, "flag": True},
        {"id": 3, "amount": 9, "double": 8, "flag": True},
    ], check_order=True)
    assert engine.columns(out) == ["id", "customer", "status", "amount", "updated", "double",
                                   "flag"]


def test_derive_columns_accepts_odibi_key(engine, orders):
    out = run(engine, "derive_columns", orders, {"derivations": {"x": "id + 1"}})
    assert engine.columns(out)[-1] == "x"


def test_cast_columns(engine, orders):
    out = run(engine, "cast_columns", orders, {"columns": {
        "updated": "date", "amount": "float", "id": "string"}})
    assert_frames_equal(engine, run(engine, "select_columns", out,
                                    {"columns": ["id", "amount", "updated"]}), [
        {"id": "1", "amount": 10.0, "updated": "2024-01-02"},
        {"id": "2", "amount": None, "updated": "2024-01-01"},
        {"id": "1", "amount": 12.0, "updated": "2024-01-03"},
        {"id": "3", "amount": 4.0, "updated": None},
    ], check_order=True, schema={"id": "string", "amount": "float64", "updated": "date"})


def test_cast_timestamps_and_decimals(engine):
    frame = frame_from_rows(engine, [{"at": "2024-01-01 10:30:00", "price": "12.345"}])
    out = run(engine, "cast_columns", frame, {"casts": {"at": "timestamp",
                                                        "price": "decimal(10,2)"}})
    assert_frames_equal(engine, out, [{"at": "2024-01-01T10:30:00+00:00", "price": 12.35}],
                        schema={"at": "timestamp", "price": "decimal(10,2)"})


def test_clean_text(engine, orders):
    out = run(engine, "clean_text", orders, {"columns": ["customer", "status"], "case": "lower",
                                             "empty_as_null": True})
    assert [r["customer"] for r in engine.to_rows(out)] == ["ada lovelace", "grace", "ada", None]
    assert [r["status"] for r in engine.to_rows(out)] == ["shipped", None, "open", "open"]
    kept = run(engine, "clean_text", orders, {"columns": ["customer"], "trim": False,
                                              "collapse_whitespace": False, "case": "upper"})
    assert engine.to_rows(kept)[0]["customer"] == "  ADA   LOVELACE "


def test_clean_text_whitespace_kinds(engine):
    frame = frame_from_rows(engine, [{"s": "\t a \n b  "}])
    assert engine.to_rows(run(engine, "clean_text", frame, {"columns": ["s"]})) == [{"s": "a b"}]
    no_collapse = run(engine, "clean_text", frame, {"columns": ["s"],
                                                    "collapse_whitespace": False})
    assert engine.to_rows(no_collapse) == [{"s": "a \n b"}]


def test_fill_nulls(engine, orders):
    out = run(engine, "fill_nulls", orders, {"values": {"status": "unknown", "amount": 0}})
    rows = engine.to_rows(out)
    assert [r["status"] for r in rows] == ["Shipped", "unknown", "open", "open"]
    assert [r["amount"] for r in rows] == [10, 0, 12, 4]
    assert {c.name: c.type for c in engine.schema(out)}["amount"] == "int64"


def test_case_when(engine, orders):
    out = run(engine, "case_when", orders, {
        "output_col": "size",
        "cases": [{"condition": "amount >= 10", "value": "'big'"},
                  {"condition": "amount >= 5", "value": "'medium'"}],
        "default": "'small'"})
    assert [r["size"] for r in engine.to_rows(out)] == ["big", "small", "big", "small"]
    replaced = run(engine, "case_when", orders, {
        "output_col": "amount", "cases": [{"condition": "amount IS NULL", "value": 0}],
        "default": "amount"})
    assert engine.columns(replaced) == engine.columns(orders)
    assert [r["amount"] for r in engine.to_rows(replaced)] == [10, 0, 12, 4]


def test_select_drop_rename(engine, orders):
    selected = run(engine, "select_columns", orders, {"columns": ["amount", "id"]})
    assert engine.columns(selected) == ["amount", "id"]
    dropped = run(engine, "drop_columns", orders, {"columns": ["customer", "updated"]})
    assert engine.columns(dropped) == ["id", "status", "amount"]
    tolerant = run(engine, "drop_columns", orders, {"columns": ["nope"], "ignore_missing": True})
    assert engine.columns(tolerant) == engine.columns(orders)
    renamed = run(engine, "rename_columns", orders, {"columns": {"id": "order_id"}})
    assert engine.columns(renamed)[0] == "order_id"
    assert engine.count(renamed) == 4


def test_sort(engine, orders):
    out = run(engine, "sort", orders, {"by": "amount DESC, id"})
    assert [r["amount"] for r in engine.to_rows(out)] == [12, 10, 4, None]
    by_list = run(engine, "sort", orders, {"by": ["id", "updated DESC"]})
    assert [(r["id"], r["updated"]) for r in engine.to_rows(by_list)] == [
        (1, "2024-01-03"), (1, "2024-01-02"), (2, "2024-01-01"), (3, None)]
    descending = run(engine, "sort", orders, {"by": ["updated"], "descending": True})
    assert [r["updated"] for r in engine.to_rows(descending)] == [
        "2024-01-03", "2024-01-02", "2024-01-01", None]
    nulls_first = run(engine, "sort", orders, {"by": "updated NULLS FIRST"})
    assert [r["updated"] for r in engine.to_rows(nulls_first)][0] is None
    stable = run(engine, "sort", orders, {"by": "status", "ascending": False})
    # byte order: "open" > "Shipped"; the two "open" rows keep their input order
    assert [r["id"] for r in engine.to_rows(stable)] == [1, 3, 1, 2]


def test_deduplicate(engine, orders):
    latest = run(engine, "deduplicate", orders, {"keys": ["id"], "order_by": "updated DESC"})
    assert_frames_equal(engine, latest, ORDERS[1:], check_order=True)
    first = run(engine, "deduplicate", orders, {"keys": "id"})
    assert_frames_equal(engine, first, [ORDERS[0], ORDERS[1], ORDERS[3]], check_order=True)


def test_distinct(engine):
    frame = frame_from_rows(engine, [{"a": 1, "b": "x"}, {"a": 1, "b": "x"}, {"a": 1, "b": "y"},
                                     {"a": None, "b": None}, {"a": None, "b": None}])
    assert_frames_equal(engine, run(engine, "distinct", frame, {}), [
        {"a": 1, "b": "x"}, {"a": 1, "b": "y"}, {"a": None, "b": None}], check_order=True)
    assert_frames_equal(engine, run(engine, "distinct", frame, {"columns": ["a"]}),
                        [{"a": 1}, {"a": None}], check_order=True)


@pytest.fixture
def people(engine):
    left = frame_from_rows(engine, [{"id": 1, "name": "ada", "city": "x"},
                                    {"id": 2, "name": "grace", "city": "y"},
                                    {"id": None, "name": "nobody", "city": "z"}])
    right = frame_from_rows(engine, [{"id": 1, "city": "London"}, {"id": 3, "city": "Paris"},
                                     {"id": None, "city": "Nowhere"}])
    return left, {"cities": right}


@pytest.mark.parametrize("how,expected", [
    ("inner", [{"id": 1, "name": "ada", "city": "x", "city_right": "London"}]),
    ("left", [{"id": 1, "name": "ada", "city": "x", "city_right": "London"},
              {"id": 2, "name": "grace", "city": "y", "city_right": None},
              {"id": None, "name": "nobody", "city": "z", "city_right": None}]),
    ("right", [{"id": 1, "name": "ada", "city": "x", "city_right": "London"},
               {"id": 3, "name": None, "city": None, "city_right": "Paris"},
               {"id": None, "name": None, "city": None, "city_right": "Nowhere"}]),
    ("full", [{"id": 1, "name": "ada", "city": "x", "city_right": "London"},
              {"id": 2, "name": "grace", "city": "y", "city_right": None},
              {"id": None, "name": "nobody", "city": "z", "city_right": None},
              {"id": 3, "name": None, "city": None, "city_right": "Paris"},
              {"id": None, "name": None, "city": None, "city_right": "Nowhere"}]),
    ("semi", [{"id": 1, "name": "ada", "city": "x"}]),
    ("anti", [{"id": 2, "name": "grace", "city": "y"},
              {"id": None, "name": "nobody", "city": "z"}]),
])
def test_join(engine, people, how, expected):
    left, tables = people
    out = run(engine, "join", left, {"right": "cities", "on": ["id"], "how": how}, tables)
    assert_frames_equal(engine, out, expected)


def test_join_on_differently_named_keys_with_prefix(engine):
    left = frame_from_rows(engine, [{"customer_id": 1, "name": "ada"}])
    right = frame_from_rows(engine, [{"id": 1, "name": "Ada L."}])
    out = run(engine, "join", left, {"right_dataset": "crm", "on": {"customer_id": "id"},
                                     "how": "inner", "prefix": "crm"}, {"crm": right})
    assert_frames_equal(engine, out, [{"customer_id": 1, "name": "ada", "id": 1,
                                       "crm_name": "Ada L."}])


def test_cross_join(engine):
    left = frame_from_rows(engine, [{"a": 1}, {"a": 2}])
    right = frame_from_rows(engine, [{"b": "x"}])
    out = run(engine, "join", left, {"right": "r", "how": "cross"}, {"r": right})
    assert_frames_equal(engine, out, [{"a": 1, "b": "x"}, {"a": 2, "b": "x"}])


def test_union(engine):
    first = frame_from_rows(engine, [{"id": 1, "name": "a"}], schema={"id": "int32"})
    second = frame_from_rows(engine, [{"name": "b", "id": 2, "extra": True}])
    third = frame_from_rows(engine, [{"x": 3, "y": "c"}])
    out = run(engine, "union", first, {"tables": ["second"]}, {"second": second})
    assert_frames_equal(engine, out, [{"id": 1, "name": "a", "extra": None},
                                      {"id": 2, "name": "b", "extra": True}],
                        check_order=True, schema={"id": "int64"})
    positional = run(engine, "union", first, {"datasets": ["third"], "by_name": False},
                     {"third": third})
    assert_frames_equal(engine, positional, [{"id": 1, "name": "a"}, {"id": 3, "name": "c"}],
                        check_order=True)


def test_aggregate(engine, orders):
    out = run(engine, "aggregate", orders, {
        "group_by": ["id"],
        "aggregations": {"orders": "count(*)", "revenue": "sum(amount)",
                         "average": "avg(amount)", "last": "max(updated)"}})
    assert_frames_equal(engine, out, [
        {"id": 1, "orders": 2, "revenue": 22, "average": 11.0, "last": "2024-01-03"},
        {"id": 2, "orders": 1, "revenue": None, "average": None, "last": "2024-01-01"},
        {"id": 3, "orders": 1, "revenue": 4, "average": 4.0, "last": None},
    ], schema={"orders": "int64", "revenue": "int64", "average": "float64"})
    total = run(engine, "aggregate", orders, {"aggregations": {"n": "count(amount)"}})
    assert_frames_equal(engine, total, [{"n": 3}])


def test_builtins_leave_the_input_frame_alone(engine, orders):
    before = engine.to_rows(orders)
    run(engine, "rename_columns", orders, {"columns": {"id": "x"}})
    run(engine, "deduplicate", orders, {"keys": ["id"]})
    run(engine, "sort", orders, {"by": "amount"})
    assert engine.to_rows(orders) == before
