"""The column types a Delta write may bring to its table, on every engine.

A Delta table keeps the types it was created with; a write never changes them silently:

- a column of the table keeps its type. An incoming column of the same type, of an unknown
  type (``null``: all nulls), or of a narrower type every value of which the table's type holds
  (a smaller integer; an integer into ``float64``; a decimal into a wider decimal) is written
  as the table's type. Any other type (text into an integer column, an integer into a text
  column, a float into an integer column, ...) is a :class:`DataError` naming the table, the
  column, both types and a sample value, before anything is written. ``schema_policy`` casts
  the output to the table's types before the write, so a node with one never gets here with
  other types;
- a table that does not exist yet is created by the first write, with that write's types.
  A write of no rows whose column types are unknown (a CSV file with a header and no data
  rows reads as columns of type ``null``) creates nothing: its result is skipped with
  :data:`SKIPPED_NO_ROWS_UNKNOWN_TYPES`, so that the first batch with rows sets the real types.

Engines call :func:`check_delta_write` from ``Engine.write`` before their own write; the
Spark engine casts the widened columns itself (delta-spark refuses them), delta-rs casts them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from odibi_core.errors import DataError
from odibi_core.results import ColumnSchema, WriteResult
from odibi_core.storage.requests import Frame, ReadRequest, WriteRequest

if TYPE_CHECKING:
    from odibi_core.engines.base import Engine

__all__ = ["SKIPPED_NO_ROWS_UNKNOWN_TYPES", "check_delta_write", "widens"]

# WriteResult.skipped when a write of no rows of unknown types created no table.
SKIPPED_NO_ROWS_UNKNOWN_TYPES = "no_rows_unknown_types"

_INT_BITS = {"int8": 8, "int16": 16, "int32": 32, "int64": 64}
_UINT_BITS = {"uint8": 8, "uint16": 16, "uint32": 32, "uint64": 64}
_INT_DIGITS = {"int8": 3, "int16": 5, "int32": 10, "int64": 19,
               "uint8": 3, "uint16": 5, "uint32": 10, "uint64": 20}
_DECIMAL = re.compile(r"^decimal\((\d+),(\d+)\)$")
_SAMPLE_ROWS = 100


def widens(incoming: str, table: str) -> bool:
    """True when every value of logical type ``incoming`` is a value of ``table`` (the write
    may store it as ``table``): the same type, ``null``, a narrower integer, an integer or
    ``float32`` into ``float64``, an integer or decimal into a decimal with room for it."""
    if incoming == table or incoming == "null":
        return True
    if table in _INT_BITS:
        if incoming in _INT_BITS:
            return _INT_BITS[incoming] <= _INT_BITS[table]
        return incoming in _UINT_BITS and _UINT_BITS[incoming] < _INT_BITS[table]
    if table in _UINT_BITS:
        return incoming in _UINT_BITS and _UINT_BITS[incoming] <= _UINT_BITS[table]
    if table == "float64":
        return incoming in _INT_BITS or incoming in _UINT_BITS or incoming == "float32"
    wide = _DECIMAL.match(table)
    if wide is None:
        return False
    room = int(wide.group(1)) - int(wide.group(2))
    if incoming in _INT_DIGITS:
        return _INT_DIGITS[incoming] <= room
    narrow = _DECIMAL.match(incoming)
    return narrow is not None and int(narrow.group(2)) <= int(wide.group(2)) \
        and int(narrow.group(1)) - int(narrow.group(2)) <= room


def check_delta_write(engine: Engine, frame: Frame,
                      request: WriteRequest) -> WriteResult | None:
    """Check ``frame``'s column types against the Delta table ``request`` writes (see the
    module docstring).

    Returns:
        A skipped :class:`WriteResult` when nothing is to be written (no rows of unknown types
        and no table yet), else None: the write goes ahead.

    Raises:
        DataError: a column's type differs from the table's and does not widen to it.
    """
    if request.format != "delta":
        return None
    incoming = engine.schema(frame)
    table = _table_schema(engine, request)
    if table is None:
        unknown = [c.name for c in incoming if c.type == "null"]
        if (unknown or not incoming) and engine.count(frame) == 0:
            location = request.location
            return WriteResult(connection=location.connection, format=request.format,
                               mode=request.mode, location=location.redact(location.uri),
                               rows_written=0, files_written=0,
                               skipped=SKIPPED_NO_ROWS_UNKNOWN_TYPES)
        return None
    types = {c.name: c.type for c in table}
    for column in incoming:
        wanted = types.get(column.name)
        if wanted is not None and not widens(column.type, wanted):
            raise _type_error(engine, frame, request, column, wanted)
    return None


def _table_schema(engine: Engine, request: WriteRequest) -> Sequence[ColumnSchema] | None:
    """The target table's schema, or None when there is no Delta table there yet."""
    location = request.location
    if location.is_local and not os.path.isdir(os.path.join(location.uri, "_delta_log")):
        return None
    try:
        return engine.read_schema(ReadRequest(location=location, format="delta",
                                              node=request.node))
    except DataError:  # not a Delta table (yet): the write says what is wrong, if anything
        return None


def _type_error(engine: Engine, frame: Frame, request: WriteRequest, column: ColumnSchema,
                wanted: str) -> DataError:
    name = column.name
    sample = _sample_value(engine, frame, name)
    return DataError(
        f"Cannot {request.mode} to the Delta table {request.location.display}: column "
        f"'{name}' is {wanted} in the table, and this write brings {column.type}{sample}. "
        "A write keeps the table's column types; odibi does not convert them silently.",
        fix=f"Cast '{name}' to {wanted} in a transform step (operation: cast_columns, "
            f"params: {{columns: {{{name}: {wanted}}}}}), or add schema_policy: "
            "{mode: enforce} to the node to cast the output to the table's types (a value that "
            "does not convert then fails the node naming it); to change the column's type, "
            "write to a new table.",
        node=request.node)


def _sample_value(engine: Engine, frame: Frame, name: str) -> str:
    """`` (e.g. 'x' in row 3)``: the first non-null value of ``name`` in the first rows."""
    try:
        rows = engine.sample(frame, _SAMPLE_ROWS)
    except Exception:  # noqa: BLE001 - the sample only illustrates the error being raised
        return ""
    for number, row in enumerate(rows, start=1):
        value: Any = row.get(name)
        if value is not None:
            shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
            return f" (e.g. {shown} in row {number})"
    return ""
