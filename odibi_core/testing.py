"""Engine-agnostic frame helpers for tests, like ``polars.testing``.

They go through the :class:`~odibi_core.engines.base.Engine` interface only, so one test runs
unchanged on every engine:

    >>> from odibi_core.engines import get_engine
    >>> engine = get_engine("pandas")
    >>> frame = frame_from_rows(engine, [{"id": 1, "name": "a"}], schema={"id": "int32"})
    >>> assert_frames_equal(engine, frame, [{"id": 1, "name": "a"}])

Values compare after the JSON-safe conversion every engine's ``sample`` applies: dates and
timestamps as ISO strings, decimals as floats, NaN as None. Expected rows may hold Python dates,
datetimes and decimals: they are converted the same way.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from odibi_core.engines.json_safe import json_safe_row

if TYPE_CHECKING:
    from odibi_core.engines.base import Engine
    from odibi_core.storage.requests import Frame

__all__ = ["assert_frames_equal", "frame_from_rows", "frame_to_rows"]


def frame_from_rows(engine: Engine, rows: Sequence[Mapping[str, Any]],
                    schema: Mapping[str, str] | None = None) -> Frame:
    """A native frame of ``engine`` holding ``rows``.

    Args:
        engine: the engine whose frame to build.
        rows: one dict per row; columns in order of first appearance.
        schema: logical types by column (``int64``, ``date``, ``decimal(10,2)``, ...); the
            others are inferred. Dates, timestamps and decimals may be given as ISO strings.
    """
    return engine.from_rows(rows, schema)


def frame_to_rows(engine: Engine, frame: Frame, *, sort: bool = False) -> list[dict[str, Any]]:
    """The rows of ``frame`` as JSON-safe dicts, in frame order (or sorted when ``sort``)."""
    rows = engine.to_rows(engine.collect(frame))
    return sorted(rows, key=_sort_key) if sort else rows


def assert_frames_equal(
    engine: Engine,
    frame: Frame,
    expected_rows: Sequence[Mapping[str, Any]],
    *,
    check_order: bool = False,
    check_types: bool = True,
    check_column_order: bool = True,
    columns: Sequence[str] | None = None,
    schema: Mapping[str, str] | None = None,
    rel_tol: float = 1e-9,
) -> None:
    """Assert that ``frame`` holds exactly ``expected_rows``.

    Args:
        engine: the engine that owns ``frame``.
        frame: the frame to check.
        expected_rows: the rows it must hold.
        check_order: rows must come in the given order (otherwise any order, duplicates counted).
        check_types: values must have the same JSON type (``1`` differs from ``1.0`` and from
            ``True``); floats always compare with ``rel_tol``.
        check_column_order: the frame's columns come in the order of the expected rows' keys.
        columns: the expected columns, for an expected empty frame (or to be explicit).
        schema: expected logical types of some columns, e.g. ``{"id": "int64"}``.
        rel_tol: relative tolerance of float comparisons.

    Raises:
        AssertionError: with the missing and unexpected rows, or the first difference.
    """
    frame = engine.collect(frame)
    actual_columns = engine.columns(frame)
    expected = [json_safe_row(row) for row in expected_rows]
    wanted = list(columns) if columns is not None \
        else list(dict.fromkeys(k for row in expected for k in row))
    if wanted or columns is not None:
        same = actual_columns == wanted if check_column_order \
            else sorted(actual_columns) == sorted(wanted)
        if not same:
            raise AssertionError(f"Columns differ.\n  frame:    {actual_columns}\n"
                                 f"  expected: {wanted}")
    if schema:
        types = {c.name: c.type for c in engine.schema(frame)}
        wrong = {c: (types.get(c), t) for c, t in schema.items() if types.get(c) != t}
        if wrong:
            raise AssertionError("Column types differ (frame, expected): " + ", ".join(
                f"{c}: {got} != {want}" for c, (got, want) in wrong.items()))
    actual = engine.to_rows(frame)
    if check_order:
        _compare_ordered(actual, expected, check_types, rel_tol)
    else:
        _compare_unordered(actual, expected, check_types, rel_tol)


def _compare_ordered(actual: list[dict[str, Any]], expected: list[dict[str, Any]],
                     check_types: bool, rel_tol: float) -> None:
    for index, (got, want) in enumerate(zip(actual, expected)):
        if not _rows_equal(got, want, check_types, rel_tol):
            raise AssertionError(f"Row {index} differs.\n  frame:    {got}\n  expected: {want}")
    if len(actual) != len(expected):
        raise AssertionError(f"The frame has {len(actual)} rows, expected {len(expected)}."
                             + _listing("extra rows", actual[len(expected):])
                             + _listing("missing rows", expected[len(actual):]))


def _compare_unordered(actual: list[dict[str, Any]], expected: list[dict[str, Any]],
                       check_types: bool, rel_tol: float) -> None:
    remaining = sorted(actual, key=_sort_key)
    missing = []
    for want in sorted(expected, key=_sort_key):
        match = next((i for i, got in enumerate(remaining)
                      if _rows_equal(got, want, check_types, rel_tol)), None)
        if match is None:
            missing.append(want)
        else:
            remaining.pop(match)
    if missing or remaining:
        raise AssertionError(
            f"The frame's rows differ from the expected rows (order ignored; {len(actual)} "
            f"rows, {len(expected)} expected)."
            + _listing("expected but not in the frame", missing)
            + _listing("in the frame but not expected", remaining))


def _rows_equal(got: Mapping[str, Any], want: Mapping[str, Any], check_types: bool,
                rel_tol: float) -> bool:
    if set(got) != set(want):
        return False
    return all(_values_equal(got[k], want[k], check_types, rel_tol) for k in want)


def _values_equal(got: Any, want: Any, check_types: bool, rel_tol: float) -> bool:
    if got is None or want is None:
        return got is None and want is None
    if isinstance(got, list) and isinstance(want, list):
        return len(got) == len(want) and all(
            _values_equal(g, w, check_types, rel_tol) for g, w in zip(got, want))
    if isinstance(got, dict) and isinstance(want, dict):
        return _rows_equal(got, want, check_types, rel_tol)
    if check_types and type(got) is not type(want):
        return False
    numbers = (int, float)
    if isinstance(got, numbers) and isinstance(want, numbers) \
            and not isinstance(got, bool) and not isinstance(want, bool):
        return math.isclose(got, want, rel_tol=rel_tol, abs_tol=rel_tol)
    return bool(got == want)


def _sort_key(row: Mapping[str, Any]) -> str:
    return json.dumps(row, sort_keys=True, default=str)


def _listing(title: str, rows: list[dict[str, Any]]) -> str:
    if not rows:
        return ""
    shown = "\n".join(f"    {row}" for row in rows[:20])
    more = f"\n    ... and {len(rows) - 20} more" if len(rows) > 20 else ""
    return f"\n  {title}:\n{shown}{more}"
