"""``odibi doctor`` on Azure answers and keys that made pyarrow's Azure client (the Azure SDK for
C++) abort the process (SIGABRT, exit 134, no report): a 403 whose body is not a storage error,
and an account key that is not base64. Real ``odibi`` processes; a loopback HTTP server stands in
for the blob endpoint (a proxy answering 403)."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from odibi_core.connections.azure import AZURITE_ACCOUNT, AZURITE_KEY, AzureBlobConnection
from odibi_core.errors import ConfigError
from tests.processes import ODIBI, odibi_env

pytestmark = pytest.mark.timeout(180)

BAD_KEY = "not-base64!!key"


@pytest.fixture(params=["text/plain", "application/xml"])
def proxy(request: pytest.FixtureRequest) -> Iterator[str]:
    """A blob endpoint where the container exists but listing it answers 403 with the body
    'Forbidden by proxy' (labelled text/plain, or XML that is not XML)."""
    kind = request.param

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            if "restype=container" in self.path and "comp=list" not in self.path:
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = b"Forbidden by proxy"
            self.send_response(403)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        do_GET = do_HEAD = _answer  # noqa: N815 - http.server's names

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/{AZURITE_ACCOUNT}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def project(root: Path, auth: str, endpoint: str = "http://127.0.0.1:9") -> Path:
    root.mkdir(exist_ok=True)
    (root / "odibi.yaml").write_text(f"""\
project: doctor_faults
connections:
  blob:
    type: azure_blob
    account_name: {AZURITE_ACCOUNT}
    container: lake
    endpoint: "{endpoint}"
    auth: {auth}
pipelines:
  - pipeline: p
    nodes:
      - name: a
        read: {{connection: blob, format: csv, path: in/a.csv}}
""", encoding="utf-8")
    return root


def odibi(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*ODIBI, *args, str(root)], capture_output=True, text=True,
                          env=odibi_env(root), timeout=120)


def test_a_403_that_is_not_a_storage_error_is_a_failed_check(proxy: str,
                                                               tmp_path: Path) -> None:
    root = project(tmp_path / "p", f'{{mode: account_key, account_key: "{AZURITE_KEY}"}}', proxy)
    done = odibi(root, "doctor")
    output = done.stdout + done.stderr
    assert done.returncode == 1, output  # a failed check, not 134 (SIGABRT)
    row = next((line for line in done.stdout.splitlines() if line.startswith("blob ")), output)
    assert row.split()[2:4] == ["reachable", "FAILED"]
    assert "SIGABRT" in row and "HTTP 403" in row and '"Forbidden by proxy"' in row
    assert "not an Azure Storage answer" in row
    assert "1 of 1 connection(s) failed a check" in done.stdout
    assert "terminate called" not in output and AZURITE_KEY not in output


@pytest.mark.parametrize("auth,key_path", [
    (f'{{mode: account_key, account_key: "{BAD_KEY}"}}', "connections.blob.auth.account_key"),
    ('{mode: connection_string, connection_string: "DefaultEndpointsProtocol=http;'
     f'AccountName={AZURITE_ACCOUNT};AccountKey={BAD_KEY};"}}',
     "connections.blob.auth.connection_string"),
], ids=["account_key", "connection_string"])
def test_a_key_that_is_not_base64_is_refused_at_load(tmp_path: Path, auth: str,
                                                      key_path: str) -> None:
    root = project(tmp_path / "p", auth)
    for command in ("validate", "doctor"):
        done = odibi(root, command)
        output = done.stdout + done.stderr
        assert done.returncode == 1, output  # not 134
        assert f"{root / 'odibi.yaml'}:8: {key_path}: Connection 'blob':" in done.stderr
        assert "is not valid base64" in done.stderr and "Access keys" in done.stderr
        assert BAD_KEY not in output and "terminate called" not in output


@pytest.mark.parametrize("key", ["", "abc$", "YWJj", "YWJjZA"], ids=["empty", "char", "short",
                                                                      "padding"])
def test_the_connection_checks_the_key_before_any_library_sees_it(key: str) -> None:
    config = {"account_name": "acme", "container": "lake",
              "auth": {"mode": "account_key", "account_key": key}}
    if key == "YWJj":  # valid base64 (of 'abc'): accepted
        assert AzureBlobConnection("blob", config).storage_options()["account_key"] == key
        return
    with pytest.raises(ConfigError) as info:
        AzureBlobConnection("blob", config)
    (problem,) = info.value.problems
    assert problem.key_path == "connections.blob.auth.account_key"
    assert "Connection 'blob': account_key is" in problem.message
    assert not key or key not in problem.message + (problem.fix or "")
