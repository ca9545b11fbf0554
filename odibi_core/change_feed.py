"""A node's ``read.change_feed``: which versions of the Delta table's change data feed a run
reads, and the state that remembers what was consumed (SPEC §4).

The first run starts at ``starting_version`` or ``starting_timestamp``. The node's state is a
:class:`~odibi_core.incremental.HighWaterMark` on ``_commit_version`` in the same
:class:`~odibi_core.incremental.HwmStore` as a stateful incremental read, so later runs start
after the last version consumed. The run's :class:`~odibi_core.incremental.IncrementalWindow`
(mode ``change_feed``) carries the new mark to the node's write, which commits it only after
the write itself committed (``exactly_once``); its lower bound (the last version consumed)
is part of the batch identity, so each range of versions is one batch and a rerun after a
crash appends nothing twice. A failed run leaves the state where it was.
"""

from __future__ import annotations

from typing import Any

from odibi_core.engines.base import Engine
from odibi_core.incremental import HighWaterMark, HwmStore, IncrementalWindow
from odibi_core.storage.requests import ChangeFeedRead, Frame
from odibi_core.transforms.builtins.sql_text import quote_identifier

__all__ = ["VERSION_COLUMN", "change_feed_read", "change_feed_window", "last_consumed"]

VERSION_COLUMN = "_commit_version"
MARK_TYPE = "int64"  # the logical type of Delta's bigint _commit_version


def last_consumed(store: HwmStore, pipeline: str, node: str) -> HighWaterMark | None:
    """The node's state: the last change feed version it consumed (None: never, or the state
    belongs to another kind of read)."""
    mark = store.load(pipeline, node)
    if mark is None or mark.column != VERSION_COLUMN or mark.value is None:
        return None
    return mark


def change_feed_read(config: Any, previous: HighWaterMark | None, *,
                     ending_version: int | None) -> ChangeFeedRead:
    """The versions this run reads: after ``previous`` (the last consumed), or from the
    configured start on a first run; up to ``ending_version`` (the table's version the batch
    identity names; None: the latest)."""
    if previous is not None:
        return ChangeFeedRead(starting_version=int(previous.value) + 1,
                              ending_version=ending_version)
    stamp = config.starting_timestamp
    return ChangeFeedRead(
        starting_version=config.starting_version,
        starting_timestamp=stamp.isoformat() if stamp is not None else None,
        ending_version=ending_version)


def change_feed_window(engine: Engine, frame: Frame,
                       previous: HighWaterMark | None) -> IncrementalWindow:
    """What this run consumed: the versions after ``previous``; its mark is the largest
    ``_commit_version`` read, or ``previous`` when nothing new was."""
    newest = engine.aggregate(frame, {"v": f"max({quote_identifier(VERSION_COLUMN)})"})["v"]
    pending = HighWaterMark(VERSION_COLUMN, int(newest), MARK_TYPE) if newest is not None \
        else previous
    return IncrementalWindow("change_feed", VERSION_COLUMN,
                             previous.value if previous is not None else None, pending)
