"""Cast text columns to the types ``read.options.schema`` declares, finding the values that do not
fit without a Python loop over rows.

A value fits its type when Arrow's safe cast accepts it after surrounding whitespace is trimmed:
``"12"`` fits ``int64`` but ``"1.5"``, ``"abc"`` and ``"1e3"`` do not; ``"10.555"`` does not fit
``decimal(10,2)`` (it would lose a digit); dates are ``YYYY-MM-DD``; a ``timestamp`` without a
zone means UTC. Nulls always fit.

How: the whole column is cast at once (the clean case). When that fails, a regular expression
marks the values that cannot be of the type at all (``"abc"`` for a number), and the rest is cast
in halves, recursively, to isolate what the expression let through (``"2024-02-30"``), so the
cost stays close to one vectorized cast per column. Shared by the Arrow-backed engines.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from odibi_core.storage.logical_types import arrow_type_of, parse_logical_type
from odibi_core.errors import ConfigError, ConfigProblem, DataError

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["CastOutcome", "SCHEMA_TYPES", "cast_declared", "parse_declared_schema"]

SCHEMA_TYPES = ("string", "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
                "uint64", "float32", "float64", "decimal(p,s)", "date", "timestamp",
                "timestamp_ntz")
_INT = r"^[+-]?(?:[0-9]+|0[xX][0-9a-fA-F]+)$"
_FLOAT = r"^[+-]?(?:[0-9]*\.?[0-9]*(?:[eE][+-]?[0-9]+)?|(?i:inf|infinity|nan))$"
_DECIMAL = r"^[+-]?[0-9]*\.?[0-9]*(?:[eE][+-]?[0-9]+)?$"
_BOOL = r"^(?i:true|false|1|0)$"
_DATE = r"^[0-9]{4,}-[0-9]{2}-[0-9]{2}$"
_TIMESTAMP = r"^[0-9]{4,}-[0-9]{2}-[0-9]{2}(?:[T ].*)?$"
_ZONE = r"(?:Z|[+-][0-9]{2}:?[0-9]{2})$"
_INFINITY = r"^[+-]?(?i:inf|infinity)$"
_SHOWN_VALUE = 80


@dataclass(frozen=True)
class CastOutcome:
    """The table with its declared columns cast (a value that did not fit is null there) and,
    by row index, what did not fit in that row."""

    table: pa.Table
    bad_rows: dict[int, str] = field(default_factory=dict)

    def valid_rows(self) -> pa.Table:
        """The rows in which every declared value fits."""
        if not self.bad_rows:
            return self.table
        import numpy as np
        import pyarrow as pa

        keep = np.ones(self.table.num_rows, dtype=bool)
        keep[list(self.bad_rows)] = False
        return self.table.filter(pa.array(keep))


def parse_declared_schema(value: Any, *, key_path: str = "read.options.schema") -> dict[str, str]:
    """``read.options.schema`` as ``{column: canonical logical type}``.

    Raises:
        ConfigError: not a mapping, or a type that is unknown or cannot be read from text.
    """
    if not isinstance(value, Mapping) or not value:
        raise ConfigError(ConfigProblem(
            message="schema must map column names to types, e.g. {amount: int64}.",
            key_path=key_path, fix="Valid types: " + ", ".join(SCHEMA_TYPES) + "."))
    problems: list[ConfigProblem] = []
    declared: dict[str, str] = {}
    for column, written in value.items():
        try:
            logical = parse_logical_type(str(written))
        except ValueError as exc:
            problems.append(ConfigProblem(message=f"Column '{column}': {exc}.",
                                          key_path=f"{key_path}.{column}"))
            continue
        if logical not in SCHEMA_TYPES and not logical.startswith("decimal("):
            problems.append(ConfigProblem(
                message=f"Column '{column}': type {logical} cannot be declared for a file read.",
                key_path=f"{key_path}.{column}",
                fix="Valid types: " + ", ".join(SCHEMA_TYPES) + "."))
            continue
        declared[str(column)] = logical
    if problems:
        raise ConfigError(problems)
    return declared


def cast_declared(table: pa.Table, schema: Mapping[str, str], *, source: str,
                  missing: Literal["error", "null"] = "error") -> CastOutcome:
    """Cast each column ``schema`` names from its text to the declared type.

    Args:
        table: the rows as read; declared columns hold text (other types are cast to text).
        schema: canonical logical types by column (see :func:`parse_declared_schema`).
        source: the file, for messages.
        missing: a declared column the table lacks fails (``error``, CSV headers) or is added
            as nulls (``null``, JSON records may omit fields).

    Raises:
        DataError: a declared column is missing and ``missing`` is ``error``.
    """
    import pyarrow as pa

    bad_rows: dict[int, str] = {}
    for column, logical in schema.items():
        if column not in table.column_names:
            if missing == "error":
                raise DataError(
                    f"read.options.schema declares column '{column}', which {source} does not "
                    f"have (columns: {', '.join(table.column_names)}).",
                    fix="Name the file's columns in schema, or fix the header.")
            table = table.append_column(column, pa.nulls(table.num_rows, arrow_type_of(logical)))
            continue
        values = table.column(column).combine_chunks()
        cast, bad = _cast_column(values, logical)
        for row in bad:
            shown = str(values[row].as_py())
            if len(shown) > _SHOWN_VALUE:
                shown = shown[:_SHOWN_VALUE] + "..."
            message = f'value "{shown}" is not {logical} in column {column}'
            bad_rows[row] = f"{bad_rows[row]}; {message}" if row in bad_rows else message
        table = table.set_column(table.column_names.index(column), column, cast)
    return CastOutcome(table, bad_rows)


def _cast_column(values: pa.Array, logical: str) -> tuple[pa.Array, list[int]]:
    import pyarrow as pa
    import pyarrow.compute as pc

    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        values = values.cast(pa.string())
    if logical == "string":
        return values, []
    text = pc.utf8_trim_whitespace(values)
    caster = _caster(logical)
    if logical in ("float32", "float64"):
        caster = _finite_caster(caster)
    try:
        return caster(text), []
    except _cast_errors():
        pass
    matches = pc.fill_null(pc.match_substring_regex(text, _pattern(logical)), True)
    suspect = pc.invert(matches).to_numpy(zero_copy_only=False).copy()
    candidates = pc.if_else(pa.array(suspect), pa.nulls(len(text), text.type), text)
    for row in _failing_positions(candidates, caster):
        suspect[row] = True
    mask = pa.array(suspect)
    cleaned = pc.if_else(mask, pa.nulls(len(text), text.type), text)
    return caster(cleaned), [int(i) for i in suspect.nonzero()[0]]


def _failing_positions(values: pa.Array, caster: Callable[[pa.Array], pa.Array]) -> list[int]:
    """Positions whose value ``caster`` refuses, found by casting halves recursively."""
    failing: list[int] = []
    pending = [(0, len(values))]
    while pending:
        start, stop = pending.pop()
        try:
            caster(values.slice(start, stop - start))
            continue
        except _cast_errors():
            pass
        if stop - start == 1:
            failing.append(start)
        else:
            middle = (start + stop) // 2
            pending.extend([(middle, stop), (start, middle)])
    return failing


def _caster(logical: str) -> Callable[[pa.Array], pa.Array]:
    import pyarrow as pa
    import pyarrow.compute as pc

    target = arrow_type_of(logical)
    if logical != "timestamp":
        return lambda array: array.cast(target)

    def to_instant(array: pa.Array) -> pa.Array:
        zoned = pc.fill_null(pc.match_substring_regex(array, _ZONE), False)
        nulls = pa.nulls(len(array), array.type)
        with_zone = pc.if_else(zoned, array, nulls).cast(target)
        # A zone-less timestamp means UTC, as in SQL with TimeZone = 'UTC'.
        without = pc.if_else(zoned, nulls, array).cast(pa.timestamp("us")).cast(target)
        return pc.coalesce(with_zone, without)

    return to_instant


def _finite_caster(caster: Callable[[pa.Array], pa.Array]) -> Callable[[pa.Array], pa.Array]:
    """``caster`` refusing a finite literal too large for the float type (``1e400`` would be
    infinity); the words ``inf`` and ``infinity`` still mean infinity."""
    import pyarrow as pa
    import pyarrow.compute as pc

    def finite(array: pa.Array) -> pa.Array:
        cast = caster(array)
        infinite = pc.fill_null(pc.is_inf(cast), False)
        if pc.any(infinite).as_py():
            word = pc.fill_null(pc.match_substring_regex(array, _INFINITY), False)
            if pc.any(pc.and_(infinite, pc.invert(word))).as_py():
                raise pa.ArrowInvalid("a number too large for the float type")
        return cast

    return finite


def _pattern(logical: str) -> str:
    if logical.startswith("decimal("):
        return _DECIMAL
    if logical.startswith(("int", "uint")):
        return _INT
    return {"float32": _FLOAT, "float64": _FLOAT, "bool": _BOOL, "date": _DATE}.get(
        logical, _TIMESTAMP)


def _cast_errors() -> tuple[type[Exception], ...]:
    import pyarrow as pa

    return (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError)
