"""Exactly-once writes: one batch is committed once, whatever crashed or ran twice.

The write of a node runs under a lock on its target (``<system>/locks/``, ``flock``: released by
the kernel when the holder dies) and goes:

1. resolve what a crashed writer left ``pending`` in the node's ledger (:func:`recover`);
2. ``append``: skip when the batch is already committed — on Delta the table's own transaction
   record ``transaction_version(app_id) >= version`` (the writer must check: delta-rs commits a
   duplicate happily), on files the ledger; ``overwrite`` with ``skip_if_unchanged``: skip when
   the last write was the same batch with the same node definition and the target is as that
   write left it;
3. record the batch ``pending``; write, the batch marker travelling in the same commit
   (Delta transaction identifier; the batch token in every part file's name);
4. record it ``committed``; save the high-water mark; record the mark saved.

The entry also records the node's mark as it stood before the write (``hwm_before``), so that
a rollback of the run puts it back. An ``append`` of no rows to a target that exists already
commits nothing (no empty Delta version, no empty part file): the write is reported skipped
(``no_rows``) and recorded ``skipped`` in the ledger. A first append still creates the target,
so that nodes downstream find its schema.

A crash between any two steps leaves a state the next writer resolves: a pending Delta append
whose transaction is in the log was committed (its mark is saved now); a pending file append is
removed part by part and written again; a committed batch whose mark was not saved gets it saved.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from odibi_core.engines.delta_io import storage_errors
from odibi_core.engines.file_layout import remove_batch_parts
from odibi_core.errors import DataError
from odibi_core.exactly_once.identity import BatchIdentity, app_id_for, source_state
from odibi_core.exactly_once.ledger import BatchLedger, LedgerEntry
from odibi_core.faults import crash_point
from odibi_core.file_lock import exclusive_lock
from odibi_core.results import WriteResult
from odibi_core.storage.locations import ResolvedLocation
from odibi_core.storage.requests import BatchMarker, WriteRequest

__all__ = ["BatchPlan", "committed_delta_version", "recover", "target_lock", "write_batch"]

LOCK_TIMEOUT_SECONDS = 600.0


@dataclass(frozen=True)
class BatchPlan:
    """Everything the guarded write of one node needs besides the frame and the request."""

    project: str
    node_key: str
    identity: BatchIdentity
    run_id: str
    system_root: Path
    ledger: BatchLedger
    save_mark: Callable[[dict[str, Any]], None]  # saves a high-water mark (its JSON form)
    hwm: dict[str, Any] | None = None
    load_mark: Callable[[], dict[str, Any] | None] | None = None  # the mark saved now
    is_empty: Callable[[], bool] | None = None  # whether the frame to write has no rows
    skip_if_unchanged: bool = False
    config_hash: str | None = None


def target_lock(system_root: Path, location: ResolvedLocation) -> Any:
    """The lock every odibi writer of ``location`` (sharing this ``system``) takes."""
    digest = hashlib.sha256(location.uri.rstrip("/").encode("utf-8")).hexdigest()[:24]
    return exclusive_lock(Path(system_root) / "locks" / f"{digest}.lock",
                          timeout=LOCK_TIMEOUT_SECONDS, what=location.display)


def committed_delta_version(location: ResolvedLocation, app_id: str) -> int | None:
    """The version of ``app_id`` recorded in the Delta table at ``location`` (None: none, or
    no table yet)."""
    from deltalake import DeltaTable

    if location.is_local and os.path.isfile(location.uri):
        raise DataError(f"{location.display} is a file, where a Delta table (a folder) goes.",
                        fix="Remove or move the file, or write to another path.")

    options = dict(location.storage_options) or None
    with storage_errors(location, "write"):  # remote: a missing container says so
        if not DeltaTable.is_deltatable(location.uri, storage_options=options):
            return None
        return DeltaTable(location.uri, storage_options=options).transaction_version(app_id)


def recover(ledger: BatchLedger, location: ResolvedLocation, fmt: str,
            save_mark: Callable[[dict[str, Any]], None]) -> list[str]:
    """Resolve what a crashed writer of this node left behind; returns what was done, in
    words (for the story). Call under :func:`target_lock`."""
    done: list[str] = []
    for entry in ledger.pending():
        if fmt == "delta" and entry.token and _delta_has(location, entry.app_id, entry.version):
            ledger.settle(entry.batch_id, entry.version, "committed",
                          target_state=source_state(location, fmt))
            done.append(f"batch {entry.batch_id} of run {entry.run_id} was committed before "
                        "its writer stopped")
            continue
        removed = remove_batch_parts(location, entry.token) if fmt != "delta" and entry.token \
            else []
        ledger.settle(entry.batch_id, entry.version, "abandoned")
        done.append(f"batch {entry.batch_id} of run {entry.run_id} had not been committed"
                    + (f"; removed {len(removed)} half-published part file(s)" if removed else ""))
    for entry in ledger.unsaved_marks():
        assert entry.hwm is not None
        save_mark(entry.hwm)
        ledger.settle(entry.batch_id, entry.version, "committed", hwm_saved=True)
        done.append(f"saved the high-water mark of committed batch {entry.batch_id}")
    return done


def write_batch(write: Callable[[WriteRequest], WriteResult], request: WriteRequest,
                plan: BatchPlan) -> WriteResult:
    """Write one batch exactly once with ``write`` (the engine's write), as the module says."""
    location, fmt, mode = request.location, request.format, request.mode
    batch_id = plan.identity.batch_id
    ledger = plan.ledger
    with target_lock(plan.system_root, location):
        recover(ledger, location, fmt, plan.save_mark)
        version = ledger.generation(batch_id)
        marker = BatchMarker(batch_id, app_id_for(plan.project, plan.node_key, batch_id),
                             version)
        transaction = f"{marker.app_id}@{marker.version}"
        if mode == "append":
            if _already_committed(ledger, location, fmt, marker):
                return _skipped(request, batch_id, "duplicate_batch", transaction)
            request = replace(request, marker=marker)
        elif mode == "overwrite" and plan.skip_if_unchanged and _unchanged(ledger, location,
                                                                           fmt, plan):
            return _skipped(request, batch_id, "unchanged", None)
        state_before, mark_before = source_state(location, fmt), _mark_before(plan)
        entry = LedgerEntry(
            batch_id=batch_id, app_id=marker.app_id, version=version, status="pending",
            mode=mode, format=fmt, target=location.display, run_id=plan.run_id, at=_now(),
            token=marker.token if request.marker is not None else "",
            config_hash=plan.config_hash, hwm=plan.hwm, state_before=state_before,
            node=plan.node_key, **mark_before)
        if _empty_append(request, state_before, plan):
            if plan.hwm is not None and plan.hwm != mark_before.get("hwm_before"):
                plan.save_mark(plan.hwm)  # rows were read and none kept: not read again
            ledger.record_skip(replace(entry, status="skipped", token="", rows=0,
                                       hwm_saved=plan.hwm is not None))
            return _skipped(request, batch_id, "no_rows", None)
        ledger.begin(entry)
        crash_point("before_commit")
        result = write(request)
        crash_point("after_commit")
        if result.skipped is not None:  # the engine created nothing (no rows of unknown types)
            if plan.hwm is not None:
                plan.save_mark(plan.hwm)
            ledger.settle(batch_id, version, "skipped", rows=0, token="",
                          hwm_saved=plan.hwm is not None)
            return replace(result, batch_id=batch_id, transaction=None)
        ledger.settle(batch_id, version, "committed", delta_version=result.delta_version,
                      rows=result.rows_written, target_state=source_state(location, fmt))
        if plan.hwm is not None:
            plan.save_mark(plan.hwm)
            ledger.settle(batch_id, version, "committed", hwm_saved=True)
        crash_point("after_hwm")
    return replace(result, batch_id=batch_id,
                   transaction=transaction if request.marker is not None else None)


def _mark_before(plan: BatchPlan) -> dict[str, Any]:
    """The ledger facts on the node's mark before this write: only a write that saves a mark
    records it (a rollback puts it back)."""
    if plan.hwm is None or plan.load_mark is None:
        return {}
    return {"hwm_before": plan.load_mark(), "hwm_before_recorded": True}


def _empty_append(request: WriteRequest, state_before: dict[str, Any] | None,
                  plan: BatchPlan) -> bool:
    """An append of no rows to a target that exists: it would commit an empty version (or an
    empty part file) and nothing else. A batch that replaces rows, or a first write (which
    creates the target with its schema), is written all the same."""
    if request.mode != "append" or request.replace_batch is not None or plan.is_empty is None:
        return False
    if state_before is None or ("files" in state_before and not state_before["files"]):
        return False
    return plan.is_empty()


def _already_committed(ledger: BatchLedger, location: ResolvedLocation, fmt: str,
                       marker: BatchMarker) -> bool:
    if fmt == "delta":
        return _delta_has(location, marker.app_id, marker.version)
    return ledger.committed(marker.batch_id, marker.version) is not None


def _delta_has(location: ResolvedLocation, app_id: str, version: int) -> bool:
    recorded = committed_delta_version(location, app_id)
    return recorded is not None and recorded >= version


def _unchanged(ledger: BatchLedger, location: ResolvedLocation, fmt: str,
               plan: BatchPlan) -> bool:
    last = ledger.last_committed()
    return (last is not None and last.mode == "overwrite"
            and last.batch_id == plan.identity.batch_id
            and last.config_hash == plan.config_hash
            and last.target_state is not None
            and last.target_state == source_state(location, fmt))


def _skipped(request: WriteRequest, batch_id: str, why: str,
             transaction: str | None) -> WriteResult:
    location = request.location
    version = None
    if request.format == "delta":
        state = source_state(location, "delta")
        version = state.get("version") if state else None
    return WriteResult(connection=location.connection, format=request.format,
                       mode=request.mode, location=location.redact(location.uri),
                       rows_written=0, delta_version=version, files_written=0,
                       batch_id=batch_id, skipped=why, transaction=transaction)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")
