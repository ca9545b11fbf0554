"""One run at a time consumes a node's incremental window.

A node whose read keeps state — a stateful ``read.incremental`` (its high-water mark), a
``read.change_feed`` (the last version consumed) — or that keeps only the rows newer than its
own target (``materialized: incremental``) reads that state at the start of its run and moves
it only once its write committed. Two runs of the node at the same time would start from the
same state and both write the rows after it. So a run holds the node's *window lock* from
before the state is read (and before the recovery of a crashed run, which may save a mark)
until after the new state is saved: a second run waits for the first, then starts from the
state the first one left and reads only what came after it.

Why wait rather than fail: checking the mark again under the target lock and failing the
later run would make that run fail every time two runs overlap (its window is stale the moment
the first run commits), only to be retried and read again; waiting gives the same outcome in
one attempt, which is what a scheduler's "one active run per task" or a database's row lock
does. The wait is bounded (:data:`WINDOW_LOCK_TIMEOUT_SECONDS`), and its error names the
node and the run holding the window. The lock is ``flock`` on a file of its own under
``<system>/locks/`` (not the target lock: ``flock`` belongs to an open file, so a process
taking the target lock twice would wait for itself), released by the kernel when its holder
dies, so a crashed run never blocks the next one.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from odibi_core.errors import TransientError
from odibi_core.faults import pause_point
from odibi_core.file_lock import exclusive_lock, lock_holder

__all__ = ["WINDOW_LOCK_TIMEOUT_SECONDS", "holds_window", "window_lock", "window_lock_path"]

# A waiting run waits at most this long for the other run of the node to finish.
WINDOW_LOCK_TIMEOUT_SECONDS = 3600.0


def holds_window(node: Any) -> bool:
    """The node keeps a window state that its write moves: a stateful incremental read, a
    change feed read, or ``materialized: incremental``."""
    if node.write is None or node.is_streaming:
        return False
    read = node.read
    return node.materialized == "incremental" or (read is not None and (
        read.change_feed is not None
        or (read.incremental is not None and read.incremental.mode == "stateful")))


def window_lock_path(system_root: Path, pipeline: str, node: str) -> Path:
    """The lock file of node ``pipeline.node``'s window."""
    return Path(system_root) / "locks" / f"window.{pipeline}.{node}.lock"


@contextmanager
def window_lock(system_root: Path, pipeline: str, node: str, *, run_id: str,
                timeout: float | None = None) -> Iterator[None]:
    """Hold node ``pipeline.node``'s window for the ``with`` block (see the module).

    Raises:
        TransientError: another run held it for ``timeout`` seconds (default
            :data:`WINDOW_LOCK_TIMEOUT_SECONDS`); the message names that run.
    """
    path = window_lock_path(system_root, pipeline, node)
    limit = WINDOW_LOCK_TIMEOUT_SECONDS if timeout is None else timeout
    holder = (f"run {run_id} (pid {os.getpid()} on {socket.gethostname()}, since "
              f"{datetime.now(timezone.utc).isoformat(timespec='seconds')})")
    key = f"{pipeline}.{node}"
    acquired = False
    try:
        with exclusive_lock(path, timeout=limit, what=f"the window of node {key}",
                            holder=holder, on_wait=lambda: pause_point("window_lock_wait")):
            acquired = True
            yield
    except TransientError:
        if acquired:  # raised inside the block: not the lock's
            raise
        other = lock_holder(path) or "a run that did not say which"
        raise TransientError(
            f"Node {key}: another run of this node, {other}, has been reading and writing "
            f"its incremental window for more than {limit:.0f} s; this run waited for it so "
            "as not to read the same rows twice.",
            fix="Let that run finish (or stop it), then run this node again: its window is "
                f"unchanged. The lock is {path}; it is released when its holder ends.",
            node=key) from None
