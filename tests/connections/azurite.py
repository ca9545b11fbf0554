"""Azurite (Microsoft's Azure Storage emulator, npm ``azurite``) for the tests: installed from the
npm registry into ``.ci/node`` on first use, started on a free loopback port with its data in a
temporary folder, killed (its own process group, SIGKILL) at teardown.

Also: SAS tokens and connection strings for Azurite's well-known account (stdlib HMAC), and
:class:`FaultProxy`, a loopback HTTP proxy in front of Azurite that answers chosen requests with
a storage error (``503 ServerBusy``...) instead of forwarding them.

Where Azurite keeps its data: everything under ``--location`` (``__azurite_db_blob__.json``,
``__azurite_db_blob_extent__.json``, the blob extents in ``__blobstorage__/``, an
``AzuriteConfig`` file); nothing else is written (no debug log unless ``--debug``).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import http.client
import http.server
import os
import subprocess
import threading
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from odibi_core.connections.azure import AZURITE_ACCOUNT, AZURITE_KEY
from tests.npm_tools import npm_binary
from tests.processes import free_port, kill_process_tree

AZURITE_VERSION = "3.37.0"  # keep in step with .ci/run
ACCOUNT = AZURITE_ACCOUNT
KEY = AZURITE_KEY
START_TIMEOUT = 60.0


def azurite_binary() -> Path:
    """``azurite-blob`` from ``.ci/node`` (``$ODIBI_AZURITE_BLOB`` overrides), installed with
    npm on first use (bounded; one installer at a time)."""
    override = os.environ.get("ODIBI_AZURITE_BLOB")
    if override:
        return Path(override)
    return npm_binary("azurite", AZURITE_VERSION, "azurite-blob")


class Azurite:
    """One ``azurite-blob`` process on 127.0.0.1 with its data under ``location``.

    Example:
        >>> with Azurite(tmp_path / "azurite") as server:      # doctest: +SKIP
        ...     server.create_container("lake")
        ...     server.endpoint                                  # http://127.0.0.1:P/devstoreaccount1
    """

    def __init__(self, location: Path) -> None:
        self.location = Path(location)
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self.log = self.location.parent / f"{self.location.name}.log"

    @property
    def endpoint(self) -> str:
        """The account's path-style blob endpoint (what a connection's ``endpoint`` takes)."""
        return f"http://127.0.0.1:{self.port}/{ACCOUNT}"

    def start(self) -> Azurite:
        binary = azurite_binary()
        self.location.mkdir(parents=True, exist_ok=True)
        for _attempt in range(3):  # another process may take the free port first
            self.port = free_port()
            with open(self.log, "wb") as log:
                self.process = subprocess.Popen(
                    [str(binary), "--blobHost", "127.0.0.1", "--blobPort", str(self.port),
                     "--location", str(self.location), "--skipApiVersionCheck", "--loose"],
                    stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                    start_new_session=True)
            if self._wait_ready():
                return self
            self.stop()
        raise RuntimeError(f"Azurite did not start within {START_TIMEOUT:g} s: "
                           f"{self.log.read_text(errors='replace')[-2000:]}")

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                return False
            try:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                connection.request("GET", f"/{ACCOUNT}?comp=list")
                connection.getresponse().read()  # any answer: 403 without credentials
                connection.close()
                return True
            except OSError:
                time.sleep(0.1)
        return False

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        kill_process_tree(process)

    def __enter__(self) -> Azurite:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def create_container(self, name: str) -> None:
        """Create the container ``name`` (pyarrow's AzureFileSystem creates containers)."""
        import pyarrow.fs as pafs

        fs = pafs.AzureFileSystem(
            ACCOUNT, account_key=KEY, blob_storage_authority=f"127.0.0.1:{self.port}",
            dfs_storage_authority=f"127.0.0.1:{self.port}", blob_storage_scheme="http",
            dfs_storage_scheme="http")
        fs.create_dir(name)

    def storage_options(self) -> dict[str, str]:
        """delta-rs options to read what the tests wrote, independently of odibi."""
        return {"account_name": ACCOUNT, "account_key": KEY,
                "azure_storage_endpoint": self.endpoint, "allow_http": "true"}


def account_sas(*, permissions: str = "racwdl", hours: float = 2.0,
                key: str = KEY, version: str = "2021-08-06") -> str:
    """An account SAS token (blob service; service, container and object resources) for
    Azurite's account, signed with ``key``."""
    now = dt.datetime.now(dt.timezone.utc)
    start = (now - dt.timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    expiry = (now + dt.timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")
    to_sign = "\n".join([ACCOUNT, permissions, "b", "sco", start, expiry, "", "http,https",
                         version, "", ""])
    signature = base64.b64encode(hmac.new(base64.b64decode(key), to_sign.encode("utf-8"),
                                          hashlib.sha256).digest()).decode()
    return urllib.parse.urlencode({"sv": version, "ss": "b", "srt": "sco", "sp": permissions,
                                   "st": start, "se": expiry, "spr": "http,https",
                                   "sig": signature})


def sas_signature(sas: str) -> str:
    """The ``sig`` value of a SAS token (percent-decoded)."""
    return dict(urllib.parse.parse_qsl(sas))["sig"]


def connection_string(endpoint: str, *, key: str = KEY) -> str:
    return (f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={key};"
            f"BlobEndpoint={endpoint};")


# ---- a proxy that answers with storage errors ---------------------------------------------------
# It runs in its own process: delta-rs holds the GIL while it waits for an answer, so a proxy
# thread in the test process could never answer it.
CONTROL = "/__odibi_fault__"


@dataclass
class Fault:
    status: int = 503
    code: str = "ServerBusy"
    message: str = "The server is currently unable to receive requests. Please retry your " \
                   "request."


class FaultProxy:
    """A loopback HTTP proxy process in front of Azurite (``upstream_port``): requests are
    forwarded unchanged (Shared Key and SAS signatures do not cover the host), except that the
    next :meth:`fail` requests (or all of them) are answered with a storage error instead.

    ``endpoint`` is the account endpoint to give a connection.
    """

    def __init__(self, upstream_port: int, folder: Path) -> None:
        self.upstream_port = upstream_port
        self.folder = Path(folder)
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/{ACCOUNT}"

    def start(self) -> FaultProxy:
        import sys

        self.folder.mkdir(parents=True, exist_ok=True)
        port_file = self.folder / "proxy.port"
        port_file.unlink(missing_ok=True)
        with open(self.folder / "proxy.log", "wb") as log:
            self.process = subprocess.Popen(  # as a module of the repository: it imports tests.*
                [sys.executable, "-m", "tests.connections.azurite", "proxy",
                 str(self.upstream_port), str(port_file)],
                cwd=Path(__file__).resolve().parents[2], stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if port_file.exists() and port_file.read_text().strip():
                self.port = int(port_file.read_text())
                return self
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("the fault proxy did not start: "
                           + (self.folder / "proxy.log").read_text(errors="replace"))

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        kill_process_tree(process)

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def fail(self, times: int | None = 1, fault: Fault | None = None) -> None:
        """Answer the next ``times`` requests (every request: None) with ``fault``."""
        fault = fault or Fault()
        self._control("set", times="all" if times is None else str(times),
                      status=str(fault.status), code=fault.code, message=fault.message)

    def heal(self) -> None:
        self._control("set", times="0")

    @property
    def faults_served(self) -> int:
        return int(self._control("stats")["faults_served"])

    def _control(self, action: str, **params: str) -> dict[str, object]:
        import json
        import urllib.request

        url = (f"http://127.0.0.1:{self.port}{CONTROL}/{action}?"
               + urllib.parse.urlencode(params))
        with urllib.request.urlopen(url, timeout=10) as answer:
            return json.loads(answer.read())


def _serve_proxy(upstream_port: int, port_file: str) -> None:
    import json

    state: dict[str, object] = {"fault": None, "remaining": 0, "faults_served": 0,
                                "forwarded": 0}
    lock = threading.Lock()

    def take_fault() -> Fault | None:
        with lock:
            fault, remaining = state["fault"], state["remaining"]
            if fault is None or remaining == 0:
                return None
            if remaining != "all":
                state["remaining"] = int(remaining) - 1  # type: ignore[arg-type]
            state["faults_served"] = int(state["faults_served"]) + 1  # type: ignore[arg-type]
            return fault  # type: ignore[return-value]

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def _reply(self, status: int, body: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                data = b""
                while True:
                    size = int(self.rfile.readline().strip().split(b";")[0], 16)
                    if size == 0:
                        self.rfile.readline()
                        return data
                    data += self.rfile.read(size)
                    self.rfile.readline()
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _control(self) -> None:
            parsed = urllib.parse.urlsplit(self.path)
            params = dict(urllib.parse.parse_qsl(parsed.query))
            with lock:
                if parsed.path.endswith("/set"):
                    times = params.get("times", "1")
                    state["remaining"] = times if times == "all" else int(times)
                    state["fault"] = Fault(int(params.get("status", "503")),
                                           params.get("code", "ServerBusy"),
                                           params.get("message", Fault.message))
                    state["faults_served"] = 0
                answer = {k: v for k, v in state.items() if k != "fault"}
            self._reply(200, json.dumps(answer).encode(), {"Content-Type": "application/json"})

        def _handle(self) -> None:
            if self.path.startswith(CONTROL):
                return self._control()
            body = self._body()
            fault = take_fault()
            if fault is not None:
                payload = (f'<?xml version="1.0" encoding="utf-8"?><Error><Code>{fault.code}'
                           f"</Code><Message>{fault.message}</Message></Error>").encode()
                return self._reply(fault.status, payload, {"x-ms-error-code": fault.code,
                                                           "Content-Type": "application/xml"})
            upstream = http.client.HTTPConnection("127.0.0.1", upstream_port, timeout=30)
            headers = {k: v for k, v in self.headers.items()
                       if k.lower() not in ("transfer-encoding", "connection", "content-length")}
            if body or self.command in ("PUT", "POST"):
                headers["Content-Length"] = str(len(body))
            upstream.request(self.command, self.path, body=body or None, headers=headers)
            answer = upstream.getresponse()
            data = answer.read()
            upstream.close()
            with lock:
                state["forwarded"] = int(state["forwarded"]) + 1  # type: ignore[arg-type]
            self.send_response(answer.status, answer.reason)
            for key, value in answer.getheaders():
                if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                    self.send_header(key, value)
            length = answer.getheader("Content-Length") if self.command == "HEAD" \
                else str(len(data))
            self.send_header("Content-Length", length or "0")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = do_PATCH = _handle

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    temp = port_file + ".tmp"
    with open(temp, "w") as handle:
        handle.write(str(server.server_address[1]))
    os.replace(temp, port_file)
    server.serve_forever()


if __name__ == "__main__":
    import sys

    if sys.argv[1:2] == ["proxy"]:
        _serve_proxy(int(sys.argv[2]), sys.argv[3])
