"""Rollback of what one run wrote (SPEC §8): every target back to its state before the run.

What a run wrote is in the write ledger (entries carry the run id and the target's state before
the write). Per target, newest write first:

- Delta: ``RESTORE`` to the version before the run's first write of it — only when nobody else
  committed after the run (else the restore would destroy their data: reported, not done). A
  table the run created is removed. The batches the run appended are marked ``rolled_back`` in
  the ledger, so that their next append is not skipped as a duplicate (RESTORE keeps the
  transaction record).
- Files: an append's part files (found by the batch token) are removed; an overwrite already
  replaced the old files and has no history: reported as not restorable.

Each target is rolled back under the locks a run of its node takes, in the same order: the
node's window (:func:`~odibi_core.window_lock.window_lock`: no run reads the mark while it moves
back) and the lock every odibi writer of the target takes
(:func:`~odibi_core.exactly_once.guard.target_lock`: no write can commit between the check
"did anybody commit after the run" and the restore).

The node's incremental state (a stateful read's high-water mark, a change-feed read's last
version) goes back with its target: to where it stood before the run's first write of it (or
removed, when there was none), so that the next run reads the rolled-back rows again. Only
then: a target that could not be restored keeps the rows, and its mark stays (moving it back
would read them again and append them twice). An incremental node whose mark a later run of
it moved on is not restored at all: that run's rows depend on the mark, and restoring the
target alone would lose the rolled-back rows for good.

A target whose restore cannot be complete is reported with what is left, and the rollback as a
whole fails loudly (``RollbackReport.complete`` is False).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Collection, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Literal

from odibi_core.change_feed import VERSION_COLUMN
from odibi_core.engines.file_layout import remove_batch_parts
from odibi_core.exactly_once.guard import target_lock
from odibi_core.exactly_once.ledger import BatchLedger, LedgerEntry
from odibi_core.incremental import HighWaterMark, HwmStore
from odibi_core.storage.locations import ResolvedLocation
from odibi_core.window_lock import window_lock

__all__ = ["RollbackReport", "TargetRollback", "rollback_run", "written_by_run"]

Outcome = Literal["restored", "removed", "not_written", "not_restorable"]


@dataclass(frozen=True)
class TargetRollback:
    """What happened to one target of a node."""

    node: str
    target: str  # shown without credentials
    format: str
    outcome: Outcome
    written_version: int | None = None
    restored_to: int | None = None
    detail: str = ""
    mark: str = ""  # what happened to the node's incremental state, in words

    def describe(self) -> str:
        if self.outcome == "not_written":
            return f"{self.node} → {self.target}: not written"
        if self.outcome == "restored" and self.written_version is not None:
            text = (f"{self.node} → {self.target}: written version {self.written_version} → "
                    f"restored to {self.restored_to}")
        else:
            text = f"{self.node} → {self.target}: {self.detail}"
        return f"{text}; {self.mark}" if self.mark else text


@dataclass(frozen=True)
class RollbackReport:
    run_id: str
    targets: tuple[TargetRollback, ...]

    @property
    def complete(self) -> bool:
        return all(t.outcome != "not_restorable" for t in self.targets)

    def lines(self) -> list[str]:
        return [t.describe() for t in self.targets]

    def to_json(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "complete": self.complete,
                "targets": [asdict(t) for t in self.targets]}


def written_by_run(system_root: Path, nodes: Sequence[tuple[str, str]],
                   run_id: str) -> dict[str, list[LedgerEntry]]:
    """The committed ledger entries of run ``run_id`` by node key, for ``nodes`` given as
    ``(pipeline, node)`` pairs."""
    found: dict[str, list[LedgerEntry]] = {}
    for pipeline, node in nodes:
        entries = [e for e in BatchLedger(system_root, pipeline, node).written_by(run_id)
                   if e.status == "committed"]
        if entries:
            found[f"{pipeline}.{node}"] = entries
    return found


def rollback_run(system_root: Path, run_id: str,
                 targets: Sequence[tuple[str, str, ResolvedLocation | None, str | None]],
                 *, streaming: Collection[str] = ()) -> RollbackReport:
    """Roll back what run ``run_id`` wrote to ``targets``: ``(pipeline, node, location,
    format)`` for every node of the run's pipelines (location None: the node writes nothing).

    The targets of ``streaming`` nodes (keys) are reported, never restored: their query's
    checkpoint has recorded the micro-batches as done, so a restored table would lose them.
    """
    outcomes: list[TargetRollback] = []
    for pipeline, node, location, fmt in targets:
        if location is None or fmt is None:
            continue
        key = f"{pipeline}.{node}"
        if key in streaming:
            outcomes.append(TargetRollback(
                key, location.display, fmt, "not_restorable",
                detail="a streaming node: its checkpoint already records the micro-batches "
                       "this run wrote, so restoring the table would lose them for good. To "
                       "reprocess its source, restore the table and remove the node's "
                       "checkpoint together (docs/streaming.md)."))
            continue
        # The node's window first, as a run takes it (no run reads the mark while it moves
        # back), then the target (no writer between the checks and the restore).
        with window_lock(system_root, pipeline, node, run_id=f"rollback of {run_id}"), \
                target_lock(system_root, location):
            outcomes.append(_roll_back_target(system_root, run_id, pipeline, node, location,
                                              fmt))
    report = RollbackReport(run_id, tuple(outcomes))
    path = Path(system_root) / "runs" / run_id / "rollback.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report.to_json(), indent=2), encoding="utf-8")
    return report


def _roll_back_target(system_root: Path, run_id: str, pipeline: str, node: str,
                      location: ResolvedLocation, fmt: str) -> TargetRollback:
    """Roll back one target and its node's incremental state (under the target's lock)."""
    key = f"{pipeline}.{node}"
    ledger = BatchLedger(system_root, pipeline, node)
    history = ledger.entries()
    entries = [e for e in history if e.run_id == run_id and e.status == "committed"]
    if not entries:
        return TargetRollback(key, location.display, fmt, "not_written")
    marked = [e for e in entries if e.hwm is not None]
    later = _later_runs(history, run_id)
    if marked and later:
        return TargetRollback(
            key, location.display, fmt, "not_restorable", detail=(
                f"run {later[0].run_id} of this incremental node committed after this run, "
                "and its high-water mark is past this run's rows: restoring the target alone "
                "would lose them for good, moving the mark back would append that run's rows "
                "twice. Roll back the later run(s) first, newest first."))
    if fmt == "delta":
        outcome = _restore_delta(key, location, entries)
    else:
        outcome = _discard_files(key, location, fmt, entries)
    if outcome.outcome not in ("restored", "removed"):
        return outcome  # the rows are still in the target: the mark stays with them
    for entry in entries:
        ledger.mark_rolled_back(entry.batch_id)
    if marked:
        return replace(outcome, mark=_restore_mark(HwmStore(system_root), pipeline, node,
                                                   marked[0]))
    return outcome


def _later_runs(history: list[LedgerEntry], run_id: str) -> list[LedgerEntry]:
    """Committed writes of other runs recorded after this run's first write."""
    first = next(i for i, e in enumerate(history) if e.run_id == run_id)
    return [e for e in history[first + 1:] if e.run_id != run_id and e.status == "committed"]


def _restore_mark(store: HwmStore, pipeline: str, node: str, first: LedgerEntry) -> str:
    """Put the node's mark back to where ``first`` (the run's first write of it that saved a
    mark) found it; returns what was done, in words."""
    label = "change feed version" if (first.hwm or {}).get("column") == VERSION_COLUMN \
        else "high-water mark"
    current = store.load(pipeline, node)
    shown = _shown(current.to_json() if current is not None else None)
    if not first.hwm_before_recorded:
        return (f"{label} left at {shown} (this write was recorded before odibi kept the "
                "previous mark: set it by hand if the rows must be read again)")
    store.restore(pipeline, node, first.hwm_before)
    if first.hwm_before is None:
        return f"{label} {shown} → none (the next run reads from the start)"
    return f"{label} {shown} → {_shown(first.hwm_before)}"


def _shown(mark: dict[str, Any] | None) -> str:
    return "none" if mark is None else str(HighWaterMark.from_json(mark).to_json()["value"])


def _restore_delta(key: str, location: ResolvedLocation,
                   entries: list[LedgerEntry]) -> TargetRollback:
    from deltalake import DeltaTable

    shown = location.display
    written = max((e.delta_version for e in entries if e.delta_version is not None),
                  default=None)
    before = (entries[0].state_before or {}).get("version")
    options = dict(location.storage_options) or None
    if not DeltaTable.is_deltatable(location.uri, storage_options=options):
        return TargetRollback(key, shown, "delta", "not_restorable", written, None,
                              "the table is gone; nothing to restore")
    table = DeltaTable(location.uri, storage_options=options)
    current = table.version()
    if written is not None and current > written:
        return TargetRollback(
            key, shown, "delta", "not_restorable", written, None,
            f"written version {written}, but the table is at version {current} now: another "
            f"writer committed after the run, and a restore would remove its data. Restore by "
            f"hand if that is right: odibi's written version {written}, before the run "
            f"{'(no table)' if before is None else before}.")
    if before is None:
        if not location.is_local:
            return TargetRollback(key, shown, "delta", "not_restorable", written, None,
                                  "the run created the table; remove it by hand (remote)")
        shutil.rmtree(location.uri)
        return TargetRollback(key, shown, "delta", "removed", written, None,
                              f"written version {written} → removed (the run created it)")
    try:
        table.restore(int(before))
    except Exception as exc:  # noqa: BLE001 - reported, and the rollback fails loudly
        return TargetRollback(
            key, shown, "delta", "not_restorable", written, None,
            f"written version {written}; restoring version {before} failed ({exc}); the files "
            "of old versions may have been vacuumed. The table is left at the run's version.")
    return TargetRollback(key, shown, "delta", "restored", written, int(before))


def _discard_files(key: str, location: ResolvedLocation, fmt: str,
                   entries: list[LedgerEntry]) -> TargetRollback:
    shown = location.display
    overwrites = [e for e in entries if not e.token]
    if overwrites:
        return TargetRollback(
            key, shown, fmt, "not_restorable", None, None,
            f"the run overwrote the {fmt} files, which keep no history: the old files are "
            "gone. Use format: delta for targets that must be restorable.")
    removed = sum(len(remove_batch_parts(location, e.token)) for e in entries)
    return TargetRollback(key, shown, fmt, "removed", None, None,
                          f"removed {removed} part file(s) the run appended")
