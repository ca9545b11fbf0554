"""``odibi doctor``'s checks of one connection in a child process, for connections whose checks
run native code that can abort the whole process.

pyarrow's Azure client (the Azure SDK for C++) ends the process with ``std::terminate`` (SIGABRT,
exit 134, nothing printed by Python) on some answers it cannot parse: a ``403`` whose body is not
a storage error (a proxy or firewall answering ``text/plain``, or a body labelled XML that is not).
No Python ``except`` can catch that, so :func:`diagnose_in_subprocess` runs the checks in
``python -m odibi_core.doctor_subprocess`` (the connection's settings on stdin, never on the
command line) and turns a crash into a failed check saying what answered, found by a plain HTTP
request to the same endpoint.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from odibi_core.connections import Check, Connection, build_connection

__all__ = ["diagnose_in_subprocess"]

_MARKER = "ODIBI-DOCTOR-CHECKS "  # the line of the child's stdout that holds the checks
_PROBE_TIMEOUT = 10.0
_BODY_SHOWN = 120
_NATIVE_PREFIX = re.compile(r"^what\(\):\s*")  # how std::terminate prints the C++ exception


def diagnose_in_subprocess(connection: Connection, config: Any, root: Path, paths: list[str],
                           timeout: float) -> list[Check]:
    """``connection.diagnose(paths)`` run in a child process, bounded by ``timeout`` seconds.

    Args:
        connection: the connection, already built here (its errors are the caller's).
        config: its config model (sent to the child, which builds the connection again).
    """
    settings = config.model_dump(by_alias=True, mode="json") if hasattr(config, "model_dump") \
        else dict(config)
    payload = json.dumps({"name": connection.name, "config": settings, "root": str(root),
                          "paths": paths})
    try:
        done = subprocess.run([sys.executable, "-m", "odibi_core.doctor_subprocess"],
                              input=payload, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return [Check("reachable", False, f"no answer within {timeout:g} s")]
    for line in reversed(done.stdout.splitlines()):
        if done.returncode == 0 and line.startswith(_MARKER):
            return [Check(c["name"], c["ok"], c["detail"])
                    for c in json.loads(line[len(_MARKER):])]
    return [Check("reachable", False, _crash_detail(connection, done))]


def _crash_detail(connection: Connection, done: subprocess.CompletedProcess[str]) -> str:
    """What to tell the user when the checks' process died: the native error, and what the
    endpoint answers to a plain request."""
    code = done.returncode
    lines = [line.strip() for line in done.stderr.splitlines() if line.strip()]
    said = f" ({_NATIVE_PREFIX.sub('', lines[-1])})" if lines else ""
    if code >= 0:  # not a crash: a Python error before or around the checks
        return f"the checks' process exited with {code}{said}"
    detail = f"the storage client was killed by {_signal_name(-code)}{said} on the endpoint's " \
             "answer"
    answer = _plain_answer(connection)
    if answer:
        detail += f"; {answer}: not an Azure Storage answer (a proxy, a firewall or a wrong " \
                  "endpoint in the way?)"
    return detail + f". Check connections.{connection.name}.endpoint and the network path to " \
                    "the account."


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _plain_answer(connection: Connection) -> str | None:
    """How the container listing URL of ``connection`` answers an unauthenticated GET, e.g.
    ``HTTP 403 text/plain 'Forbidden by proxy'`` (None when that is not known)."""
    endpoint = getattr(connection, "endpoint", None) or (
        f"https://{getattr(connection, 'account_name', '')}.blob.core.windows.net")
    url = f"{endpoint.rstrip('/')}/{getattr(connection, 'container', '')}" \
          "?restype=container&comp=list&maxresults=1"
    try:
        with urllib.request.urlopen(url, timeout=_PROBE_TIMEOUT) as response:
            status, kind, body = response.status, response.headers.get("Content-Type"), \
                response.read(_BODY_SHOWN)
    except urllib.error.HTTPError as exc:
        with exc:
            status, kind, body = exc.code, exc.headers.get("Content-Type"), exc.read(_BODY_SHOWN)
    except (urllib.error.URLError, OSError, ValueError):
        return None
    text = " ".join(body.decode("utf-8", errors="replace").split())
    return f"{endpoint} answers HTTP {status} {kind or 'without a content type'} " \
           f"{json.dumps(text)}"


def _child() -> None:
    request = json.load(sys.stdin)
    connection = build_connection(request["name"], request["config"], Path(request["root"]))
    try:
        checks = connection.diagnose(request["paths"])
    except Exception as exc:  # noqa: BLE001 - a bug in a check is a failed check, not a crash
        lines = str(exc).strip().splitlines()
        checks = [Check("reachable", False, f"{type(exc).__name__}: {lines[0] if lines else ''}")]
    print(_MARKER + json.dumps([{"name": c.name, "ok": c.ok, "detail": c.detail}
                                for c in checks]), flush=True)


if __name__ == "__main__":
    _child()
