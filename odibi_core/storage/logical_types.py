"""Logical type names shared by every engine, and their Arrow and DuckDB spellings.

``Engine.schema`` reports these names, ``cast_columns`` and ``frame_from_rows`` accept them.
Scalars: ``string binary bool int8 int16 int32 int64 uint8 uint16 uint32 uint64 float32 float64
decimal(p,s) date timestamp timestamp_ntz time duration null``; nested: ``array<T>``,
``struct<name: T, ...>``, ``map<K, V>``. ``timestamp`` is an instant (time-zone aware, kept in
UTC), ``timestamp_ntz`` a wall-clock time without zone, as in Delta Lake.

Importing this module imports no engine library; the Arrow helpers import pyarrow when called.
"""

from __future__ import annotations

import re
from difflib import get_close_matches
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "SCALAR_TYPES",
    "arrow_type_of",
    "duckdb_type_of",
    "logical_type_of_arrow",
    "parse_logical_type",
]

SCALAR_TYPES = (
    "string", "binary", "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
    "uint64", "float32", "float64", "date", "timestamp", "timestamp_ntz", "time", "duration",
)

# Spellings users write (SQL, Spark, Python, the odibi dialect) -> the logical name.
_SYNONYMS = {
    "str": "string", "text": "string", "varchar": "string", "utf8": "string",
    "bytes": "binary", "blob": "binary",
    "boolean": "bool",
    "tinyint": "int8", "byte": "int8",
    "smallint": "int16", "short": "int16",
    "int": "int32", "integer": "int32",
    "bigint": "int64", "long": "int64",
    "real": "float32",
    "float": "float64", "double": "float64",  # odibi's `float` is a double
    "datetime": "timestamp_ntz",
    "timestamptz": "timestamp", "timestamp_tz": "timestamp",
}

_DECIMAL = re.compile(r"^(?:decimal|numeric)\s*\(\s*(\d+)\s*,\s*(\d+)\s*\)$")


def parse_logical_type(text: str) -> str:
    """The canonical logical name of a scalar type written as ``text`` (case-insensitive).

    Raises:
        ValueError: not a known scalar type; the message suggests the nearest one.

    Example:
        >>> parse_logical_type("BIGINT"), parse_logical_type("Decimal(10, 2)")
        ('int64', 'decimal(10,2)')
    """
    lowered = str(text).strip().lower()
    if lowered in SCALAR_TYPES:
        return lowered
    if lowered in _SYNONYMS:
        return _SYNONYMS[lowered]
    match = _DECIMAL.match(lowered)
    if match:
        precision, scale = int(match.group(1)), int(match.group(2))
        if not 1 <= precision <= 38 or scale > precision:
            raise ValueError(f"decimal({precision},{scale}) needs 1 <= precision <= 38 and "
                             "scale <= precision")
        return f"decimal({precision},{scale})"
    if lowered in ("decimal", "numeric"):
        raise ValueError(f"'{text}' needs a precision and scale, e.g. decimal(18,2)")
    close = get_close_matches(lowered, [*SCALAR_TYPES, *_SYNONYMS], n=1)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    raise ValueError(f"unknown type '{text}'.{hint} Valid types: "
                     + ", ".join(SCALAR_TYPES) + ", decimal(p,s)")


def logical_type_of_arrow(dtype: pa.DataType) -> str:
    """The logical name of an Arrow type."""
    import pyarrow as pa
    import pyarrow.types as t

    if t.is_dictionary(dtype):
        return logical_type_of_arrow(dtype.value_type)
    if t.is_string(dtype) or t.is_large_string(dtype) or _is_view(dtype, "string"):
        return "string"
    if t.is_binary(dtype) or t.is_large_binary(dtype) or t.is_fixed_size_binary(dtype) \
            or _is_view(dtype, "binary"):
        return "binary"
    if t.is_boolean(dtype):
        return "bool"
    if t.is_integer(dtype) or t.is_floating(dtype):
        return {pa.float16(): "float16", pa.float32(): "float32",
                pa.float64(): "float64"}.get(dtype, str(dtype))
    if t.is_decimal(dtype):
        return f"decimal({dtype.precision},{dtype.scale})"
    if t.is_date(dtype):
        return "date"
    if t.is_timestamp(dtype):
        return "timestamp" if dtype.tz else "timestamp_ntz"
    if t.is_time(dtype):
        return "time"
    if t.is_duration(dtype):
        return "duration"
    if t.is_null(dtype):
        return "null"
    if t.is_list(dtype) or t.is_large_list(dtype) or t.is_fixed_size_list(dtype):
        return f"array<{logical_type_of_arrow(dtype.value_type)}>"
    if t.is_map(dtype):
        return f"map<{logical_type_of_arrow(dtype.key_type)}, " \
               f"{logical_type_of_arrow(dtype.item_type)}>"
    if t.is_struct(dtype):
        fields = ", ".join(f"{f.name}: {logical_type_of_arrow(f.type)}" for f in dtype)
        return f"struct<{fields}>"
    return str(dtype)


def arrow_type_of(logical: str) -> pa.DataType:
    """The Arrow type a scalar logical type is stored as (timestamps in microseconds)."""
    import pyarrow as pa

    name = parse_logical_type(logical)
    match = _DECIMAL.match(name)
    if match:
        return pa.decimal128(int(match.group(1)), int(match.group(2)))
    return {
        "string": pa.string(), "binary": pa.binary(), "bool": pa.bool_(),
        "int8": pa.int8(), "int16": pa.int16(), "int32": pa.int32(), "int64": pa.int64(),
        "uint8": pa.uint8(), "uint16": pa.uint16(), "uint32": pa.uint32(),
        "uint64": pa.uint64(), "float32": pa.float32(), "float64": pa.float64(),
        "date": pa.date32(), "timestamp": pa.timestamp("us", tz="UTC"),
        "timestamp_ntz": pa.timestamp("us"), "time": pa.time64("us"),
        "duration": pa.duration("us"),
    }[name]


def duckdb_type_of(logical: str) -> str:
    """The DuckDB SQL spelling of a scalar logical type, for ``CAST``."""
    name = parse_logical_type(logical)
    if name.startswith("decimal("):
        return name.upper()
    return {
        "string": "VARCHAR", "binary": "BLOB", "bool": "BOOLEAN", "int8": "TINYINT",
        "int16": "SMALLINT", "int32": "INTEGER", "int64": "BIGINT", "uint8": "UTINYINT",
        "uint16": "USMALLINT", "uint32": "UINTEGER", "uint64": "UBIGINT", "float32": "FLOAT",
        "float64": "DOUBLE", "date": "DATE", "timestamp": "TIMESTAMPTZ",
        "timestamp_ntz": "TIMESTAMP", "time": "TIME", "duration": "INTERVAL",
    }[name]


def _is_view(dtype: pa.DataType, kind: str) -> bool:
    return str(dtype) == f"{kind}_view"
