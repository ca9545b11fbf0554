"""SQL on the Spark engine: the shared ANSI-style SQL made Spark's, queries over temp views, and
Spark's errors translated into the same :class:`DataError` messages the other engines give.

- Dialect: the session reads ``"col"`` as an identifier and ``'text'`` as a string (see
  ``spark_session``). Type names Spark does not know are rewritten outside quotes:
  ``TIMESTAMPTZ`` / ``TIMESTAMP WITH TIME ZONE`` -> ``TIMESTAMP_LTZ`` (an instant) and a bare
  ``VARCHAR`` -> ``STRING``; ``TIMESTAMP`` is a wall-clock ``timestamp_ntz`` as on DuckDB
  (``spark.sql.timestampType=TIMESTAMP_NTZ``). A backslash in a string literal is a backslash,
  as in ANSI SQL and DuckDB (``regexp_like(s, '\\d+')`` means the regex ``\\d+`` on every
  engine): it is doubled before Spark, which would read an escape, sees the query.
- Queries: each named frame is registered as a temporary view under its name for the time it
  takes Spark to analyze the query (a DataFrame keeps its analyzed plan, so the view can go
  right after); a temporary view of the same name that existed before (a ``materialized: view``
  node) is put back. A lock serialises this across threads sharing the session.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from difflib import get_close_matches
from typing import TYPE_CHECKING, Any, TypeVar

from odibi_core.engines.spark_failures import driver_failure, exception_chain, java_messages
from odibi_core.error_taxonomy import is_transient
from odibi_core.errors import DataError, OdibiError, TransientError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = [
    "analysis_error",
    "error_text",
    "foreign_error",
    "guarded",
    "is_temp_view",
    "quote",
    "registered",
    "run_sql",
    "spark_sql_text",
    "VIEW_LOCK",
]

T = TypeVar("T")

VIEW_LOCK = threading.RLock()

_TYPE_REWRITES = (
    (re.compile(r"(?i)\bTIMESTAMP\s+WITH\s+TIME\s+ZONE\b"), "TIMESTAMP_LTZ"),
    (re.compile(r"(?i)\bTIMESTAMPTZ\b"), "TIMESTAMP_LTZ"),
    (re.compile(r"(?i)(\bAS\s+|::\s*)VARCHAR\b(?!\s*\()"), r"\1STRING"),
)
_NAME_IN_BACKTICKS = re.compile(r"`((?:[^`]|``)+)`")


# ---- dialect ---------------------------------------------------------------------------------
def spark_sql_text(query: str) -> str:
    """``query`` read as ANSI SQL, written for Spark: type names Spark lacks rewritten (outside
    quotes), and backslashes in string literals doubled (ANSI and DuckDB take ``'\\d'`` as two
    characters; Spark would read an escape)."""
    parts = []
    for code, quoted_part in _segments(query):
        for pattern, replacement in _TYPE_REWRITES:
            code = pattern.sub(replacement, code)
        if quoted_part.startswith("'"):
            quoted_part = quoted_part.replace("\\", "\\\\")
        parts.append(code + quoted_part)
    return "".join(parts)


def _segments(text: str) -> Iterator[tuple[str, str]]:
    """(code, following quoted part) pairs covering ``text``: quoted parts are '...', "..."
    and `...`, with a doubled quote inside standing for itself (ANSI: no backslash escapes)."""
    index, start, length = 0, 0, len(text)
    while index < length:
        char = text[index]
        if char in "'\"`":
            end = index + 1
            while end < length:
                if text[end] == char:
                    if end + 1 < length and text[end + 1] == char:
                        end += 2
                        continue
                    break
                end += 1
            yield text[start:index], text[index:end + 1]
            index = start = end + 1
            continue
        index += 1
    yield text[start:], ""


# ---- running SQL -----------------------------------------------------------------------------
def run_sql(spark: SparkSession, query: str, tables: Mapping[str, DataFrame]) -> DataFrame:
    """``query`` over ``tables`` (each addressable by its name), analyzed (not computed).

    Raises:
        DataError: a column or table the query names does not exist (listing what does, with
            a did-you-mean). Other Spark errors propagate for the caller to wrap.
    """
    text = spark_sql_text(query)
    columns = {name: list(frame.columns) for name, frame in tables.items()}
    with registered(spark, tables):
        return guarded(lambda: spark.sql(text), columns, query=query, in_sql=True)


@contextmanager
def registered(spark: SparkSession, tables: Mapping[str, DataFrame]) -> Iterator[None]:
    """``tables`` registered as temporary views under their names while the block runs; views
    of those names that existed before are put back afterwards."""
    with VIEW_LOCK:
        saved: dict[str, DataFrame] = {}
        try:
            for name, frame in tables.items():
                if is_temp_view(spark, name):
                    saved[name] = spark.table(quote(name))
                frame.createOrReplaceTempView(name)
            yield
        finally:
            for name in tables:
                if name in saved:
                    saved[name].createOrReplaceTempView(name)
                else:
                    spark.catalog.dropTempView(name)


def is_temp_view(spark: SparkSession, name: str) -> bool:
    """Whether ``name`` is a temporary view of the session (asked of the JVM catalog directly:
    ``spark.catalog.listTables()`` would run a Spark job)."""
    try:
        catalog = spark._jsparkSession.sessionState().catalog()  # type: ignore[attr-defined]
        return bool(catalog.getTempView(name).isDefined())
    except Exception:  # noqa: BLE001 - another Spark build: ask the public catalog
        return name.lower() in _temp_views(spark)


def _temp_views(spark: SparkSession) -> set[str]:
    return {t.name.lower() for t in spark.catalog.listTables() if t.isTemporary}


def quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


# ---- errors ----------------------------------------------------------------------------------
def guarded(call: Callable[[], T], columns: Mapping[str, list[str]], *,
            query: str | None = None, in_sql: bool = False) -> T:
    """``call()``, with Spark's missing-column and missing-table errors as :class:`DataError`
    (``columns``: the columns of each table the expression or query can see)."""
    try:
        return call()
    except OdibiError:
        raise
    except Exception as exc:
        translated = analysis_error(exc, columns, query=query, in_sql=in_sql)
        if translated is None:
            raise
        raise translated from exc


def analysis_error(exc: BaseException, columns: Mapping[str, list[str]], *,
                   query: str | None = None, in_sql: bool = False) -> DataError | None:
    """The odibi error for Spark's unresolved column / table errors, else None."""
    condition = _condition(exc)
    shown = f"\n  Query: {' '.join(query.split())}" if query else ""
    params = _parameters(exc)
    if condition.startswith(("UNRESOLVED_COLUMN", "UNRESOLVED_FIELD")) \
            or "cannot be resolved" in str(exc) and "column" in str(exc).lower():
        name = _last_name(params.get("objectName") or params.get("fieldName") or "") \
            or _name_from_text(str(exc))
        if not name:
            return None
        every = [c for cols in columns.values() for c in cols]
        close = get_close_matches(name, every, n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        listing = "; ".join(f"{t}: {', '.join(cols)}" for t, cols in columns.items())
        return DataError(
            f"Column '{name}' does not exist.{hint} Available columns ({listing}).{shown}",
            fix=f"Use one of the available columns{' (' + close[0] + '?)' if close else ''}.")
    if condition.startswith("TABLE_OR_VIEW_NOT_FOUND") and in_sql:
        name = _last_name(params.get("relationName", "")) or _name_from_text(str(exc))
        close = get_close_matches(name, list(columns), n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        return DataError(
            f"Table '{name}' is not available to this SQL.{hint} Available tables: "
            f"{', '.join(columns) or '(none)'}.{shown}",
            fix="Name an earlier node of the pipeline, an `inputs` alias, or `df` (the node's "
                "current frame).")
    return None


def foreign_error(exc: BaseException, doing: str, fix: str) -> OdibiError:
    """A Spark / Py4J error as a :class:`TransientError` (lost executors, refused
    connections, Delta commit conflicts, throttling: the transient categories of
    :mod:`odibi_core.error_taxonomy`, which reads the Java cause chain) or a :class:`DataError`
    (a driver out of memory, or gone: :mod:`spark_failures`, never transient)."""
    failure = driver_failure(exc, doing)
    if failure is not None:
        return failure
    text = error_text(exc)
    if is_transient(exc):
        return TransientError(f"Transient Spark failure while {doing}: {text}",
                              fix="This is retried automatically when retries are enabled.")
    return DataError(f"Spark failed while {doing}: {text}", fix=fix)


def error_text(exc: BaseException) -> str:
    """A short message for a Spark error, without the JVM stack trace: the message of the
    first pyspark error in the chain, else the innermost Java cause's first line."""
    chain = exception_chain(exc)
    for current in chain:
        if hasattr(current, "desc") or hasattr(current, "getCondition"):
            text = str(getattr(current, "desc", None) or current).strip()
            if text:
                return text.splitlines()[0]
    for current in chain:
        java = getattr(current, "java_exception", None)
        if java is None:
            continue
        messages = java_messages(java)
        for message in reversed(messages):
            line = message.strip().splitlines()[0].strip() if message.strip() else ""
            if line and not line.startswith(_WRAPPERS):
                return line
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


_WRAPPERS = ("Job aborted", "An error occurred while calling", "Exception thrown in awaitResult")


def _condition(exc: BaseException) -> str:
    for getter in ("getCondition", "getErrorClass"):
        method = getattr(exc, getter, None)
        if method is not None:
            try:
                value = method()
            except Exception:  # noqa: BLE001
                value = None
            if value:
                return str(value)
    match = re.match(r"\s*\[([A-Z_.]+)\]", str(exc))
    return match.group(1) if match else ""


def _parameters(exc: BaseException) -> dict[str, str]:
    method = getattr(exc, "getMessageParameters", None)
    if method is None:
        return {}
    try:
        return dict(method() or {})
    except Exception:  # noqa: BLE001
        return {}


def _last_name(text: str) -> str:
    names = _NAME_IN_BACKTICKS.findall(text)
    if names:
        return names[-1].replace("``", "`")
    return text.split(".")[-1].strip()


def _name_from_text(text: str) -> str:
    match = _NAME_IN_BACKTICKS.search(text)
    return match.group(1).replace("``", "`") if match else ""
