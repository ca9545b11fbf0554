"""Named crash and pause points for the crash tests of exactly-once writes.

When the environment variable ``ODIBI_CRASH_AT`` names a point, the process kills itself with
SIGKILL there: no ``finally``, no ``atexit``, exactly like ``kill -9`` from outside, but at a
known step of the write. When ``ODIBI_PAUSE_AT`` names it, the process stops there instead:
it writes ``paused.<pid>`` into the folder ``ODIBI_PAUSE_DIR`` names and waits until a file
``release`` appears beside it (at most :data:`PAUSE_SECONDS`), so that a test can act on a
process it knows is at that point (kill its parent, say). Unset (always, outside those tests),
a point does nothing.

Points, in the order a write passes them: ``before_commit`` (the batch is recorded as pending,
nothing written), ``after_commit`` (the data is committed; neither the ledger nor the
high-water mark knows), ``after_hwm`` (ledger and mark saved; the run has not ended).
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

__all__ = ["CRASH_ENV", "CRASH_POINTS", "PAUSE_DIR_ENV", "PAUSE_ENV", "crash_point"]

CRASH_ENV = "ODIBI_CRASH_AT"
PAUSE_ENV = "ODIBI_PAUSE_AT"
PAUSE_DIR_ENV = "ODIBI_PAUSE_DIR"
CRASH_POINTS = ("before_commit", "after_commit", "after_hwm")
PAUSE_SECONDS = 120.0


def crash_point(name: str) -> None:
    """Pause here when ``ODIBI_PAUSE_AT`` is ``name``; kill this process with SIGKILL when
    ``ODIBI_CRASH_AT`` is ``name``."""
    if os.environ.get(PAUSE_ENV) == name:
        _pause(Path(os.environ[PAUSE_DIR_ENV]))
    if os.environ.get(CRASH_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)


def _pause(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"paused.{os.getpid()}").write_text(str(os.getpid()), encoding="utf-8")
    deadline = time.monotonic() + PAUSE_SECONDS
    while not (folder / "release").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
