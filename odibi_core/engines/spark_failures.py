"""Spark failures that are about the driver, not the data: it ran out of memory, or its JVM is
gone (in local mode an ``OutOfMemoryError`` in a task kills the whole JVM).

Either way the message says so, with the memory to raise, instead of what Python sees of it
(``Connection refused`` from the Py4J gateway, a ``NullPointerException`` from a session whose
context was shut down). Neither is transient: the same run in a new process meets the same wall.
"""

from __future__ import annotations

from typing import Any

from odibi_core.errors import DataError

__all__ = ["driver_failure", "exception_chain", "java_messages"]

_OUT_OF_MEMORY = ("OutOfMemoryError", "Java heap space", "GC overhead limit exceeded")
_JVM_GONE = ("Py4JNetworkError", "Answer from Java side is empty", "Error while sending or "
             "receiving", "Cannot call methods on a stopped SparkContext",
             "SparkContext was shut down", "session() is null")
_MEMORY_FIX = ("Give the Spark driver more memory, e.g. `spark_config: {spark.driver.memory: "
               "8g}` (in local mode every task runs inside the driver), or cache and collect "
               "less (`cache: false`, `validation.cache_df: false`). A driver that died cannot "
               "be used again by this process: the next run starts a new one.")


def driver_failure(exc: BaseException, doing: str) -> DataError | None:
    """The error to raise when ``exc`` (raised by a Spark call while ``doing``) means the driver
    ran out of memory or its JVM is gone; None otherwise."""
    texts = _texts(exc)
    if any(marker in text for text in texts for marker in _OUT_OF_MEMORY):
        return DataError(f"The Spark driver ran out of memory while {doing} (Java heap space).",
                         fix=_MEMORY_FIX)
    if any(marker in text for text in texts for marker in _JVM_GONE) or _gateway_refused(exc):
        return DataError(
            f"The Spark driver stopped answering while {doing}: its JVM is gone, most often "
            "because it ran out of memory (see the Spark log above for OutOfMemoryError).",
            fix=_MEMORY_FIX)
    return None


def _texts(exc: BaseException) -> list[str]:
    """Every message of the Python chain and of the Java causes behind it."""
    texts: list[str] = []
    for current in exception_chain(exc):
        texts.append(type(current).__name__)
        try:  # (a Py4J error's text asks the JVM, which may be gone)
            texts.append(str(current))
        except Exception:  # noqa: BLE001 - a dead JVM cannot describe its exception
            pass
        java: Any = getattr(current, "java_exception", None)
        if java is not None:
            texts += java_messages(java)
    return texts


def _gateway_refused(exc: BaseException) -> bool:
    """A socket error raised inside py4j: Python's only connection there is to the driver's
    JVM, so it is gone (a storage or network error would come back as a Java exception)."""
    for current in exception_chain(exc):
        if not isinstance(current, (ConnectionError, BrokenPipeError, EOFError)):
            continue
        tb = current.__traceback__
        while tb is not None:
            if str(tb.tb_frame.f_globals.get("__name__", "")).startswith("py4j"):
                return True
            tb = tb.tb_next
    return False


def exception_chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and its causes (or contexts), at most 12."""
    found: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in found and len(found) < 12:
        found.append(current)
        current = current.__cause__ or current.__context__
    return found


def java_messages(java: Any) -> list[str]:
    """The message of a Java throwable and of each of its causes (what a dead JVM lets us
    read)."""
    found: list[str] = []
    try:
        current, depth = java, 0
        while current is not None and depth < 12:
            found.append(str(current.getMessage() or current.toString()))
            current, depth = current.getCause(), depth + 1
    except Exception:  # noqa: BLE001 - a message is all we want
        pass
    return found
