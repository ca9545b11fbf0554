"""Processes the tests start (servers, browsers, clusters, `odibi run`): a free loopback port,
a bounded wait, killing a process with everything it started, and an `odibi run` of a project
that may be told to kill itself at a crash point."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

__all__ = ["ODIBI", "RUN_TIMEOUT", "free_port", "kill_process_tree", "odibi_env", "run_odibi",
           "wait_until"]

ODIBI = [sys.executable, "-m", "odibi_dagster.cli.main"]
RUN_TIMEOUT = 300  # seconds an `odibi run` of a test project may take

T = TypeVar("T")


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(predicate: Callable[[], T | None], timeout: float, *, interval: float = 0.5,
               what: str = "condition") -> T:
    """Call ``predicate`` until it returns something truthy (returned) or ``timeout`` seconds
    pass (``TimeoutError``)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{what}: not reached within {timeout:.0f} s")
        time.sleep(interval)


def _children(pid: int) -> list[int]:
    """Direct children of ``pid`` read from /proc (Linux)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...; comm may contain spaces and parentheses
        fields = stat.rsplit(")", 1)[-1].split()
        if len(fields) > 1 and int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


def kill_process_tree(proc: subprocess.Popen[Any]) -> None:
    """SIGKILL ``proc``'s process group and every descendant still alive, then reap ``proc``."""
    tree: list[int] = []
    frontier = [proc.pid]
    while frontier:
        pid = frontier.pop()
        tree.append(pid)
        frontier.extend(_children(pid))
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # started with start_new_session: pgid == pid
    except (ProcessLookupError, PermissionError):
        pass
    for pid in tree:
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass


def odibi_env(root: Path, crash_at: str | None = None) -> dict[str, str]:
    """The environment of an `odibi run` of the project in ``root``: its own Dagster home, and
    ``ODIBI_CRASH_AT`` only when ``crash_at`` names a crash point (``odibi_core.faults``)."""
    from odibi_core.faults import CRASH_ENV

    (root / "dagster_home").mkdir(exist_ok=True)
    env = {**os.environ, "DAGSTER_HOME": str(root / "dagster_home")}
    env.pop(CRASH_ENV, None)
    if crash_at is not None:
        env[CRASH_ENV] = crash_at
    return env


def run_odibi(root: Path, crash_at: str | None = None) -> subprocess.CompletedProcess[str]:
    """`odibi run <root>/odibi.yaml` in a process of its own, bounded by ``RUN_TIMEOUT``."""
    return subprocess.run([*ODIBI, "run", str(root / "odibi.yaml")], capture_output=True,
                          text=True, env=odibi_env(root, crash_at), timeout=RUN_TIMEOUT)
