"""Casting declared columns from text, and finding the values that do not fit."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pyarrow as pa
import pytest

from odibi_core.dead_letters.casting import cast_declared, parse_declared_schema
from odibi_core.errors import ConfigError, DataError


def _cast(values, logical, **kw):
    table = pa.table({"v": pa.array(values, pa.string())})
    outcome = cast_declared(table, {"v": logical}, source="f.csv", **kw)
    return outcome.table.column("v").to_pylist(), sorted(outcome.bad_rows)


@pytest.mark.parametrize("logical,values,expected,bad", [
    ("int64", ["1", " 2 ", "-3", None, "abc", "1.5", "1e3", "99999999999999999999"],
     [1, 2, -3, None, None, None, None, None], [4, 5, 6, 7]),
    ("int32", ["2147483647", "2147483648"], [2147483647, None], [1]),
    ("float64", ["1.5", "1e3", ".5", "nan?", "x"], [1.5, 1000.0, 0.5, None, None], [3, 4]),
    ("decimal(10,2)", ["10.5", "10.555", "-0.01", "1,5"],
     [Decimal("10.50"), None, Decimal("-0.01"), None], [1, 3]),
    ("bool", ["true", "FALSE", "1", "yes", "t"], [True, False, True, None, None], [3, 4]),
    ("date", ["2024-01-05", "2024-02-30", "2024-1-5", "05/01/2024"],
     [dt.date(2024, 1, 5), None, None, None], [1, 2, 3]),
    ("timestamp_ntz", ["2024-01-05 10:00:00", "2024-01-05T10:00:00Z"],
     [dt.datetime(2024, 1, 5, 10), None], [1]),
    ("string", ["007", " x "], ["007", " x "], []),
])
def test_values_that_fit_and_values_that_do_not(logical, values, expected, bad):
    assert _cast(values, logical) == (expected, bad)


def test_timestamps_without_a_zone_are_utc_and_zones_are_converted():
    values, bad = _cast(["2024-01-05T10:00:00Z", "2024-01-05 10:00:00",
                         "2024-01-05T12:00:00+02:00", "soon"], "timestamp")
    utc = dt.timezone.utc
    assert [v.astimezone(utc) if v else v for v in values] == [
        dt.datetime(2024, 1, 5, 10, tzinfo=utc)] * 3 + [None]
    assert bad == [3]


def test_every_value_of_a_row_that_does_not_fit_is_named():
    table = pa.table({"a": ["1", "x"], "b": ["2024-01-01", "nope"]})
    outcome = cast_declared(table, {"a": "int64", "b": "date"}, source="f")
    assert outcome.bad_rows == {1: 'value "x" is not int64 in column a; '
                                   'value "nope" is not date in column b'}
    assert outcome.valid_rows().to_pylist() == [{"a": 1, "b": dt.date(2024, 1, 1)}]


def test_bad_values_are_found_by_pattern_and_by_halving():
    values = ["2024-01-01"] * 20_000
    for i in range(0, 20_000, 1_000):
        values[i] = "2024-02-30"  # looks like a date: isolated by casting halves
    values[5] = "soon"  # cannot be a date: caught by the pattern
    casted, bad = _cast(values, "date")
    assert bad == sorted([5, *range(0, 20_000, 1_000)])
    assert casted[1] == dt.date(2024, 1, 1) and casted[0] is None


def test_long_values_are_shortened_in_messages():
    table = pa.table({"v": ["y" * 200]})
    outcome = cast_declared(table, {"v": "int64"}, source="f")
    assert outcome.bad_rows[0] == f'value "{"y" * 80}..." is not int64 in column v'


def test_a_declared_column_the_file_lacks():
    table = pa.table({"a": ["1"]})
    with pytest.raises(DataError, match=r"schema declares column 'b', which f.csv does not have "
                                        r"\(columns: a\)"):
        cast_declared(table, {"b": "int64"}, source="f.csv")
    filled = cast_declared(table, {"b": "int64"}, source="f.jsonl", missing="null")
    assert filled.table.to_pylist() == [{"a": "1", "b": None}]
    assert filled.table.schema.field("b").type == pa.int64()


def test_parse_declared_schema():
    assert parse_declared_schema({"a": "BIGINT", "b": "Decimal(10, 2)", "c": "text"}) == {
        "a": "int64", "b": "decimal(10,2)", "c": "string"}
    with pytest.raises(ConfigError) as info:
        parse_declared_schema({"a": "integr", "b": "time", "c": "int"})
    rendered = str(info.value)
    assert "read.options.schema.a: Column 'a': unknown type 'integr'. Did you mean" in rendered
    assert "read.options.schema.b: Column 'b': type time cannot be declared" in rendered
    assert "schema.c" not in rendered
    with pytest.raises(ConfigError, match="schema must map column names to types"):
        parse_declared_schema(["a"])
