"""Rows (Python dicts) as an Arrow table with declared logical types: how every engine's
``from_rows`` builds a frame, so the three agree on types and on errors."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from odibi_core.storage.logical_types import arrow_type_of
from odibi_core.errors import DataError

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["arrow_table_from_rows", "typed_array"]


def arrow_table_from_rows(rows: Sequence[Mapping[str, Any]],
                          schema: Mapping[str, str] | None = None) -> pa.Table:
    """``rows`` as an Arrow table: columns in order of first appearance, declared logical
    types applied (ISO strings accepted for dates, timestamps and decimals; a zone-less
    timestamp text means UTC), the others inferred; an all-null undeclared column is a string.

    Raises:
        DataError: values that do not fit a declared type, or an undeclared column mixing types.
    """
    import pyarrow as pa

    declared = dict(schema or {})
    names = list(dict.fromkeys([*(k for row in rows for k in row), *declared]))
    arrays = {}
    for name in names:
        values = [row.get(name) for row in rows]
        if name in declared:
            arrays[name] = typed_array(name, values, declared[name])
            continue
        try:
            array = pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise DataError(f"Column '{name}' mixes value types: {exc}",
                            fix="Give the column one type, or declare it.") from exc
        arrays[name] = array.cast(pa.string()) if pa.types.is_null(array.type) else array
    return pa.table(arrays) if arrays else pa.table({})


def typed_array(name: str, values: list[Any], logical: str) -> pa.Array:
    """``values`` as an Arrow array of ``logical``.

    Raises:
        DataError: the type is unknown or the values do not fit it.
    """
    import pyarrow as pa

    try:
        arrow_type = arrow_type_of(logical)
    except ValueError as exc:
        raise DataError(f"Column '{name}': {exc}", fix="Use a logical type name.") from exc
    attempts = [lambda: pa.array(values, type=arrow_type),
                lambda: pa.array(values).cast(arrow_type)]  # ISO strings: dates, decimals
    if pa.types.is_timestamp(arrow_type) and arrow_type.tz:
        # A zone-less string means UTC, as in SQL with TimeZone = 'UTC'.
        attempts.append(lambda: pa.array(values).cast(pa.timestamp(arrow_type.unit))
                        .cast(arrow_type))
    error: Exception | None = None
    for attempt in attempts:
        try:
            return attempt()
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError,
                TypeError) as exc:
            error = error or exc
    raise DataError(f"Column '{name}': the values do not fit {logical} ({error}).",
                    fix="Give values of that type, or change the declared type.")
