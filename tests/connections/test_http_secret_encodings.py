"""Secrets of an ``http`` connection stay hidden in every spelling an API may echo them in.

An API key with ``+``, ``/`` and ``=`` (base64-looking keys are common) comes back from an API
percent-encoded (``quote``, ``quote(safe='')``, ``quote_plus``, lowercase hex, a JSON-escaped
slash) in an error body, its reason phrase or a URL it quotes. A real ``odibi run`` process with
its own Dagster home reads from a loopback API that answers 401 echoing the key so: neither the
raw key nor any of its encodings may reach stdout, stderr, or any file under the project folder
(stories, run records, the Dagster home with its sqlite databases and compute logs).

Credentials written in ``base_url``'s user info (``http://user:pw@host``) are sent as HTTP basic
auth, never as part of a host name (a DNS lookup carrying the password), and are masked too.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
from deltalake import DeltaTable

from odibi_core.connections.http import HttpConnection
from odibi_core.errors import ConfigError
from tests.processes import run_odibi

pytestmark = pytest.mark.timeout(240)

API_KEY = "Kx9+Vb8n/s3cret+key=="  # base64-looking: '+', '/' and '='
USER, PASSWORD = "etl@corp", "p@ss:w/rd+Z9=="  # userinfo needs percent-encoding


def encodings(secret: str) -> set[str]:
    """The spellings of ``secret`` an API may echo (its raw form included)."""
    forms = {secret, quote(secret), quote(secret, safe=""), quote_plus(secret),
             quote(secret, safe="/+")}
    forms |= {form.replace("/", "\\/") for form in forms}  # JSON-escaped slashes
    return forms | {re.sub("%[0-9A-F]{2}", lambda m: m.group().lower(), f) for f in forms}


def basic(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


# ---- the loopback API --------------------------------------------------------------------
@dataclass
class Api:
    port: int = 0
    authorizations: list[str] = field(default_factory=list)

    def base_url(self, userinfo: str = "") -> str:
        return f"http://{userinfo}127.0.0.1:{self.port}/v1"


@pytest.fixture
def api() -> Iterator[Api]:
    """Answers /v1/items with two records when the request carries the key (X-API-Key) or
    USER/PASSWORD as basic auth; otherwise 401, echoing the key it got in every encoding."""
    state = Api()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            key = self.headers.get("X-API-Key") or ""
            authorization = self.headers.get("Authorization") or ""
            state.authorizations.append(authorization)
            if authorization == f"Basic {basic(USER, PASSWORD)}":
                self._send(200, "OK", json.dumps([{"id": 1}, {"id": 2}]).encode())
                return
            echoed = quote(key, safe="")
            body = {"error": f"invalid api key {quote(key)}", "l": echoed.lower(),
                    "u": f"?api_key={quote_plus(key)}", "p": quote(key, safe="/+"), "r": key}
            text = json.dumps(body).replace("/", "\\/")  # PHP-style escaped slashes
            self._send(401, f"Unauthorized key {echoed}", text.encode())

        def _send(self, status: int, reason: str, data: bytes) -> None:
            self.send_response(status, reason)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

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


def write_project(root: Path, connection: str) -> None:
    (root / "odibi.yaml").write_text(f"""\
project: secrets_demo
connections:
  crm: {connection}
  lake: {{type: local, base_path: ./lake}}
system: {{connection: lake, path: _system}}
story: {{connection: lake, path: _stories}}
pipelines:
  - pipeline: p
    nodes:
      - name: items
        read: {{connection: crm, format: api, path: /items}}
        write: {{connection: lake, format: delta, path: items, mode: append}}
""", encoding="utf-8")


def leaks(root: Path, output: str, secrets: set[str]) -> list[str]:
    """Where any of ``secrets`` shows: the process output and every file under ``root`` but the
    project file (where a test may write the credentials itself)."""
    texts = {"output": output}
    for file in root.rglob("*"):
        if file.is_file() and file.name != "odibi.yaml":
            texts[str(file.relative_to(root))] = file.read_bytes().decode("latin-1")
    return [f"{secret!r} in {where}" for where, text in texts.items()
            for secret in secrets if secret in text]


# ---- an echoed key -----------------------------------------------------------------------
def test_a_key_echoed_percent_encoded_is_masked_everywhere(
        api: Api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRM_API_KEY", API_KEY)
    write_project(tmp_path, f'{{type: http, base_url: "{api.base_url()}", '
                            'auth: {mode: api_key, api_key: "${CRM_API_KEY}"}}')
    done = run_odibi(tmp_path)
    output = done.stdout + done.stderr

    assert done.returncode != 0, output
    assert "answered HTTP 401" in output  # the failure is reported ...
    assert (tmp_path / "dagster_home").is_dir() and any(
        (tmp_path / "lake" / "_stories").rglob("*.html"))
    secrets = encodings(API_KEY)
    assert len(secrets) >= 6
    found = leaks(tmp_path, output, secrets)
    assert not found, "\n".join(found)  # ... with the key in no spelling
    story = next((tmp_path / "lake" / "_stories").rglob("*.json")).read_text()
    assert "invalid api key ***" in story and "api_key=***" in story


# ---- credentials in base_url ---------------------------------------------------------------
def test_userinfo_in_base_url_is_basic_auth_and_masked(api: Api, tmp_path: Path) -> None:
    userinfo = f"{quote(USER, safe='')}:{quote(PASSWORD, safe='')}@"
    write_project(tmp_path, f'{{type: http, base_url: "{api.base_url(userinfo)}"}}')
    done = run_odibi(tmp_path)
    output = done.stdout + done.stderr

    assert done.returncode == 0, output
    assert api.authorizations == [f"Basic {basic(USER, PASSWORD)}"]  # one request, no retry
    rows = DeltaTable(str(tmp_path / "lake" / "items")).to_pyarrow_table()
    assert sorted(rows.column("id").to_pylist()) == [1, 2]
    secrets = encodings(PASSWORD) | {basic(USER, PASSWORD)}
    found = leaks(tmp_path, output, secrets)
    assert not found, "\n".join(found)


def test_userinfo_never_reaches_the_host_name(api: Api) -> None:
    conn = HttpConnection("crm", {"base_url": api.base_url(f"ada:{quote(PASSWORD, safe='')}@")})
    location = conn.resolve("/items")
    assert location.uri == f"{api.base_url()}/items"  # what is opened: no user info
    assert location.display == location.uri
    assert conn.request_headers()["Authorization"] == f"Basic {basic('ada', PASSWORD)}"
    assert {PASSWORD, quote(PASSWORD, safe=""), basic("ada", PASSWORD)} <= set(
        conn.secret_values())
    assert PASSWORD not in repr(conn) and quote(PASSWORD, safe="") not in repr(conn)


def test_userinfo_and_an_auth_block_together_are_refused(api: Api) -> None:
    with pytest.raises(ConfigError) as info:
        HttpConnection("crm", {"base_url": api.base_url(f"ada:{quote(PASSWORD, safe='')}@"),
                               "auth": {"mode": "bearer", "token": "tok-123456"}})
    (problem,) = info.value.problems
    assert problem.key_path == "connections.crm.base_url"
    assert "auth" in (problem.fix or "")
    assert PASSWORD not in str(info.value) and quote(PASSWORD, safe="") not in str(info.value)


# ---- the masking itself --------------------------------------------------------------------
@pytest.mark.parametrize("secret", [API_KEY, PASSWORD, "tok en/ü+1=="], ids=["key", "pw", "utf8"])
def test_every_spelling_of_a_secret_is_masked_and_nothing_else(secret: str) -> None:
    from odibi_core.storage.redaction import redact_secrets

    for form in encodings(secret) | {quote(secret, safe="").replace("%20", "+")}:
        assert redact_secrets(f"key={form}; next", [secret]) == "key=***; next", form
    assert redact_secrets("Kx9 Vb8n s3cret", [API_KEY]) == "Kx9 Vb8n s3cret"


def test_userinfo_and_an_auth_block_are_refused_at_load(tmp_path: Path) -> None:
    from odibi_core.config import load_project

    write_project(tmp_path, f'{{type: http, base_url: "http://ada:{quote(PASSWORD, safe="")}@'
                            'api.example/v1", auth: {mode: bearer, token: tok-123456}}')
    with pytest.raises(ConfigError) as info:
        load_project(tmp_path / "odibi.yaml")
    (problem,) = info.value.problems
    assert (problem.file, problem.line, problem.key_path) == (
        tmp_path / "odibi.yaml", 3, "connections.crm.base_url")
    assert "credentials both in base_url" in problem.message and "auth" in (problem.fix or "")
    assert quote(PASSWORD, safe="") not in str(info.value)
