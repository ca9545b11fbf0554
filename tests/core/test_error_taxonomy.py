"""The error taxonomy: real network, HTTP, delta-rs and Java failures, each put in its named
category; only transient categories are retried (SPEC §8)."""

from __future__ import annotations

import socket
import struct
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import requests
from deltalake import DeltaTable, write_deltalake

from odibi_core.error_taxonomy import CATEGORIES, classify, is_internal, is_transient
from odibi_core.errors import ConfigError, ConfigProblem, DataError, NodeError, TransientError

pytestmark = pytest.mark.timeout(60)


def caught(call: Any) -> BaseException:
    try:
        call()
    except BaseException as exc:  # noqa: BLE001 - the point is to look at it
        return exc
    raise AssertionError("expected an exception")


def verdict(exc: BaseException) -> tuple[str, bool]:
    found = classify(exc)
    assert is_transient(exc) is found.transient  # the public entry point agrees
    return found.name, found.transient


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def http_server() -> Iterator[str]:
    """``<base>/<status>[/...]`` answers with that status."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            status = int(self.path.strip("/").split("/")[0])
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_HEAD = do_GET

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


# ---- sockets -----------------------------------------------------------------------------------
def test_refused_connection(closed_port: int) -> None:
    exc = caught(lambda: socket.create_connection(("127.0.0.1", closed_port), timeout=5))
    assert isinstance(exc, ConnectionRefusedError)
    assert verdict(exc) == ("connection_refused", True)
    assert classify(exc).detail == "ECONNREFUSED"


def test_reset_connection() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        client = socket.create_connection(listener.getsockname(), timeout=5)
        peer, _ = listener.accept()
        peer.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        peer.close()  # linger 0: the close sends a RST
        exc = caught(lambda: client.recv(10))
        client.close()
    assert isinstance(exc, ConnectionResetError)
    assert verdict(exc) == ("connection_reset", True)


def test_timeout() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        with socket.create_connection(listener.getsockname(), timeout=0.05) as client:
            exc = caught(lambda: client.recv(10))  # the peer never answers
    assert isinstance(exc, TimeoutError)
    assert verdict(exc) == ("timeout", True)


def test_dns_failure() -> None:
    exc = caught(lambda: socket.getaddrinfo("nonexistent.invalid", 80))
    assert isinstance(exc, socket.gaierror)
    assert verdict(exc) == ("dns_failure", True)


# ---- HTTP --------------------------------------------------------------------------------------
@pytest.mark.parametrize(("status", "category", "transient"), [
    (503, "http_unavailable", True), (502, "http_unavailable", True),
    (504, "http_unavailable", True), (429, "http_throttled", True), (408, "http_timeout", True),
    (400, "http_client_error", False), (404, "http_client_error", False),
    (500, "http_server_error", False),
])
def test_urllib_http_status(http_server: str, status: int, category: str,
                            transient: bool) -> None:
    exc = caught(lambda: urllib.request.urlopen(f"{http_server}/{status}", timeout=5))
    assert isinstance(exc, urllib.error.HTTPError)
    assert verdict(exc) == (category, transient)
    assert classify(exc).detail == f"HTTP {status}"


def test_urllib_refused_connection_is_read_through_the_reason(closed_port: int) -> None:
    exc = caught(lambda: urllib.request.urlopen(f"http://127.0.0.1:{closed_port}/", timeout=5))
    assert type(exc) is urllib.error.URLError
    assert verdict(exc) == ("connection_refused", True)


def test_requests_errors(http_server: str, closed_port: int) -> None:
    refused = caught(lambda: requests.get(f"http://127.0.0.1:{closed_port}/", timeout=5))
    assert isinstance(refused, requests.ConnectionError)
    assert verdict(refused) == ("connection_refused", True)  # the cause is more precise
    for status, expected in ((503, ("http_unavailable", True)),
                             (429, ("http_throttled", True)),
                             (404, ("http_client_error", False))):
        response = requests.get(f"{http_server}/{status}", timeout=5)
        assert verdict(caught(response.raise_for_status)) == expected


class ServiceError(Exception):
    """Shaped like azure-core's HttpResponseError: ``status_code`` and ``error_code``."""

    def __init__(self, status_code: int, error_code: str | None = None) -> None:
        super().__init__(f"{status_code} {error_code}")
        self.status_code = status_code
        self.error_code = error_code


class ClientError(Exception):
    """Shaped like botocore's ClientError: a ``response`` dict."""

    def __init__(self, code: str, status: int) -> None:
        super().__init__(code)
        self.response = {"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}


class Response:
    status = 429


class HasResponse(Exception):
    response = Response()


def test_storage_service_codes_and_statuses() -> None:
    assert verdict(ServiceError(503, "ServerBusy")) == ("storage_throttled", True)
    assert verdict(ServiceError(500, "OperationTimedOut")) == ("timeout", True)
    assert verdict(ServiceError(503)) == ("http_unavailable", True)
    assert verdict(ServiceError(403, "AuthorizationFailure")) == ("http_client_error", False)
    assert verdict(ClientError("SlowDown", 503)) == ("storage_throttled", True)
    assert verdict(ClientError("Throttling", 400)) == ("storage_throttled", True)  # AWS: a 400
    assert verdict(ClientError("NoSuchKey", 404)) == ("http_client_error", False)
    assert verdict(HasResponse()) == ("http_throttled", True)


# ---- Delta Lake (delta-rs) ---------------------------------------------------------------------
def test_delta_commit_conflict(tmp_path: Path) -> None:
    path = str(tmp_path / "t")
    write_deltalake(path, pa.table({"id": [1, 2, 3]}))
    first, second = DeltaTable(path), DeltaTable(path)
    second.delete("id = 1")
    exc = caught(lambda: first.delete("id = 1"))  # read version 0, which the other changed
    assert type(exc).__name__ == "CommitFailedError"
    assert verdict(exc) == ("delta_commit_conflict", True)


def object_store_error(endpoint: str) -> BaseException:
    return caught(lambda: DeltaTable("s3://bucket/table", storage_options={
        "AWS_ENDPOINT_URL": endpoint, "AWS_ALLOW_HTTP": "true", "AWS_ACCESS_KEY_ID": "k",
        "AWS_SECRET_ACCESS_KEY": "s", "AWS_REGION": "us-east-1", "max_retries": "0",
        "retry_timeout": "1s"}))


def test_delta_object_store_errors_are_read_from_their_message(http_server: str,
                                                              closed_port: int) -> None:
    refused = object_store_error(f"http://127.0.0.1:{closed_port}")
    assert type(refused) is OSError and refused.errno is None
    assert verdict(refused) == ("connection_refused", True)
    unavailable = object_store_error(f"{http_server}/503")
    assert "503 Service Unavailable" in str(unavailable)
    assert verdict(unavailable) == ("http_unavailable", True)
    forbidden = object_store_error(f"{http_server}/403")
    assert verdict(forbidden) == ("unknown", False)


# ---- odibi's own errors and chains -------------------------------------------------------------
def chained(outer: Any, inner: BaseException) -> BaseException:
    def raise_both() -> None:
        try:
            raise inner
        except BaseException as exc:
            raise outer() from exc

    return caught(raise_both)


def test_odibi_errors_decide_and_causes_name_the_category() -> None:
    reset = ConnectionResetError(104, "Connection reset by peer")
    bad_request = urllib.error.HTTPError("http://x", 400, "Bad Request",
                                         {}, None)  # type: ignore[arg-type]
    assert verdict(DataError("HTTP 503 in column status")) == ("data", False)
    assert verdict(ConfigError(ConfigProblem("bad"))) == ("config", False)
    assert verdict(TransientError("busy")) == ("transient", True)
    assert verdict(chained(lambda: TransientError("x"), reset)) == ("connection_reset", True)
    assert verdict(chained(lambda: DataError("x"), bad_request)) == ("http_client_error", False)
    assert verdict(chained(lambda: DataError("x"), reset)) == ("data", False)  # never retried
    transient_node = chained(lambda: NodeError("m", node="p.n", phase="read", transient=True),
                             reset)
    assert verdict(transient_node) == ("connection_reset", True)
    assert verdict(NodeError("m", node="p.n", phase="read")) == ("permanent", False)


def test_unknown_errors_are_permanent_and_plain_text_is_not_trusted() -> None:
    assert verdict(ValueError("connection timed out (503)")) == ("unknown", False)
    assert verdict(KeyError("amount")) == ("unknown", False)
    # Spark's identifiers are specific enough to trust in any message.
    lost = RuntimeError("Job aborted: ExecutorLostFailure (executor 1 exited)")
    assert verdict(lost) == ("spark_executor_lost", True)


def test_a_suppressed_context_is_not_read() -> None:
    def reraise() -> None:
        try:
            raise ConnectionResetError(104, "reset")
        except ConnectionResetError:
            raise ValueError("bad value") from None

    assert verdict(caught(reraise)) == ("unknown", False)
    unsuppressed = chained(lambda: ValueError("while handling"), ConnectionResetError())
    assert verdict(unsuppressed) == ("connection_reset", True)


def test_every_category_has_a_name_and_a_verdict() -> None:
    transient = {n for n, c in CATEGORIES.items() if c.transient}
    assert transient == {
        "connection_reset", "connection_refused", "connection_aborted", "network_unreachable",
        "connection_failed", "timeout", "dns_failure", "http_timeout", "http_throttled",
        "http_unavailable", "storage_throttled", "delta_commit_conflict", "spark_executor_lost",
        "database_busy", "transient"}
    assert set(CATEGORIES) - transient == {"config", "data", "http_client_error",
                                           "http_server_error", "permanent", "unknown"}


def test_azure_operation_timed_out_is_a_timeout() -> None:
    error = OSError("500 Internal Server Error: OperationTimedOut: Operation could not be "
                    "completed within the specified time.")
    assert classify(error).name == "timeout" and classify(error).transient


# ---- databases ---------------------------------------------------------------------------------
def test_a_locked_sqlite_database_is_busy_and_a_missing_table_is_permanent(tmp_path: Any) -> None:
    import sqlite3

    path = tmp_path / "db.sqlite"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (id INTEGER)")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        other = sqlite3.connect(path, timeout=0)
        with pytest.raises(sqlite3.OperationalError) as locked:
            other.execute("INSERT INTO t VALUES (1)")
        assert classify(locked.value).name == "database_busy"
        with pytest.raises(sqlite3.OperationalError) as missing:
            holder.execute("SELECT * FROM nope")
        assert not classify(missing.value).transient
    finally:
        holder.execute("ROLLBACK")
        holder.close()


# ---- Spark (Py4J) ------------------------------------------------------------------------------
def test_spark_java_cause_chain_is_read(spark_session: Any, closed_port: int) -> None:
    from py4j.protocol import Py4JJavaError

    from odibi_core.engines.spark_sql import foreign_error

    jvm = spark_session._jvm
    refused = caught(lambda: jvm.java.net.Socket("127.0.0.1", closed_port))
    assert isinstance(refused, Py4JJavaError)
    assert verdict(refused) == ("connection_refused", True)
    assert classify(refused).detail == "java.net.ConnectException"
    assert isinstance(foreign_error(refused, "reading", "fix"), TransientError)
    # A wrapped Java cause: the chain is walked, not only the outer exception.
    wrapped = jvm.java.lang.RuntimeException(
        "Job aborted", jvm.java.net.SocketTimeoutException("Read timed out"))
    assert verdict(Py4JJavaError("An error occurred", wrapped)) == ("timeout", True)
    parse = caught(lambda: jvm.java.lang.Integer.parseInt("x"))
    assert verdict(parse) == ("unknown", False)


def test_internal_errors_are_the_exceptions_odibi_does_not_know(closed_port: int) -> None:
    """What the CLI prints with a traceback, as a bug in odibi: not odibi's own errors (even a
    bare OdibiError the taxonomy does not name), not a failure the taxonomy names."""
    from odibi_core.errors import OdibiError

    for known in (DataError("bad rows"), ConfigError(ConfigProblem(message="bad key")),
                  TransientError("busy"), NodeError("x", node="p.n", phase="read"),
                  OdibiError("no such run"),
                  caught(lambda: socket.create_connection(("127.0.0.1", closed_port), 2))):
        assert not is_internal(known), known
    wrapped = caught(lambda: _raise_from(KeyError("state"), DataError("wrapped")))
    assert not is_internal(wrapped)  # odibi translated it: a located error
    for bug in (KeyError("state"), AttributeError("'NoneType' object has no attribute 'x'"),
                TypeError("unsupported operand")):
        assert is_internal(bug), bug


def _raise_from(cause: BaseException, error: BaseException) -> None:
    raise error from cause
