"""Which failures are worth retrying: an explicit, named taxonomy of errors (SPEC §8).

:func:`classify` puts an exception into one :class:`Category` of :data:`CATEGORIES` and says what
it saw (``HTTP 503``, ``ECONNREFUSED``, ``CommitFailedError``, ...). Only transient categories are
retried; anything the taxonomy does not know is permanent.

Transient:

=========================  =====================================================================
``connection_reset``       the peer reset or closed the connection (ECONNRESET, EPIPE, a remote
                           disconnect, an incomplete HTTP body)
``connection_refused``     nothing accepted the connection (ECONNREFUSED,
                           ``java.net.ConnectException``)
``connection_aborted``     the connection was aborted (ECONNABORTED)
``network_unreachable``    no route to the host or network (EHOSTUNREACH, ENETUNREACH, ...)
``connection_failed``      another connection failure reported by an HTTP or storage client
                           (requests, urllib3, azure-core, botocore, aiohttp, httpx)
``timeout``                a connect, read or operation timeout (``TimeoutError``, ETIMEDOUT,
                           HTTP client timeouts, Azure ``OperationTimedOut``)
``dns_failure``            a host name did not resolve (``socket.gaierror``,
                           ``java.net.UnknownHostException``). A misspelt host fails the same
                           way; it is retried too, and fails after the last attempt.
``http_timeout``           HTTP 408 Request Timeout
``http_throttled``         HTTP 429 Too Many Requests
``http_unavailable``       HTTP 502, 503, 504 (bad gateway, service unavailable, gateway timeout)
``storage_throttled``      a storage service asked to slow down or is busy (Azure ``ServerBusy``,
                           S3 ``SlowDown``, ``Throttling``, ``RequestLimitExceeded``, ...)
``delta_commit_conflict``  a concurrent Delta commit won (delta-rs ``CommitFailedError``,
                           delta-spark ``ConcurrentAppendException`` and its siblings)
``spark_executor_lost``    Spark lost an executor or shuffle output (``ExecutorLostFailure``,
                           ``FetchFailedException``, ``ExecutorDeadException``)
``transient``              raised as :class:`~odibi_core.errors.TransientError` with no cause
                           the taxonomy knows more about
=========================  =====================================================================

Permanent: ``config`` (:class:`~odibi_core.errors.ConfigError`), ``data``
(:class:`~odibi_core.errors.DataError`: data, validation, schema and transform errors),
``http_client_error`` (HTTP 4xx other than 408 and 429), ``http_server_error`` (HTTP 500 and the
other 5xx: usually a request the server cannot handle, and the storage SDKs have retried those
already), ``permanent`` (a failure odibi marked not transient) and ``unknown`` (everything else).

How an exception is read: its chain (``__cause__``, else ``__context__`` unless suppressed, and the
``reason`` urllib and urllib3 keep) is walked from the outside in. The first link a rule
recognises decides whether the failure is transient (odibi's own errors are recognised by type, so
a DataError is never retried, whatever caused it); a deeper cause with the same verdict only names
the category more precisely. Foreign errors are read by type, errno, HTTP status
(``HTTPError.code``, ``.status_code``, ``.status``, ``.response``), service error code
(``.error_code``, botocore's ``response["Error"]["Code"]``), the Java cause chain of Py4J and
PySpark errors (class names and messages), and, for errors of storage and engine libraries
(deltalake, polars, pyarrow, PySpark, Java, plain ``OSError`` without errno as delta-rs raises for
object-store failures), their message.
"""

from __future__ import annotations

import errno
import re
import socket
import urllib.error
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from odibi_core.errors import ConfigError, DataError, NodeError, OdibiError, TransientError

__all__ = ["CATEGORIES", "INTERNAL_ERROR_FIX", "Category", "Classification", "classify",
           "is_internal", "is_transient"]


@dataclass(frozen=True)
class Category:
    """A named kind of failure and whether retrying it can help."""

    name: str
    transient: bool
    description: str
    # 2: specific; 1: generic, 0: only declared. A deeper cause of the same verdict with a
    # higher specificity names the failure instead.
    specificity: int = 2


def _catalogue(*categories: Category) -> dict[str, Category]:
    return {c.name: c for c in categories}


CATEGORIES: dict[str, Category] = _catalogue(
    Category("connection_reset", True, "the peer reset or closed the connection"),
    Category("connection_refused", True, "nothing accepted the connection"),
    Category("connection_aborted", True, "the connection was aborted"),
    Category("network_unreachable", True, "no route to the host or network"),
    Category("connection_failed", True, "the client could not connect", specificity=1),
    Category("timeout", True, "the operation timed out"),
    Category("dns_failure", True, "the host name did not resolve"),
    Category("http_timeout", True, "HTTP 408 Request Timeout"),
    Category("http_throttled", True, "HTTP 429 Too Many Requests"),
    Category("http_unavailable", True, "HTTP 502/503/504: the service is unavailable"),
    Category("storage_throttled", True, "the storage service is busy or throttling"),
    Category("delta_commit_conflict", True, "a concurrent Delta commit won"),
    Category("spark_executor_lost", True, "Spark lost an executor or shuffle output"),
    Category("database_busy", True,
             "the database is busy: locked, a serialization failure, a deadlock, "
             "too many connections, starting up or shutting down"),
    Category("transient", True, "raised as a transient error", specificity=0),
    Category("config", False, "the project file is wrong"),
    Category("data", False, "the data, a transform or a validation failed", specificity=1),
    Category("http_client_error", False, "HTTP 4xx: the request is wrong"),
    Category("http_server_error", False, "HTTP 5xx other than 502/503/504"),
    Category("permanent", False, "marked not transient", specificity=0),
    Category("unknown", False, "not a known transient failure"),
)


@dataclass(frozen=True)
class Classification:
    """The verdict on one exception: its category and what was seen (``detail``)."""

    category: Category
    detail: str

    @property
    def name(self) -> str:
        return self.category.name

    @property
    def transient(self) -> bool:
        return self.category.transient

    def __str__(self) -> str:
        return f"{self.category.name} ({self.detail})" if self.detail else self.category.name


def classify(exc: BaseException) -> Classification:
    """The taxonomy's verdict on ``exc``; ``unknown`` (permanent) when nothing matches.

    The first link of the chain that any rule recognises decides whether the failure is
    transient; a deeper link with the same verdict may name it more precisely (a DataError
    caused by an HTTP 400 is ``http_client_error``; a TransientError caused by a reset
    connection is ``connection_reset``).
    """
    best: Classification | None = None
    for current in _links(exc):
        found = _explicit(current) or _match(current)
        if found is None or (best is not None and found.transient != best.transient):
            continue
        if best is None or found.category.specificity > best.category.specificity:
            best = found
        if best.category.specificity >= 2:
            return best
    return best or _verdict("unknown", type(exc).__name__)


def is_transient(exc: BaseException) -> bool:
    """True when ``exc`` (or what caused it) is worth retrying: the verdict of :func:`classify`
    (which also names the category).

    Config and data errors are never transient, even when their text happens to contain a number
    such as 503; an error the taxonomy does not know is not transient either.
    """
    return classify(exc).transient


INTERNAL_ERROR_FIX = (
    "An internal error, most likely a bug in odibi, not in your project: report it to odibi's "
    "maintainers with its traceback (`odibi run` prints it; the Dagster UI keeps it with the "
    "run's events).")


def is_internal(exc: BaseException) -> bool:
    """True when ``exc`` is neither an error odibi raised on purpose (an ``OdibiError``) nor one
    the taxonomy names (a network, HTTP, storage, database or engine failure): an exception odibi
    does not know, so most likely a bug in odibi. The CLI prints its traceback; it prints every
    other failure as one located error."""
    return not isinstance(exc, OdibiError) and classify(exc).name == "unknown"


# ---- the rules -------------------------------------------------------------------------------
_ERRNOS = {
    errno.ECONNRESET: "connection_reset",
    errno.EPIPE: "connection_reset",
    errno.ECONNREFUSED: "connection_refused",
    errno.ECONNABORTED: "connection_aborted",
    errno.EHOSTUNREACH: "network_unreachable",
    errno.ENETUNREACH: "network_unreachable",
    errno.ENETDOWN: "network_unreachable",
    errno.EHOSTDOWN: "network_unreachable",
    errno.ETIMEDOUT: "timeout",
}
# SQLSTATE codes (psycopg2 ``pgcode``, psycopg 3 ``sqlstate``): exact codes, then classes.
_SQLSTATES = {
    "57P01": "connection_reset", "57P02": "connection_reset",   # admin / crash shutdown
    "57P03": "database_busy",                                   # cannot connect now
    "57014": "timeout",                                         # statement timeout, cancel
    "40001": "database_busy", "40P01": "database_busy",         # serialization, deadlock
    "55P03": "database_busy", "53300": "database_busy",         # lock not available, too many
    "08001": "connection_refused", "08004": "connection_refused",
    "08": "connection_failed", "53": "database_busy",           # classes
}
_HTTP_STATUSES = {408: "http_timeout", 429: "http_throttled", 502: "http_unavailable",
                  503: "http_unavailable", 504: "http_unavailable"}
# Service error codes (Azure ``error_code``, botocore ``Error.Code``).
_SERVICE_CODES = {
    **dict.fromkeys((
        "ServerBusy", "SlowDown", "Throttling", "ThrottlingException", "Throttled",
        "RequestThrottled", "RequestThrottledException", "TooManyRequests",
        "TooManyRequestsException", "RequestLimitExceeded", "BandwidthLimitExceeded",
        "ProvisionedThroughputExceededException", "TransactionInProgressException",
        "IngressOverAccountLimit", "EgressOverAccountLimit", "TPSLimitExceeded",
    ), "storage_throttled"),
    **dict.fromkeys(("OperationTimedOut", "RequestTimeout", "RequestTimeoutException"),
                    "timeout"),
    "ServiceUnavailable": "http_unavailable",
}
# Client-library exception classes, by name, for the libraries in _CLIENT_LIBRARIES.
_CLIENT_CLASSES = {
    "ConnectTimeout": "timeout", "ReadTimeout": "timeout", "Timeout": "timeout",
    "ConnectTimeoutError": "timeout", "ReadTimeoutError": "timeout",
    "TimeoutException": "timeout", "ServerTimeoutError": "timeout",
    "ServiceRequestTimeoutError": "timeout", "ServiceResponseTimeoutError": "timeout",
    "ChunkedEncodingError": "connection_reset", "ProtocolError": "connection_reset",
    "IncompleteRead": "connection_reset", "RemoteProtocolError": "connection_reset",
    "ServiceResponseError": "connection_reset", "ConnectionClosedError": "connection_reset",
    "ServerDisconnectedError": "connection_reset",
    "ConnectionError": "connection_failed", "NewConnectionError": "connection_failed",
    "ServiceRequestError": "connection_failed", "EndpointConnectionError": "connection_failed",
    "ClientConnectionError": "connection_failed", "ClientConnectorError": "connection_failed",
    "ConnectError": "connection_failed",
}
_CLIENT_LIBRARIES = {"requests", "urllib3", "azure", "botocore", "aiohttp", "httpx", "http"}
# Delta conflicts and Spark executor loss, by Python or Java class name.
_CLASS_NAMES = {
    **dict.fromkeys((
        "CommitFailedError", "ConcurrentAppendException", "ConcurrentDeleteReadException",
        "ConcurrentDeleteDeleteException", "ConcurrentWriteException",
        "ConcurrentTransactionException", "MetadataChangedException",
        "ProtocolChangedException", "DeltaConcurrentModificationException",
    ), "delta_commit_conflict"),
    **dict.fromkeys(("FetchFailedException", "ExecutorDeadException",
                     "ExecutorLostFailure"), "spark_executor_lost"),
}
_CLASS_LIBRARIES = {"deltalake", "_internal", "delta", "pyspark", "py4j"}
_JAVA_CLASSES = {
    **_CLASS_NAMES,
    "java.net.ConnectException": "connection_refused",
    "java.net.SocketTimeoutException": "timeout",
    "java.util.concurrent.TimeoutException": "timeout",
    "java.net.UnknownHostException": "dns_failure",
    "java.net.NoRouteToHostException": "network_unreachable",
    "org.apache.hadoop.fs.s3a.AWSServiceThrottledException": "storage_throttled",
}
# Identifiers specific enough to trust in any message (Spark wraps them in plain text).
_IDENTIFIERS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("delta_commit_conflict", re.compile(
        r"\b(?:Concurrent(?:Append|DeleteRead|DeleteDelete|Write|Transaction)Exception"
        r"|MetadataChangedException|ProtocolChangedException|DELTA_CONCURRENT_[A-Z_]+)\b")),
    ("spark_executor_lost", re.compile(
        r"\b(?:ExecutorLostFailure|FetchFailed(?:Exception)?|ExecutorDeadException)\b")),
    ("storage_throttled", re.compile(
        r"\b(?:ServerBusy|SlowDown|ThrottlingException|RequestLimitExceeded"
        r"|TooManyRequestsException)\b")),
    # Azure Storage's "500 OperationTimedOut", which it documents as retryable.
    ("timeout", re.compile(r"\bOperationTimedOut\b")),
)
# Phrases trusted only in messages of storage and engine libraries (see _speaks_for_storage).
_STATUS = r"(?:status(?: code)?|http(?: error| status)?|code)\s*[:=]?\s*"
_PHRASES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(pattern, re.IGNORECASE)) for name, pattern in (
        ("storage_throttled", r"throttl|server (?:is )?busy|reduce your request rate"
                              r"|over the account limit"),
        ("http_throttled", _STATUS + r"429\b|too many requests"),
        ("http_unavailable", _STATUS + r"50[234]\b|service unavailable|bad gateway"
                             r"|gateway time-?out"),
        ("http_timeout", _STATUS + r"408\b|request timeout"),
        ("dns_failure", r"name or service not known|temporary failure in name resolution"
                        r"|could not translate host name"
                        r"|nodename nor servname|failed to lookup address|dns error"
                        r"|unknownhostexception|no such host"),
        ("connection_refused", r"connection refused|couldn'?t connect to server"),
        ("connection_reset", r"connection reset|reset by peer|broken pipe"
                             r"|connection closed before|remote end closed"
                             r"|server closed the connection|terminating connection"
                             r"|connection already closed|ssl syscall error"),
        ("database_busy", r"database is locked|database table is locked"
                          r"|the database system is (?:starting up|shutting down|in recovery)"
                          r"|too many (?:connections|clients)"),
        ("connection_aborted", r"connection aborted"),
        ("network_unreachable", r"network is unreachable|no route to host"),
        ("timeout", r"timed out|deadline exceeded|operation timeout|timeout expired"),
        ("spark_executor_lost", r"lost executor|executor lost"),
    ))
_STORAGE_LIBRARIES = {"deltalake", "_internal", "polars", "pyarrow", "pyspark", "py4j", "delta",
                      "azure", "botocore", "adlfs", "s3fs", "fsspec", "duckdb"}
# Database drivers (DB-API modules): their error messages are trusted for the phrases above,
# and their SQLSTATEs are read. SQLAlchemy wraps them (raise ... from the driver's error), so
# the chain walk reaches them; SQLAlchemy's own message (which quotes the SQL) is not read.
_DB_DRIVERS = {"psycopg2", "psycopg", "sqlite3", "pymysql", "MySQLdb", "pyodbc", "oracledb"}


def _verdict(name: str, detail: str) -> Classification:
    return Classification(CATEGORIES[name], detail)


def _explicit(exc: BaseException) -> Classification | None:
    """odibi's own errors say what they are."""
    if isinstance(exc, ConfigError):
        return _verdict("config", type(exc).__name__)
    if isinstance(exc, DataError):
        return _verdict("data", type(exc).__name__)
    if isinstance(exc, TransientError):
        return _verdict("transient", type(exc).__name__)
    if isinstance(exc, NodeError):
        return _verdict("transient" if exc.transient else "permanent", type(exc).__name__)
    return None


def _match(exc: BaseException) -> Classification | None:
    """The rules for one foreign exception, most specific first."""
    name = type(exc).__name__
    for cls in type(exc).__mro__:
        if _top(cls) in _CLASS_LIBRARIES and cls.__name__ in _CLASS_NAMES:
            return _verdict(_CLASS_NAMES[cls.__name__], cls.__name__)
    state = _sqlstate(exc)
    if state is not None:
        category = _SQLSTATES.get(state) or _SQLSTATES.get(state[:2])
        if category is not None:
            return _verdict(category, f"SQLSTATE {state}")
    if _top(type(exc)) == "sqlalchemy" and _attribute(exc, "connection_invalidated") is True:
        return _verdict("connection_reset", f"{name}: connection invalidated")
    code = _service_code(exc)
    if code in _SERVICE_CODES:
        return _verdict(_SERVICE_CODES[code], code)
    status = _http_status(exc)
    if status is not None:
        detail = f"HTTP {status}"
        if status in _HTTP_STATUSES:
            return _verdict(_HTTP_STATUSES[status], detail)
        if 400 <= status < 500:
            return _verdict("http_client_error", detail)
        if status >= 500:
            return _verdict("http_server_error", detail)
    if isinstance(exc, socket.gaierror):
        return _verdict("dns_failure", f"{name}: {exc.strerror or exc}")
    if isinstance(exc, OSError) and exc.errno in _ERRNOS:
        return _verdict(_ERRNOS[exc.errno], errno.errorcode.get(exc.errno, str(exc.errno)))
    for kind, category in ((ConnectionResetError, "connection_reset"),
                           (BrokenPipeError, "connection_reset"),
                           (ConnectionRefusedError, "connection_refused"),
                           (ConnectionAbortedError, "connection_aborted"),
                           (TimeoutError, "timeout"), (ConnectionError, "connection_failed")):
        if isinstance(exc, kind):
            return _verdict(category, name)
    for cls in type(exc).__mro__:
        if _top(cls) in _CLIENT_LIBRARIES and cls.__name__ in _CLIENT_CLASSES:
            return _verdict(_CLIENT_CLASSES[cls.__name__], f"{cls.__module__}.{cls.__name__}")
    java = _java_chain(exc)
    for java_class, _ in java:
        simple = java_class.rsplit(".", 1)[-1]
        category = _JAVA_CLASSES.get(java_class) or _CLASS_NAMES.get(simple)
        if category is not None:
            return _verdict(category, java_class)
    messages = [message for _, message in java] or [_message(exc)]
    storage = bool(java) or _speaks_for_storage(exc)
    for message in messages:
        for category, pattern in _IDENTIFIERS + (_PHRASES if storage else ()):
            match = pattern.search(message)
            if match is not None:
                return _verdict(category, f"{name}: '{match.group(0)}'")
    return None


# ---- reading exceptions ----------------------------------------------------------------------
def _links(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and what caused it, outermost first, each once (at most 24)."""
    seen: set[int] = set()
    pending: list[BaseException] = [exc]
    while pending and len(seen) < 24:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        reason = _attribute(current, "reason")
        if isinstance(reason, BaseException):  # urllib's URLError, urllib3's MaxRetryError
            pending.append(reason)
        following = current.__cause__
        if following is None and not current.__suppress_context__:
            following = current.__context__
        if following is not None:
            pending.append(following)


def _attribute(obj: Any, name: str) -> Any:
    try:
        return getattr(obj, name, None)
    except Exception:  # noqa: BLE001 - a property of a foreign object may raise
        return None


def _top(cls: type) -> str:
    return (getattr(cls, "__module__", None) or "").split(".")[0]


def _message(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception:  # noqa: BLE001
        return ""


def _http_status(exc: BaseException) -> int | None:
    """The HTTP status an error carries, if any (urllib, requests, azure-core, botocore, ...)."""
    if isinstance(exc, urllib.error.HTTPError):
        return _status_value(exc.code)
    for holder in (exc, _attribute(exc, "response")):
        if holder is None:
            continue
        if isinstance(holder, dict):  # botocore: ClientError.response
            status = _status_value((holder.get("ResponseMetadata") or {}).get("HTTPStatusCode"))
        else:
            status = _status_value(_attribute(holder, "status_code")) \
                or _status_value(_attribute(holder, "status"))
        if status is not None:
            return status
    return None


def _status_value(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and 100 <= value <= 599:
        return value
    return None


def _sqlstate(exc: BaseException) -> str | None:
    """The SQLSTATE of a database driver's error (psycopg2 ``pgcode``, psycopg ``sqlstate``)."""
    if _top(type(exc)) not in _DB_DRIVERS:
        return None
    for attribute in ("pgcode", "sqlstate"):
        value = _attribute(exc, attribute)
        if isinstance(value, str) and len(value) == 5:
            return value
    return None


def _service_code(exc: BaseException) -> str | None:
    """A storage service's error code: Azure ``error_code`` / ``error.code``, botocore
    ``response["Error"]["Code"]``."""
    code = _attribute(exc, "error_code")
    if not isinstance(code, str):
        code = _attribute(_attribute(exc, "error"), "code")
    if not isinstance(code, str):
        response = _attribute(exc, "response")
        if isinstance(response, dict):
            code = (response.get("Error") or {}).get("Code")
    return code if isinstance(code, str) else None


def _speaks_for_storage(exc: BaseException) -> bool:
    """True for errors whose message is all there is to go on: storage and engine libraries,
    and the errno-less ``OSError`` delta-rs and object stores raise."""
    if any(_top(cls) in _STORAGE_LIBRARIES | _DB_DRIVERS for cls in type(exc).__mro__):
        return True
    return type(exc) is OSError and exc.errno is None


def _java_chain(exc: BaseException) -> list[tuple[str, str]]:
    """(class name, message) of each Java throwable behind a Py4J or PySpark error."""
    if _top(type(exc)) not in {"py4j", "pyspark", "delta"}:
        return []
    java = _attribute(exc, "java_exception") or _attribute(exc, "_origin")
    found: list[tuple[str, str]] = []
    try:
        while java is not None and len(found) < 16:
            message = java.getMessage()
            found.append((str(java.getClass().getName()),
                          str(message if message is not None else java.toString())))
            java = java.getCause()
    except Exception:  # noqa: BLE001 - the JVM may be gone; use what was read
        pass
    return found
