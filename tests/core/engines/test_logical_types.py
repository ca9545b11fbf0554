"""Logical type names, their synonyms, and the JSON-safe value conversion."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal

import numpy as np
import pyarrow as pa
import pytest

from odibi_core.engines.json_safe import json_safe_value
from odibi_core.storage.logical_types import (
    arrow_type_of,
    duckdb_type_of,
    logical_type_of_arrow,
    parse_logical_type,
)


@pytest.mark.parametrize("text,name", [
    ("string", "string"), ("VARCHAR", "string"), ("int", "int32"), ("BIGINT", "int64"),
    ("long", "int64"), ("float", "float64"), ("real", "float32"), ("boolean", "bool"),
    ("datetime", "timestamp_ntz"), ("timestamptz", "timestamp"), ("Decimal(10, 2)",
                                                                  "decimal(10,2)"),
])
def test_parse_logical_type(text, name):
    assert parse_logical_type(text) == name


def test_parse_logical_type_errors():
    with pytest.raises(ValueError, match=r"unknown type 'strng'\. Did you mean 'string'\?"):
        parse_logical_type("strng")
    with pytest.raises(ValueError, match=r"needs a precision and scale"):
        parse_logical_type("decimal")
    with pytest.raises(ValueError, match=r"precision <= 38"):
        parse_logical_type("decimal(40,2)")


def test_arrow_round_trip_of_names():
    for name in ("string", "int64", "int8", "uint16", "float32", "float64", "bool", "date",
                 "timestamp", "timestamp_ntz", "decimal(18,4)", "binary", "time", "duration"):
        assert logical_type_of_arrow(arrow_type_of(name)) == name
    assert logical_type_of_arrow(pa.list_(pa.int64())) == "array<int64>"
    assert logical_type_of_arrow(pa.struct([("a", pa.string())])) == "struct<a: string>"
    assert logical_type_of_arrow(pa.map_(pa.string(), pa.int32())) == "map<string, int32>"
    assert logical_type_of_arrow(pa.large_string()) == "string"
    assert logical_type_of_arrow(pa.dictionary(pa.int8(), pa.string())) == "string"
    assert duckdb_type_of("timestamp") == "TIMESTAMPTZ"
    assert duckdb_type_of("decimal(10,2)") == "DECIMAL(10,2)"


def test_json_safe_values():
    assert json_safe_value(np.int64(3)) == 3 and type(json_safe_value(np.int64(3))) is int
    assert json_safe_value(np.float32(1.5)) == 1.5
    assert json_safe_value(np.bool_(True)) is True
    assert json_safe_value(float("nan")) is None
    assert json_safe_value(-math.inf) == "-Infinity"
    assert json_safe_value(Decimal("2.50")) == 2.5
    assert json_safe_value(dt.date(2024, 2, 29)) == "2024-02-29"
    aware = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
    assert json_safe_value(aware) == "2024-01-01T00:00:00+00:00"
    assert json_safe_value(dt.timedelta(minutes=1)) == 60.0
    assert json_safe_value({"a": [np.int8(1), None]}) == {"a": [1, None]}
