"""``type: http`` connections and ``format: api`` reads against a real loopback HTTP server.

Each test starts its own ``http.server`` on 127.0.0.1 that serves a small paginated JSON API in
every pagination style (offset, page, cursor, Link header, next URL in the body), checks the
credentials of each auth mode, and can answer scripted error statuses first. The server records
every request (path, query, headers, arrival time), so tests assert request counts, parameters
and the client-side rate limit where it is observed. Retries and secrecy are checked through
real Dagster runs (the Dagster instance of the test's DAGSTER_HOME).
"""

from __future__ import annotations

import base64
import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import dagster as dg
import pytest
from dagster_shared.serdes import serialize_value
from deltalake import DeltaTable

from odibi_core.config import load_project
from odibi_core.config.node import ReadConfig
from odibi_core.connections import build_connection
from odibi_core.connections.http import HttpConnection
from odibi_core.error_taxonomy import classify
from odibi_core.errors import ConfigError, DataError, TransientError
from odibi_core.sources.http_api import read_api
from odibi_dagster.execution import ProjectRun, run_project

pytestmark = pytest.mark.timeout(120)

ITEMS = [{"id": i, "name": f"item {i}"} for i in range(1, 24)]  # 23 records
TOKEN = "tok-7Hq2-secret-bearer-9xZ"
PASSWORD = "pw-Lm4k-secret-basic-2Qa"
API_KEY = "key-Vb8n-secret-header-5Rt"
QUERY_KEY = "qk-Jd3s-secret-query-8Wp"
AUTHS: dict[str, tuple[dict[str, Any], Callable[[dict[str, str]], bool]]] = {
    "bearer": ({"mode": "bearer", "token": TOKEN},
               lambda h: h.get("authorization") == f"Bearer {TOKEN}"),
    "basic": ({"mode": "basic", "username": "ada", "password": PASSWORD},
              lambda h: h.get("authorization") == "Basic " + base64.b64encode(
                  f"ada:{PASSWORD}".encode()).decode()),
    "api_key": ({"mode": "api_key", "api_key": API_KEY, "header": "X-Api-Token"},
                lambda h: h.get("x-api-token") == API_KEY),
}
SECRETS = (TOKEN, PASSWORD, API_KEY, QUERY_KEY,
           base64.b64encode(f"ada:{PASSWORD}".encode()).decode())


# ---- the loopback API ------------------------------------------------------------------------
@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    at: float
    status: int = 200
    body: bytes = b""

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None


@dataclass
class Api:
    """The server's state: what it expects, what it will answer first, what it saw."""

    port: int = 0
    check_auth: Callable[[dict[str, str]], bool] | None = None
    script: list[int] = field(default_factory=list)  # statuses answered before the real ones
    seen: list[Seen] = field(default_factory=list)
    typed_pages: list[list[dict[str, Any]]] = field(default_factory=list)
    redirect_to: str = ""

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def ok(self) -> list[Seen]:
        return [s for s in self.seen if s.status == 200]


def _route(api: Api, seen: Seen) -> tuple[int, Any, dict[str, str]]:
    """(status, JSON body, headers) for one request."""
    q = seen.param
    if seen.path == "/v1/offset":
        offset, limit = int(q("offset") or 0), int(q("limit") or 5)
        return 200, {"data": {"items": ITEMS[offset:offset + limit]}, "total": len(ITEMS)}, {}
    if seen.path == "/v1/page":
        page, size = int(q("page") or 1), int(q("per_page") or 5)
        return 200, {"results": ITEMS[(page - 1) * size:page * size]}, {}
    if seen.path == "/v1/cursor":
        start, size = int(q("after") or 0), int(q("limit") or 5)
        end = start + size
        return 200, {"items": ITEMS[start:end],
                     "meta": {"next": str(end) if end < len(ITEMS) else None}}, {}
    if seen.path == "/v1/link":
        page, size = int(q("page") or 1), int(q("per_page") or 5)
        headers = {}
        if page * size < len(ITEMS):
            base = f"http://127.0.0.1:{api.port}/v1/link"
            headers["Link"] = (f'<{base}?page=1&per_page={size}>; rel="first", '
                               f'<{base}?page={page + 1}&per_page={size}>; rel="next"')
        return 200, ITEMS[(page - 1) * size:page * size], headers
    if seen.path == "/v1/json_link":
        page = int(q("page") or 1)
        more = page * 10 < len(ITEMS)
        return 200, {"items": ITEMS[(page - 1) * 10:page * 10],
                     "links": {"next": f"/v1/json_link?page={page + 1}" if more else None}}, {}
    if seen.path == "/v1/all":
        return 200, ITEMS, {}
    if seen.path == "/v1/typed":
        page = int(q("page") or 1)
        rows = api.typed_pages[page - 1] if page <= len(api.typed_pages) else []
        return 200, {"data": rows}, {}
    if seen.path == "/v1/search" and seen.method == "POST":
        wanted = json.loads(seen.body)["ids"]
        return 200, [item for item in ITEMS if item["id"] in wanted], {}
    if seen.path == "/v1/slow":
        time.sleep(1.0)
        return 200, ITEMS, {}
    if seen.path == "/v1/html":
        return 200, "<html>not json</html>", {"Content-Type": "text/html"}
    if seen.path == "/v1/moved":
        return 302, None, {"Location": api.redirect_to}
    return 404, {"error": "no such endpoint"}, {}


@pytest.fixture
def api() -> Iterator[Api]:
    yield from _serve()


@pytest.fixture
def other_api() -> Iterator[Api]:
    """A second server: another origin (another port)."""
    yield from _serve()


def _serve() -> Iterator[Api]:
    state = Api()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            seen = Seen(self.command, parts.path, parse_qs(parts.query),
                        {k.lower(): v for k, v in self.headers.items()}, time.monotonic(),
                        body=self.rfile.read(length) if length else b"")
            state.seen.append(seen)
            headers: dict[str, str] = {}
            if state.script:
                seen.status = state.script.pop(0)
                body: Any = {"error": "slow down"}
                if seen.status == 429:
                    headers["Retry-After"] = "7"
            elif state.check_auth is not None and not state.check_auth(seen.headers):
                seen.status, body = 401, {"error": "bad credentials"}
            else:
                seen.status, body, headers = _route(state, seen)
            data = b"" if body is None else (
                body.encode() if isinstance(body, str) else json.dumps(body).encode())
            try:
                self.send_response(seen.status)
                self.send_header("Content-Type",
                                 headers.pop("Content-Type", "application/json"))
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (the timeout test)

        do_GET = do_POST = _answer  # noqa: N815 - http.server's names

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def connection(api: Api, auth: dict[str, Any] | None = None, **extra: Any) -> HttpConnection:
    config = {"type": "http", "base_url": api.base_url, "auth": auth, **extra}
    built = build_connection("crm", config, Path("."))
    assert isinstance(built, HttpConnection)
    return built


def read(conn: HttpConnection, path: str | None, **options: Any) -> Any:
    config = ReadConfig(connection=conn.name, format="api", path=path, options=options)
    return read_api(conn, config, node="p.items")


def ids(table: Any) -> list[int]:
    return table.column("id").to_pylist()


ALL_IDS = [item["id"] for item in ITEMS]


# ---- pagination styles -----------------------------------------------------------------------
def test_offset_pagination_reads_every_page_until_an_empty_one(api: Api) -> None:
    table = read(connection(api), "/offset", records_path="data.items",
                 pagination={"type": "offset", "limit": 10})
    assert ids(table) == ALL_IDS and table.column_names == ["id", "name"]
    assert [(s.param("offset"), s.param("limit")) for s in api.seen] == [
        ("0", "10"), ("10", "10"), ("20", "10"), ("23", "10")]  # + records received


def test_offset_takes_its_names_and_size_from_options(api: Api) -> None:
    # options.page_size fills in the limit; start_offset skips the first records.
    table = read(connection(api), "offset", records_path="data.items", page_size=8,
                 params={"status": "active", "archived": False},
                 pagination={"type": "offset", "start_offset": 3})
    assert ids(table) == ALL_IDS[3:]
    assert len(api.seen) == 4  # 3-11, 11-19, 19-23, then an empty page
    assert all(s.param("status") == "active" and s.param("archived") == "false"
               for s in api.seen)


def test_page_pagination_with_a_page_size_parameter(api: Api) -> None:
    table = read(connection(api), "/page", records_path="results",
                 pagination={"type": "page", "page_size_param": "per_page", "page_size": 10})
    assert ids(table) == ALL_IDS
    assert [(s.param("page"), s.param("per_page")) for s in api.seen] == [
        ("1", "10"), ("2", "10"), ("3", "10"), ("4", "10")]


def test_cursor_pagination_stops_when_the_cursor_is_null(api: Api) -> None:
    table = read(connection(api), "/cursor", records_path="items",
                 pagination={"type": "cursor", "cursor_param": "after",
                             "cursor_path": "meta.next", "page_size_param": "limit",
                             "page_size": 10})
    assert ids(table) == ALL_IDS
    # No cursor on the first request; the answered cursor after; no request after a null one.
    assert [s.param("after") for s in api.seen] == [None, "10", "20"]
    assert all(s.param("limit") == "10" for s in api.seen)


def test_link_header_pagination_follows_rel_next(api: Api) -> None:
    table = read(connection(api), "/link", pagination={
        "type": "link_header", "page_size_param": "per_page", "page_size": 6})
    assert ids(table) == ALL_IDS
    assert [s.param("page") for s in api.seen] == [None, "2", "3", "4"]
    assert all(s.param("per_page") == "6" for s in api.seen)


def test_json_link_pagination_follows_the_next_url_in_the_body(api: Api) -> None:
    table = read(connection(api), "/json_link", records_path="items",
                 pagination={"type": "json_link", "next_url_path": "links.next"})
    assert ids(table) == ALL_IDS
    assert [s.param("page") for s in api.seen] == [None, "2", "3"]


def test_no_pagination_is_one_request_and_a_list_response_needs_no_records_path(
        api: Api) -> None:
    table = read(connection(api), "/all", page_size=100)  # page_size: unused without pagination
    assert ids(table) == ALL_IDS and len(api.seen) == 1


def test_max_pages_caps_the_read_and_says_so(api: Api,
                                             caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="odibi_core.sources.http_api"):
        table = read(connection(api), "/page", records_path="results", max_pages=2,
                     pagination={"type": "page", "page_size_param": "per_page",
                                 "page_size": 5})
    assert ids(table) == ALL_IDS[:10] and len(api.seen) == 2
    assert "p.items: stopped after max_pages=2 pages" in caplog.text


def test_post_sends_the_json_body_and_pagination_stays_in_the_query(api: Api) -> None:
    table = read(connection(api), "/search", method="post", body={"ids": [2, 3, 5]})
    assert ids(table) == [2, 3, 5]
    (seen,) = api.seen
    assert seen.method == "POST" and json.loads(seen.body) == {"ids": [2, 3, 5]}
    assert seen.headers["content-type"] == "application/json"


def test_an_api_that_ignores_the_page_parameter_fails_instead_of_looping(api: Api) -> None:
    with pytest.raises(DataError, match="same records as the page before.*'offset'"):
        read(connection(api), "/all", pagination={"type": "offset", "limit": 50})
    assert len(api.seen) == 2


# ---- records and types -----------------------------------------------------------------------
def test_types_are_decided_over_every_page(api: Api) -> None:
    api.typed_pages = [
        [{"id": 1, "score": None, "note": None, "meta": {"a": 1, "b": None}, "tags": []}],
        [{"id": 2, "score": 7, "note": None, "meta": {"a": 2, "b": "x"}, "tags": ["t"]},
         {"id": 3, "score": None, "note": None, "meta": None, "tags": None, "late": True}],
    ]
    table = read(connection(api), "/typed", records_path="data",
                 pagination={"type": "page"})
    types = {f.name: str(f.type) for f in table.schema}
    assert types == {"id": "int64", "score": "int64", "note": "string",
                     "meta": "struct<a: int64, b: string>", "tags": "list<item: string>",
                     "late": "bool"}
    assert table.column("score").to_pylist() == [None, 7, None]
    assert table.column("late").to_pylist() == [None, None, True]


def test_mixed_types_fail_with_the_fix_and_schema_or_nested_json_settle_them(api: Api) -> None:
    api.typed_pages = [[{"id": 1, "code": 5, "meta": {"v": 1}}],
                       [{"id": 2, "code": "A7", "meta": {"v": "one"}}]]
    with pytest.raises(DataError, match=r"Records of http://127\.0\.0\.1:\d+/v1/typed: "
                                        r"Column 'code' mixes value types") as info:
        read(connection(api), "/typed", records_path="data", pagination={"type": "page"})
    assert "read.options.schema" in (info.value.fix or "")

    table = read(connection(api), "/typed", records_path="data", pagination={"type": "page"},
                 schema={"code": "string"}, nested="json")
    assert table.to_pylist() == [{"id": 1, "code": "5", "meta": '{"v":1}'},
                                 {"id": 2, "code": "A7", "meta": '{"v":"one"}'}]


def test_declared_types_apply_and_an_empty_result_keeps_them(api: Api) -> None:
    api.typed_pages = [[{"id": "1", "at": "2026-01-02T03:04:05Z"}]]
    table = read(connection(api), "/typed", records_path="data", pagination={"type": "page"},
                 schema={"id": "int64", "at": "timestamp"})
    assert [str(f.type) for f in table.schema] == ["int64", "timestamp[us, tz=UTC]"]
    api.typed_pages = []
    empty = read(connection(api), "/typed", records_path="data", schema={"id": "int64"})
    assert empty.num_rows == 0 and empty.column_names == ["id"]


def test_a_wrong_records_path_names_where_the_lists_are(api: Api) -> None:
    with pytest.raises(DataError, match=r"nothing at records_path 'data\.rows'") as info:
        read(connection(api), "/offset", records_path="data.rows",
             pagination={"type": "offset", "limit": 10})
    assert "lists found at: data.items" in (info.value.fix or "")
    with pytest.raises(DataError, match="is a JSON object, not a list of records"):
        read(connection(api), "/offset", pagination={"type": "offset", "limit": 10})


def test_a_response_that_is_not_json_is_a_data_error(api: Api) -> None:
    with pytest.raises(DataError, match=r"did not answer JSON \(text/html.*<html>not json"):
        read(connection(api), "/html")


# ---- errors and the taxonomy -----------------------------------------------------------------
@pytest.mark.parametrize("status,category,kind", [
    (429, "http_throttled", TransientError), (503, "http_unavailable", TransientError),
    (502, "http_unavailable", TransientError), (408, "http_timeout", TransientError),
    (500, "http_server_error", DataError), (400, "http_client_error", DataError),
    (403, "http_client_error", DataError),
])
def test_http_statuses_are_classified_by_the_taxonomy(api: Api, status: int, category: str,
                                                      kind: type) -> None:
    api.script = [status]
    with pytest.raises(kind) as info:
        read(connection(api, AUTHS["bearer"][0]), "/all",
             params={"api_key": QUERY_KEY, "q": "x"})
    assert classify(info.value).name == category
    message = info.value.message
    assert f"GET {api.base_url}/all?api_key=***&q=x answered HTTP {status}" in message
    assert 'Response: {"error": "slow down"' in message
    if status == 429:
        assert "asked to wait 7 s (Retry-After)" in message
    assert not any(secret in str(info.value) for secret in SECRETS)
    assert len(api.seen) == 1  # no retry inside the read: that is the node's retry policy


def test_a_timeout_and_a_refused_connection_are_transient(api: Api) -> None:
    with pytest.raises(TransientError, match=r"/v1/slow \(page 1\) failed") as info:
        read(connection(api), "/slow", timeout_seconds=0.2)
    assert classify(info.value).name == "timeout"

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    refused = HttpConnection("crm", {"base_url": f"http://127.0.0.1:{closed}/v1"}, ".")
    with pytest.raises(TransientError) as info:
        read(refused, "/all")
    assert classify(info.value).name == "connection_refused"


@pytest.mark.parametrize("mode", sorted(AUTHS))
def test_each_auth_mode_is_sent_and_wrong_credentials_are_a_permanent_401(
        api: Api, mode: str) -> None:
    config, check = AUTHS[mode]
    api.check_auth = check
    assert ids(read(connection(api, config), "/all")) == ALL_IDS

    wrong = {**config, **{k: "wrong-value" for k in ("token", "password", "api_key")
                          if k in config}}
    with pytest.raises(DataError, match=r"answered HTTP 401 Unauthorized") as info:
        read(connection(api, wrong), "/all")
    assert classify(info.value).name == "http_client_error"
    assert "connections.crm.auth" in (info.value.fix or "")
    assert [s.status for s in api.seen] == [200, 401]


def test_credentials_follow_redirects_on_the_same_origin_only(api: Api, other_api: Api) -> None:
    api.check_auth = other_api.check_auth = AUTHS["bearer"][1]
    api.redirect_to = f"{api.base_url}/all"
    assert ids(read(connection(api, AUTHS["bearer"][0]), "/moved")) == ALL_IDS
    assert [s.path for s in api.seen] == ["/v1/moved", "/v1/all"]
    assert api.seen[1].headers.get("authorization") == f"Bearer {TOKEN}"

    api.redirect_to = f"{other_api.base_url}/all"
    with pytest.raises(DataError, match="HTTP 401"):
        read(connection(api, AUTHS["bearer"][0]), "/moved")
    assert "authorization" not in other_api.seen[0].headers


# ---- the rate limit --------------------------------------------------------------------------
def test_the_rate_limit_spaces_requests_as_seen_by_the_server(api: Api) -> None:
    before = time.monotonic()  # the server runs in this process: one clock for both
    read(connection(api), "/offset", records_path="data.items", max_pages=5,
         pagination={"type": "offset", "limit": 2}, rate_limit={"requests_per_second": 10})
    times = [s.at for s in api.seen]
    assert len(times) == 5
    # The 5th request starts >= 0.4 s after the 1st, which starts after `before`: exact.
    assert times[-1] - before >= 0.4
    # Between arrivals at the server: 0.4 s, less what scheduling delayed the first arrival
    # more than the last (a loaded 2-core machine stalls a thread for tens of ms).
    assert times[-1] - times[0] >= 0.35, [round(t - before, 3) for t in times]


# ---- the connection: addressing, secrets, doctor ---------------------------------------------
def test_resolve_joins_paths_and_masks_secrets_in_the_display(api: Api) -> None:
    conn = HttpConnection("crm", {"base_url": f"http://h.example/api?api_key={QUERY_KEY}&v=2",
                                  "headers": {"X-Trace": "t", "Cookie": "sid=abcdef123"},
                                  "auth": AUTHS["basic"][0]}, ".")
    location = conn.resolve("/contacts?type=a")
    assert location.uri == f"http://h.example/api/contacts?api_key={QUERY_KEY}&v=2&type=a"
    assert location.display == "http://h.example/api/contacts?api_key=***&v=2&type=a"
    assert not location.is_local and location.storage_options == {}
    assert set(SECRETS) - {TOKEN, API_KEY} <= set(conn.secret_values())
    # A password in base_url is basic auth (tests/connections/test_http_secret_encodings.py).
    assert conn.mask_url(f"http://u:{PASSWORD}@h.example/x") == "http://u:***@h.example/x"
    assert "sid=abcdef123" in conn.secret_values()
    header = conn.request_headers()["Authorization"]
    assert conn.redact(f"sent {header} and {QUERY_KEY}") == "sent *** and ***"
    assert PASSWORD not in repr(conn)
    assert conn.resolve("contacts").uri == conn.resolve("/contacts").uri
    with pytest.raises(ConfigError, match="is a full URL"):
        conn.resolve("https://elsewhere.example/x")
    with pytest.raises(ConfigError, match="no tables"):
        conn.resolve(table="t")
    with pytest.raises(ConfigError, match="base_url must be an absolute http"):
        HttpConnection("bad", {"base_url": "ftp://h/x"}, ".")


def test_diagnose_checks_reachable_authenticated_and_paths(api: Api) -> None:
    api.check_auth = AUTHS["bearer"][1]
    checks = connection(api, AUTHS["bearer"][0]).diagnose(["/all", "/nowhere"])
    got = [(c.name, c.ok) for c in checks]
    assert got == [("reachable", True), ("authenticated", True), ("path exists", True),
                   ("path exists", False)]
    assert "crm:/nowhere: HTTP 404" in checks[3].detail

    wrong = connection(api, {"mode": "bearer", "token": "nope-nope"}).diagnose(["/all"])
    assert [(c.name, c.ok) for c in wrong] == [
        ("reachable", True), ("authenticated", False), ("path exists", None)]
    assert "HTTP 401" in wrong[1].detail

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    down = HttpConnection("crm", {"base_url": f"http://127.0.0.1:{closed}/v1?api_key="
                                              f"{QUERY_KEY}"}, ".").diagnose([])
    assert [(c.name, c.ok) for c in down] == [("reachable", False), ("authenticated", None)]
    assert "Connection refused" in down[0].detail and "api_key=***" in down[0].detail
    details = " ".join(c.detail for c in [*checks, *wrong, *down])
    assert not any(secret in details for secret in SECRETS)


def test_odibi_doctor_prints_the_http_checks_without_secrets(
        api: Api, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from odibi_dagster.cli.main import main

    api.check_auth = AUTHS["basic"][1]
    (tmp_path / "odibi.yaml").write_text(project_yaml(api, auth="basic", path="/all", options=""),
                                         encoding="utf-8")
    assert main(["doctor", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert any(line.split()[:4] == ["crm", "http", "path", "exists"] and "crm:/all" in line
               for line in out.splitlines())
    assert not any(secret in out for secret in SECRETS)


# ---- options at load time --------------------------------------------------------------------
BAD_OPTIONS = [
    ("record_path: data", "options.record_path", "Did you mean 'records_path'?"),
    ("pagination: {type: ofset, limit: 10}", "options.pagination.type",
     "Did you mean 'offset'?"),
    ("pagination: {type: cursor, cursor_pth: next}", "options.pagination.cursor_pth",
     "Did you mean 'cursor_path'?"),
    ("pagination: {type: offset}", "options.pagination", "needs a page size"),
    ("body: {q: 1}", "options.body", "POST only"),
    ("rate_limit: {requests_per_second: 0}", "options.rate_limit.requests_per_second",
     "greater than 0"),
    ("schema: {id: integr}", "options.schema.id", "unknown type 'integr'"),
    ("max_pages: many", "options.max_pages", "expected a whole number"),
]


@pytest.mark.parametrize("line,key,message", BAD_OPTIONS, ids=[k for _, k, _ in BAD_OPTIONS])
def test_bad_options_are_config_errors_with_file_line_and_key(
        tmp_path: Path, line: str, key: str, message: str) -> None:
    api = Api(port=9)
    text = project_yaml(api, auth=None, path="/all", options=f"""
          options:
            records_path: data
            {line}""")
    file = tmp_path / "odibi.yaml"
    file.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_project(file)
    (problem,) = info.value.problems
    assert problem.file == file
    assert problem.line == text.splitlines().index(f"            {line}") + 1
    assert problem.key_path == f"pipelines[0].nodes[0].read.{key}"
    assert message in problem.message + (problem.fix or "")


# ---- through Dagster: retries, permanent failures, secrets ----------------------------------
def project_yaml(api: Api, *, auth: str | None, path: str, options: str,
                 write: str = "") -> str:
    auth_line = ""
    if auth is not None:
        flow = ", ".join(f"{k}: '{v}'" for k, v in AUTHS[auth][0].items())
        auth_line = f", auth: {{{flow}}}"
    return f"""\
project: api_demo
connections:
  crm: {{type: http, base_url: "{api.base_url}"{auth_line}}}
  lake: {{type: local, base_path: ./lake}}
system: {{connection: lake, path: _system}}
story: {{connection: lake, path: _stories}}
retry: {{initial_delay: 0.1, max_attempts: 3}}
pipelines:
  - pipeline: p
    nodes:
      - name: items
        read:
          connection: crm
          format: api
          path: {path}{options}
{write}"""


OFFSET_OPTIONS = """
          options:
            records_path: data.items
            params: {api_key: "%s"}
            pagination: {type: offset, limit: 10}""" % QUERY_KEY
WRITE = "        write: {connection: lake, format: delta, path: items, mode: append}\n"


def run(tmp_path: Path, text: str) -> ProjectRun:
    (tmp_path / "odibi.yaml").write_text(text, encoding="utf-8")
    return run_project(load_project(tmp_path / "odibi.yaml"), ["p.items"])


def assert_no_secret_anywhere(tmp_path: Path, outcome: ProjectRun, dagster_home: Path) -> None:
    """Not in the run's results, its stories (json/html/md), the lake and system files, the
    Dagster event log, or any file of the Dagster instance."""
    texts = {"results": repr(outcome.results)}
    with dg.DagsterInstance.get() as instance:
        texts["event log"] = "\n".join(serialize_value(entry)
                                       for entry in instance.all_logs(outcome.run_id))
    stories = [p for p in (tmp_path / "lake" / "_stories").rglob("*") if p.is_file()]
    assert {p.suffix for p in stories} >= {".json", ".html", ".md"}
    for root in (tmp_path / "lake", dagster_home):
        for file in root.rglob("*"):
            if file.is_file():
                texts[str(file)] = file.read_bytes().decode("utf-8", errors="replace")
    for where, text in texts.items():
        leaked = [secret for secret in SECRETS if secret in text]
        assert not leaked, f"{leaked} in {where}"
    # The messages that would carry them are there, masked.
    assert "api_key=***" in texts["event log"]
    assert any("api_key=***" in text for where, text in texts.items() if "_stories" in where)


def test_throttling_then_success_is_retried_by_dagster_and_rows_land_once(
        api: Api, tmp_path: Path, dagster_home: Path) -> None:
    api.check_auth = AUTHS["bearer"][1]
    api.script = [429, 503]
    outcome = run(tmp_path, project_yaml(api, auth="bearer", path="/offset",
                                         options=OFFSET_OPTIONS, write=WRITE))

    assert outcome.success, [r.error for r in outcome.results]
    assert [s.status for s in api.seen] == [429, 503, 200, 200, 200, 200]
    (result,) = outcome.results
    assert (result.attempt, result.max_attempts) == (3, 3)
    assert [(r.category, r.delay_seconds) for r in result.retries] == [
        ("http_throttled", 0.1), ("http_unavailable", 0.3)]
    assert "asked to wait 7 s (Retry-After)" in result.retries[0].error
    assert "api_key=***" in result.retries[0].error
    with dg.DagsterInstance.get() as instance:
        (stats,) = instance.get_run_step_stats(outcome.run_id)
        assert stats.attempts == 3
        warnings = [e.user_message for e in instance.all_logs(outcome.run_id)
                    if e.dagster_event is None and e.level >= logging.WARNING]
    assert any(m.startswith("retry 1/2 of p.items in 0.1s: http_throttled (HTTP 429)")
               for m in warnings)
    rows = DeltaTable(str(tmp_path / "lake" / "items")).to_pyarrow_table()
    assert sorted(rows.column("id").to_pylist()) == ALL_IDS  # once: failed attempts wrote nothing
    assert_no_secret_anywhere(tmp_path, outcome, dagster_home)


@pytest.mark.parametrize("case", ["404", "401"])
def test_not_found_and_unauthorized_fail_at_once_without_secrets(
        api: Api, tmp_path: Path, dagster_home: Path, case: str) -> None:
    api.check_auth = AUTHS["basic"][1]
    auth = "basic" if case == "404" else "bearer"  # the bearer token is wrong for this server
    path = "/nowhere" if case == "404" else "/offset"
    outcome = run(tmp_path, project_yaml(api, auth=auth, path=path, options=OFFSET_OPTIONS,
                                         write=WRITE))

    assert not outcome.success
    assert [s.status for s in api.seen] == [int(case)]  # one attempt, one request
    (result,) = outcome.results
    assert result.status == "failed" and result.attempt == 1 and not result.retries
    assert result.error is not None
    assert f"{api.base_url}{path}?api_key=***&offset=0&limit=10 answered HTTP {case}" \
        in result.error.message
    with dg.DagsterInstance.get() as instance:
        (stats,) = instance.get_run_step_stats(outcome.run_id)
        assert stats.attempts == 1
        logs = "\n".join(e.user_message for e in instance.all_logs(outcome.run_id))
    assert "is not retried: http_client_error (HTTP " in logs
    assert_no_secret_anywhere(tmp_path, outcome, dagster_home)
