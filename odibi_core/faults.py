"""Named crash and pause points for the tests of exactly-once writes.

When the environment variable ``ODIBI_CRASH_AT`` names a point, the process kills itself with
SIGKILL there: no ``finally``, no ``atexit``, exactly like ``kill -9`` from outside, but at a
known step of the write. Unset (always, outside those tests), a point does nothing.

Crash points, in the order a write passes them: ``before_commit`` (the batch is recorded as
pending, nothing written), ``after_commit`` (the data is committed; neither the ledger nor the
high-water mark knows), ``after_hwm`` (ledger and mark saved; the run has not ended).

Pause points order processes without sleeps; every crash point is also one. When
``ODIBI_PAUSE_DIR`` names a folder, a process passing a pause point writes its pid into
``<dir>/<point>.reached``; when ``ODIBI_PAUSE_AT`` also names that point, it then waits there
until ``<dir>/<point>.release`` exists (at most :data:`PAUSE_TIMEOUT_SECONDS`), so that a test
can act on a process it knows is at that point (kill its parent, start a second run). Points
besides the crash points: ``after_read`` (a node read its input and took its incremental
window; nothing written), ``before_write`` (the output is ready for the write;
``materialized: incremental`` kept the rows newer than the target), ``window_lock_wait`` (a
node found another run of it holding its incremental window and is about to wait).
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

__all__ = ["CRASH_ENV", "CRASH_POINTS", "PAUSE_DIR_ENV", "PAUSE_ENV", "PAUSE_POINTS",
           "crash_point", "pause_point"]

CRASH_ENV = "ODIBI_CRASH_AT"
PAUSE_ENV = "ODIBI_PAUSE_AT"
PAUSE_DIR_ENV = "ODIBI_PAUSE_DIR"
CRASH_POINTS = ("before_commit", "after_commit", "after_hwm")
PAUSE_POINTS = ("after_read", "before_write", "window_lock_wait", *CRASH_POINTS)
PAUSE_TIMEOUT_SECONDS = 120.0


def crash_point(name: str) -> None:
    """Pause here (see :func:`pause_point`); kill this process with SIGKILL when
    ``ODIBI_CRASH_AT`` is ``name``."""
    pause_point(name)
    if os.environ.get(CRASH_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)


def pause_point(name: str) -> None:
    """Say that this process reached ``name`` and, when ``ODIBI_PAUSE_AT`` is ``name``, wait
    for the test to release it (only when ``ODIBI_PAUSE_DIR`` is set)."""
    folder = os.environ.get(PAUSE_DIR_ENV)
    if not folder:
        return
    Path(folder).mkdir(parents=True, exist_ok=True)
    reached = Path(folder, f"{name}.reached")
    partial = reached.with_name(f".{reached.name}.{os.getpid()}")
    partial.write_text(str(os.getpid()), encoding="utf-8")
    os.replace(partial, reached)  # a reader sees the pid whole, or no file
    if os.environ.get(PAUSE_ENV) != name:
        return
    release = Path(folder, f"{name}.release")
    deadline = time.monotonic() + PAUSE_TIMEOUT_SECONDS
    while not release.exists():
        if time.monotonic() > deadline:
            raise RuntimeError(f"Pause point {name}: {release} did not appear within "
                               f"{PAUSE_TIMEOUT_SECONDS:.0f} s.")
        time.sleep(0.05)
