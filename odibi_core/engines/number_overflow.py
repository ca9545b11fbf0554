"""Numbers in a csv or json file that the inferred type cannot hold: a read error, not a guess.

A column read as integers is ``int64`` on every engine, and one read as floats ``float64``. An
integer outside the ``int64`` range (pandas would make it a Python object or ``uint64``, Spark a
lossy double or a decimal) and a finite float literal too large for ``float64`` (``1e400``,
which every parser turns into infinity) fail the read with a :class:`DataError` naming the file,
the line, the column and the value, and how to read the column instead (``read.options.schema``
as ``decimal(38,0)`` or ``string``). The words ``inf``, ``Infinity`` and ``NaN`` are not
overflows: they are read as the float values they name, as before.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from typing import Any

from odibi_core.errors import DataError

__all__ = ["INT64_MAX", "INT64_MIN", "column_overflow", "first_int_overflow",
           "float_overflow_literal", "is_float_overflow_text", "is_int_overflow_text",
           "overflow_error"]

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_INT_TEXT = re.compile(r"^\s*[+-]?[0-9]+\s*$")
_FLOAT_TEXT = re.compile(r"^\s*[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\s*$")
_INF_TEXT = re.compile(r"^\s*[+-]?inf(?:inity)?\s*$", re.IGNORECASE)


def column_overflow(texts: Sequence[str | None]) -> int | None:
    """The index of the first overflowing value of a column read from text, or None.

    A column whose values are all integers is read as ``int64``: the first integer outside its
    range overflows. One whose values are all numbers (or the words ``inf``/``infinity``) is
    read as ``float64``: the first finite literal that parses as infinity overflows. Any other
    column is text, which holds every value.
    """
    present = [(index, text) for index, text in enumerate(texts) if text is not None]
    if not present:
        return None
    if all(_INT_TEXT.match(text) for _, text in present):
        return next((index for index, text in present if is_int_overflow_text(text)), None)
    if all(_FLOAT_TEXT.match(text) or _INF_TEXT.match(text) for _, text in present):
        return next((index for index, text in present if is_float_overflow_text(text)), None)
    return None


def first_int_overflow(values: Sequence[Any]) -> int | None:
    """The index of the first Python int outside the ``int64`` range, or None."""
    for index, value in enumerate(values):
        if type(value) is int and not INT64_MIN <= value <= INT64_MAX:
            return index
    return None


def is_int_overflow_text(text: str | None) -> bool:
    """True for the text of an integer outside the ``int64`` range."""
    return text is not None and bool(_INT_TEXT.match(text)) \
        and not INT64_MIN <= int(text) <= INT64_MAX


def is_float_overflow_text(text: str | None) -> bool:
    """True for the text of a finite float literal too large for ``float64`` (``1e400``)."""
    return text is not None and bool(_FLOAT_TEXT.match(text)) and math.isinf(float(text))


def float_overflow_literal(text: str) -> str | None:
    """The first float literal of the JSON ``text`` too large for ``float64``, or None."""
    found: list[str] = []

    def parse_float(literal: str) -> float:
        value = float(literal)
        if math.isinf(value) and not found:
            found.append(literal)
        return value

    try:
        json.loads(text, parse_float=parse_float)
    except ValueError:
        return None
    return found[0] if found else None


def overflow_error(source: str, where: str, column: str, value: Any) -> DataError:
    """The read error for ``value`` of ``column`` at ``where`` (``line 3``) of ``source``."""
    shown = str(value)
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    if isinstance(value, int) or is_int_overflow_text(shown):
        what, kind = "an integer outside the int64 range", "int64"
        declare = (f"{{{column}: \"decimal(38,0)\"}} (integers of up to 38 digits) or "
                   f"{{{column}: string}} (the text as it is)")
    else:
        what, kind = "a number too large for float64 (it would be read as infinity)", "float64"
        declare = f"{{{column}: string}} (the text as it is)"
    return DataError(
        f"Cannot read {source}, {where}, column '{column}': {shown} is {what}. The column "
        f"would be read as {kind}, which cannot hold it.",
        fix=f"Declare the column's type in read.options.schema: {declare}; or fix the value "
            "in the file.")
