"""An exclusive lock between processes on one machine: ``flock`` on a file.

The kernel releases it when the holder dies (even by ``kill -9``), so a crashed writer never
leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from odibi_core.errors import TransientError

__all__ = ["exclusive_lock"]

log = logging.getLogger(__name__)


@contextmanager
def exclusive_lock(path: Path, *, timeout: float | None = None, what: str = "") -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if missing) for the ``with`` block.

    Raises:
        TransientError: ``timeout`` seconds passed without getting the lock (another process
            holds it); retrying later is the remedy.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as handle:
        if timeout is None:
            fcntl.flock(handle, fcntl.LOCK_EX)
        else:
            deadline = time.monotonic() + timeout
            told = False
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if not told:  # once: a wait shows in the log, not as a silent hang
                        told = True
                        log.info("Waiting for the lock on %s: another process holds it.",
                                 what or path)
                    if time.monotonic() > deadline:
                        raise TransientError(
                            f"Waited {timeout:.0f} s for the lock on {what or path}: another "
                            "process is still writing.",
                            fix="Retry when the other run has finished.") from None
                    time.sleep(0.05)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
