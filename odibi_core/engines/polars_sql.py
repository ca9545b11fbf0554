"""SQL on the polars engine: ``pl.SQLContext`` queries, ``pl.sql_expr`` expressions, and polars
errors translated into the same :class:`DataError` messages the DuckDB path gives.

Everything stays lazy: a query returns a ``LazyFrame``. Its plan is resolved at once
(``collect_schema``, which reads no data), so a missing column or table is reported where the
query is written, not later when the frame is collected.

Where polars SQL and DuckDB (the pandas engine's SQL) differ, found by comparing the two:

- ``ORDER BY x DESC`` puts NULLs first on polars, last on DuckDB (write ``NULLS LAST``);
- ``round(2.5)`` rounds half to even on polars, half away from zero on DuckDB;
- ``date + 1``, ``timestamp > 'text'``, ``date_trunc`` on a timestamp, ``hash()`` and
  ``bool_and()`` are refused by polars; ``date - INTERVAL`` stays a date;
- ``length``/``strpos`` give ``uint32``, ``year``/``extract`` ``int32``, ``power`` of integers
  an integer, decimal arithmetic ``decimal(38, s)`` (DuckDB: ``int64``, ``int64``, ``float64``,
  a narrower precision); ``TRY_CAST(' 3 ' AS INT)`` does not trim.

The built-ins avoid these (their casts, sorts and fills are native expressions with SQL's
meaning); SQL steps and SQL-expression params get polars' reading of the SQL.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from difflib import get_close_matches
from typing import TYPE_CHECKING, Any, TypeVar

from odibi_core.errors import DataError, OdibiError

if TYPE_CHECKING:
    import polars as pl

from odibi_core.sql_identifiers import quote_identifier

__all__ = ["checked", "collect", "collect_all", "collect_batches", "columns_of", "compute_errors",
           "guarded", "quote_identifier", "resolved", "run_sql", "sql_expression",
           "translate_error"]

T = TypeVar("T")

_MISSING_COLUMN = (
    re.compile(r'unable to find column "(?P<name>[^"]+)"'),
    re.compile(r"no column named '(?P<name>[^']+)' found"),
    re.compile(r'column "(?P<name>[^"]+)" not found'),
    re.compile(r"column '(?P<name>[^']+)' not found"),
)
_MISSING_TABLE = re.compile(r"relation '(?P<name>[^']+)' was not found")



def run_sql(query: str, tables: Mapping[str, pl.LazyFrame]) -> pl.LazyFrame:
    """``query`` over ``tables`` (each addressable by its name), as a resolved lazy frame.

    Raises:
        DataError: a column or table the query names does not exist (listing what does, with a
            did-you-mean). Other polars errors propagate for the caller to wrap.
    """
    import polars as pl

    context = pl.SQLContext(frames=dict(tables), eager=False)
    columns = {name: list(frame.collect_schema().names()) for name, frame in tables.items()}
    return guarded(lambda: resolved(context.execute(query, eager=False)), query, columns)


def sql_expression(text: str) -> pl.Expr:
    """``text`` (one SQL expression) as a polars expression.

    Raises:
        DataError: the text does not parse.
    """
    import polars as pl

    try:
        return pl.sql_expr(text)
    except Exception as exc:  # noqa: BLE001 - polars' parse errors become DataErrors
        raise DataError(f"Cannot evaluate the SQL expression {text!r}: {_first_line(exc)}",
                        fix="Check the expression's syntax; it is SQL, evaluated row by row."
                        ) from exc


def resolved(frame: pl.LazyFrame) -> pl.LazyFrame:
    """``frame`` after resolving its plan (names and types; no data is read)."""
    frame.collect_schema()
    return frame


def checked(build: Callable[[pl.LazyFrame], pl.LazyFrame], frame: pl.LazyFrame,
            text: str) -> pl.LazyFrame:
    """``build(frame)``, after running ``build`` on an empty frame of ``frame``'s schema: a
    missing column, an unknown function or a type error (comparing a string with a number) is
    reported now, as the step that caused it, rather than when the frame is collected.

    Raises:
        DataError: naming the missing column (with a did-you-mean) or polars' error, and
            ``text``.
    """
    import polars as pl

    schema = frame.collect_schema()
    columns = {"df": list(schema.names())}

    def probe() -> pl.LazyFrame:
        build(pl.LazyFrame(schema=schema)).collect()
        return build(frame)

    try:
        return guarded(probe, text, columns)
    except OdibiError:
        raise
    except Exception as exc:  # noqa: BLE001 - polars' plan and type errors become DataErrors
        if not type(exc).__module__.startswith("polars"):
            raise
        raise DataError(f"{_first_line(exc)}\n  Expression: {' '.join(text.split())}",
                        fix="Check the columns, the types and the SQL of the expression (cast "
                            "a column first when its type does not fit).") from exc


def guarded(call: Callable[[], T], query: str, columns: Mapping[str, list[str]]) -> T:
    """``call()``, with missing columns and tables reported as :class:`DataError`."""
    try:
        return call()
    except OdibiError:
        raise
    except Exception as exc:  # noqa: BLE001 - translated when recognised
        translated = translate_error(exc, query, columns)
        if translated is None:
            raise
        raise translated from exc


def translate_error(exc: BaseException, query: str,
                    columns: Mapping[str, list[str]]) -> DataError | None:
    """The :class:`DataError` for a polars error naming a missing column or table, else None.

    Args:
        query: the SQL (or expression) shown in the message.
        columns: the columns of each table the query could see, by table name.
    """
    message = str(exc)
    shown = " ".join(query.split())
    for pattern in _MISSING_COLUMN:
        match = pattern.search(message)
        if match:
            name = match.group("name")
            every = [c for cols in columns.values() for c in cols]
            close = get_close_matches(name, every, n=1)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            listing = "; ".join(f"{t}: {', '.join(cols)}" for t, cols in columns.items())
            return DataError(
                f"Column '{name}' does not exist.{hint} Available columns ({listing}).\n"
                f"  Query: {shown}",
                fix=f"Use one of the available columns{' (' + close[0] + '?)' if close else ''}.",
            )
    match = _MISSING_TABLE.search(message)
    if match:
        name = match.group("name")
        close = get_close_matches(name, list(columns), n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        return DataError(
            f"Table '{name}' is not available to this SQL.{hint} Available tables: "
            f"{', '.join(columns) or '(none)'}.\n  Query: {shown}",
            fix="Name an earlier node of the pipeline, an `inputs` alias, or `df` (the node's "
                "current frame).",
        )
    return None


def collect(frame: pl.LazyFrame, *, streaming: bool = False) -> pl.DataFrame:
    """Run ``frame``'s plan (on polars' streaming engine when ``streaming``); a failure on the
    data (a value that does not convert, ...) is a :class:`DataError`."""
    return collect_all([frame], streaming=streaming)[0]


def collect_all(frames: Sequence[pl.LazyFrame], *,
                streaming: bool = False) -> list[pl.DataFrame]:
    """Run several plans at once (polars shares their common parts), as :func:`collect`."""
    import polars as pl

    engine = "streaming" if streaming else "auto"
    with compute_errors():
        computed = [frames[0].collect(engine=engine)] if len(frames) == 1 \
            else pl.collect_all(frames, engine=engine)
    return computed


@contextmanager
def compute_errors() -> Iterator[None]:
    """polars' compute errors (a value that does not convert, ...) as DataErrors."""
    try:
        yield
    except OdibiError:
        raise
    except Exception as exc:  # noqa: BLE001 - polars' compute errors become DataErrors
        if type(exc).__module__.startswith("polars"):
            raise DataError(f"Computing the frame failed: {type(exc).__name__}: "
                            f"{_first_line(exc)}",
                            fix="Check the transform steps and the values they convert; the "
                                "cause is chained below.") from exc
        raise


def collect_batches(frame: pl.LazyFrame) -> Iterator[pl.DataFrame]:
    """``frame`` computed by polars' streaming engine, one batch at a time, in order; compute
    failures are :class:`DataError` as in :func:`collect`."""
    with compute_errors():
        yield from frame.collect_batches(engine="streaming", maintain_order=True, lazy=True)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def columns_of(tables: Mapping[str, Any]) -> dict[str, list[str]]:
    """The column names of each lazy frame of ``tables``."""
    return {name: list(frame.collect_schema().names()) for name, frame in tables.items()}
