"""Named crash points for the crash tests of exactly-once writes.

When the environment variable ``ODIBI_CRASH_AT`` names a point, the process kills itself with
SIGKILL there: no ``finally``, no ``atexit``, exactly like ``kill -9`` from outside, but at a
known step of the write. Unset (always, outside those tests), a crash point does nothing.

Points, in the order a write passes them: ``before_commit`` (the batch is recorded as pending,
nothing written), ``after_commit`` (the data is committed; neither the ledger nor the
high-water mark knows), ``after_hwm`` (ledger and mark saved; the run has not ended).
"""

from __future__ import annotations

import os
import signal

__all__ = ["CRASH_ENV", "CRASH_POINTS", "crash_point"]

CRASH_ENV = "ODIBI_CRASH_AT"
CRASH_POINTS = ("before_commit", "after_commit", "after_hwm")


def crash_point(name: str) -> None:
    """Kill this process with SIGKILL when ``ODIBI_CRASH_AT`` is ``name``."""
    if os.environ.get(CRASH_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
