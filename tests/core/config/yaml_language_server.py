"""The YAML language server (npm ``yaml-language-server``, what VS Code's YAML extension runs),
driven over stdio as an editor drives it: open a document, read the diagnostics it publishes.

Installed from the npm registry into ``.ci/node`` on first use, like Azurite
(tests/npm_tools.py).
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import time
from pathlib import Path
from typing import Any

from tests.npm_tools import npm_binary

VERSION = "2.0.0"  # keep in step with .ci/run
TIMEOUT = 60.0


def server_binary() -> Path:
    """``yaml-language-server`` from ``.ci/node``, installed with npm on first use."""
    return npm_binary("yaml-language-server", VERSION, "yaml-language-server")


class YamlLanguageServer:
    """One server process; :meth:`diagnostics` opens a document and returns what it reports."""

    def __init__(self) -> None:
        self.process = subprocess.Popen([str(server_binary()), "--stdio"], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self._buffer = b""
        self._next_id = 0
        self._opened = 0
        self._request("initialize", {"processId": os.getpid(), "rootUri": None,
                                     "capabilities": {}})
        self._notify("initialized", {})
        self._notify("workspace/didChangeConfiguration",
                     {"settings": {"yaml": {"validate": True, "hover": True}}})

    def __enter__(self) -> YamlLanguageServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.process.kill()
        self.process.wait(timeout=10)

    def diagnostics(self, path: Path, text: str) -> list[tuple[int, str]]:
        """``(line, message)`` of each problem in ``text``, opened as a new document beside
        ``path`` (nothing is written: a relative ``$schema`` resolves from the folder)."""
        self._opened += 1
        uri = path.resolve().with_name(f"{path.stem}.{self._opened}{path.suffix}").as_uri()
        self._notify("textDocument/didOpen", {"textDocument": {
            "uri": uri, "languageId": "yaml", "version": 1, "text": text}})
        message = self._wait(lambda m: m.get("method") == "textDocument/publishDiagnostics"
                             and m["params"]["uri"] == uri)
        return [(d["range"]["start"]["line"] + 1, d["message"])
                for d in message["params"]["diagnostics"]]

    def _request(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        self._next_id += 1
        number = self._next_id
        self._send({"jsonrpc": "2.0", "id": number, "method": method, "params": params})
        return self._wait(lambda m: m.get("id") == number and "method" not in m)

    def _notify(self, method: str, params: dict[str, Any]) -> None:
        self._send({"jsonrpc": "2.0", "method": method, "params": params})

    def _send(self, message: dict[str, Any]) -> None:
        body = json.dumps(message).encode()
        assert self.process.stdin is not None
        self.process.stdin.write(f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        self.process.stdin.flush()

    def _wait(self, wanted: Any) -> dict[str, Any]:
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            message = self._read(deadline)
            if message is not None and wanted(message):
                return message
        raise TimeoutError(f"yaml-language-server did not answer within {TIMEOUT:.0f} s")

    def _read(self, deadline: float) -> dict[str, Any] | None:
        assert self.process.stdout is not None
        while b"\r\n\r\n" not in self._buffer or len(self._body()) < self._length():
            ready, _, _ = select.select([self.process.stdout], [], [],
                                        max(0.0, deadline - time.monotonic()))
            if not ready:
                return None
            chunk = os.read(self.process.stdout.fileno(), 65536)
            if not chunk:
                raise RuntimeError("yaml-language-server exited")
            self._buffer += chunk
        length = self._length()
        body = self._body()
        self._buffer = body[length:]
        return json.loads(body[:length])

    def _length(self) -> int:
        header = self._buffer.split(b"\r\n\r\n", 1)[0].decode()
        return int(next(line.split(":")[1] for line in header.split("\r\n")
                        if line.lower().startswith("content-length")))

    def _body(self) -> bytes:
        return self._buffer.split(b"\r\n\r\n", 1)[1]
