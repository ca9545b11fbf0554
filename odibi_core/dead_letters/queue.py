"""A node's read with a dead-letter queue: read, set malformed records aside, enforce
``max_bad_fraction``.

Dead letters are written to the destination even when the read then fails above
``max_bad_fraction``: the message says what failed, the destination shows every record and why.
Such a batch is stored with ``_batch_status = 'failed'`` and is never replayed (its valid records
were not loaded either); reading the same files again replaces it.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from odibi_core.dead_letters.model import DeadLetterBatch
from odibi_core.dead_letters.store import DeadLetterStore
from odibi_core.errors import DataError
from odibi_core.results import DeadLetterResult

if TYPE_CHECKING:
    from odibi_core.config.node import DeadLetterConfig
    from odibi_core.connections.base import Connection
    from odibi_core.engines.base import Engine
    from odibi_core.storage.requests import Frame, ReadRequest

__all__ = ["check_bad_fraction", "read_with_dead_letter_queue", "summarize_batch"]

_SAMPLES = 5
_FILES_SHOWN = 5


def read_with_dead_letter_queue(engine: Engine, request: ReadRequest,
                                dead_letter: DeadLetterConfig, connection: Connection, *,
                                batch_id: str | None = None, dry_run: bool = False,
                                at: dt.datetime | None = None) -> tuple[Frame, DeadLetterResult]:
    """Read ``request``, writing malformed records to the ``dead_letter`` destination.

    Args:
        engine: the node's engine.
        request: the node's read (``node`` set to ``pipeline.node`` for messages).
        dead_letter: the node's ``read.dead_letter`` block.
        connection: the connection ``dead_letter.connection`` names, resolved by the caller.
        batch_id: the batch's id; by default a fingerprint of the node and its source files
            (paths, sizes, mtimes), so a re-read replaces its dead letters.
        dry_run: count and check, but write nothing (``written`` is 0).
        at: the ``_dead_lettered_at`` stamp (default: now, UTC).

    Returns:
        The valid records as the engine's frame, and the counts for the node's result.

    Raises:
        DataError: dead letters / all records is above ``max_bad_fraction`` (after the dead
            letters were written), or the read itself fails.

    Example:
        >>> frame, dlq = read_with_dead_letter_queue(                # doctest: +SKIP
        ...     engine, request, node.read.dead_letter, runner.connection("lake"))
        >>> dlq.bad_records, dlq.destination                         # doctest: +SKIP
        (2, 'lake:_dlq/orders')
    """
    frame, batch = engine.read_with_dead_letters(request, batch_id=batch_id)
    store = DeadLetterStore.from_config(dead_letter, connection)
    limit = dead_letter.max_bad_fraction
    failing = limit is not None and batch.bad_fraction > limit
    written = 0 if dry_run else store.write_batch(
        batch, status="failed" if failing else "loaded", at=at)
    check_bad_fraction(batch, limit, destination=store.display, node=request.node)
    return frame, summarize_batch(batch, destination=store.display, written=written,
                                  max_bad_fraction=limit)


def check_bad_fraction(batch: DeadLetterBatch, max_bad_fraction: float | None, *,
                       destination: str, node: str | None = None) -> None:
    """Fail when the batch's dead letters / all records is above ``max_bad_fraction``.

    Raises:
        DataError: naming the files, the counts and the fix.
    """
    if max_bad_fraction is None or batch.bad_fraction <= max_bad_fraction:
        return
    by_file = batch.bad_by_file()
    files = ", ".join(f"{path} ({count})" for path, count in list(by_file.items())[:_FILES_SHOWN])
    if len(by_file) > _FILES_SHOWN:
        files += f" and {len(by_file) - _FILES_SHOWN} more"
    first = batch.dead_letters[0]
    raise DataError(
        f"{batch.bad_records} of {batch.records_read} records "
        f"({batch.bad_fraction:.1%}) could not be read, above read.dead_letter."
        f"max_bad_fraction {max_bad_fraction:g}. Dead letters per file: {files}. First: "
        f"{first.source_file} line {first.line}: {first.error}. The dead letters of this batch "
        f"({batch.batch_id}) are in {destination}.",
        fix="Fix the source file(s) or the read options (sep, quote, encoding, schema) and run "
            "again, or raise read.dead_letter.max_bad_fraction to accept this many.",
        node=node,
    )


def summarize_batch(batch: DeadLetterBatch, *, destination: str, written: int,
                    max_bad_fraction: float | None = None) -> DeadLetterResult:
    """The counts of ``batch`` as a JSON-safe result, with the first few dead letters (file,
    line, error; never the raw text)."""
    return DeadLetterResult(
        batch_id=batch.batch_id, rows_read=batch.records_read, bad_records=batch.bad_records,
        bad_fraction=round(batch.bad_fraction, 6), destination=destination, written=written,
        max_bad_fraction=max_bad_fraction,
        samples=tuple({"source_file": d.source_file, "line": d.line, "error": d.error}
                      for d in batch.dead_letters[:_SAMPLES]),
    )
