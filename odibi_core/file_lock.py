"""An exclusive lock between processes on one machine: ``flock`` on a file.

The kernel releases it when the holder dies (even by ``kill -9``), so a crashed writer never
leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from odibi_core.errors import TransientError

__all__ = ["exclusive_lock", "lock_holder"]

log = logging.getLogger(__name__)


@contextmanager
def exclusive_lock(path: Path, *, timeout: float | None = None, what: str = "",
                   holder: str | None = None,
                   on_wait: Callable[[], None] | None = None) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if missing) for the ``with`` block.

    ``holder`` (who holds it, in words) is written into the lock file once the lock is taken,
    for a waiting process to name (:func:`lock_holder`); ``on_wait`` is called once when the
    lock is taken by another process and this one starts waiting.

    Raises:
        TransientError: ``timeout`` seconds passed without getting the lock (another process
            holds it); retrying later is the remedy.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:  # say so once: a wait shows in the log, not as a silent hang
            log.info("Waiting for the lock on %s: another process holds it.", what or path)
            if on_wait is not None:
                on_wait()
            _wait(handle, path, timeout, what)
        if holder is not None:
            handle.truncate(0)
            handle.write(holder)
            handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def lock_holder(path: Path) -> str | None:
    """What the current holder of the lock on ``path`` wrote about itself (None: nothing)."""
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return text or None


def _wait(handle: object, path: Path, timeout: float | None, what: str) -> None:
    if timeout is None:
        fcntl.flock(handle, fcntl.LOCK_EX)
        return
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() > deadline:
                raise TransientError(
                    f"Waited {timeout:.0f} s for the lock on {what or path}: another "
                    "process is still writing.",
                    fix="Retry when the other run has finished.") from None
            time.sleep(0.05)
