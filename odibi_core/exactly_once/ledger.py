"""The write ledger: every batch a node wrote, under ``<system>/ledger/<pipeline>/<node>.json``.

An entry is recorded as ``pending`` before the write and turned ``committed`` after it. For
Delta targets the table's own transaction record is the authority and the ledger is the
report (and remembers rolled-back batches, whose Delta record RESTORE keeps); for file targets,
whose part files carry no record, the ledger is the authority. A ``pending`` entry left by a
crashed process is resolved by the next writer of the node (see ``guard.recover``).

An append that had no rows for a target that already exists commits nothing; it is recorded
``skipped`` (one entry per batch: a repeat of the same empty batch replaces it), so that the
ledger still tells what every run did, and rollback and recovery leave it alone.

An entry that carries a high-water mark also records the mark as it stood before the write
(``hwm_before``; ``hwm_before_recorded`` tells "there was none" from "not recorded"), for a
rollback to put it back.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

__all__ = ["BatchLedger", "LedgerEntry"]

EntryStatus = Literal["pending", "committed", "abandoned", "rolled_back", "skipped"]


@dataclass(frozen=True)
class LedgerEntry:
    """One write of one batch (``version`` is the batch's generation)."""

    batch_id: str
    app_id: str
    version: int
    status: EntryStatus
    mode: str
    format: str
    target: str  # shown without credentials
    run_id: str
    at: str
    token: str = ""
    delta_version: int | None = None
    rows: int | None = None
    config_hash: str | None = None
    hwm: dict[str, Any] | None = None  # the stateful mark to save once the batch is committed
    hwm_saved: bool = False
    target_state: dict[str, Any] | None = None  # the target right after the write
    state_before: dict[str, Any] | None = None  # the target right before it (None: absent)
    node: str = ""  # pipeline.node
    hwm_before: dict[str, Any] | None = None  # the node's mark before the write (None: none)
    hwm_before_recorded: bool = False


class BatchLedger:
    """The ledger of one node."""

    def __init__(self, system_root: Path, pipeline: str, node: str) -> None:
        self.path = Path(system_root) / "ledger" / pipeline / f"{node}.json"

    def entries(self) -> list[LedgerEntry]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return []
        return [LedgerEntry(**entry) for entry in data.get("entries", [])]

    def pending(self) -> list[LedgerEntry]:
        return [e for e in self.entries() if e.status == "pending"]

    def generation(self, batch_id: str) -> int:
        """The version the next write of ``batch_id`` carries: one past its last rolled-back
        generation, else its last generation (0 for a new batch)."""
        versions = [e.version for e in self.entries() if e.batch_id == batch_id]
        rolled = [e.version for e in self.entries()
                  if e.batch_id == batch_id and e.status == "rolled_back"]
        if rolled:
            return max(rolled) + 1
        return max(versions, default=0)

    def committed(self, batch_id: str, version: int) -> LedgerEntry | None:
        for entry in reversed(self.entries()):
            if entry.batch_id == batch_id and entry.version == version \
                    and entry.status == "committed":
                return entry
        return None

    def last_committed(self) -> LedgerEntry | None:
        committed = [e for e in self.entries() if e.status == "committed"]
        return committed[-1] if committed else None

    def unsaved_marks(self) -> list[LedgerEntry]:
        """Committed entries whose high-water mark was not saved (the writer died first)."""
        return [e for e in self.entries()
                if e.status == "committed" and e.hwm is not None and not e.hwm_saved]

    def begin(self, entry: LedgerEntry) -> None:
        self._save([*self.entries(), entry])

    def record_skip(self, entry: LedgerEntry) -> None:
        """Record a write that committed nothing (``entry.status`` is ``skipped``); it replaces
        the newest entry when that is the same batch skipped already (an incremental node
        with no new data, run on a schedule, does not grow its ledger)."""
        entries = self.entries()
        if entries and entries[-1].status == "skipped" \
                and entries[-1].batch_id == entry.batch_id:
            entries[-1] = entry
        else:
            entries.append(entry)
        self._save(entries)

    def settle(self, batch_id: str, version: int, status: EntryStatus, **facts: Any) -> None:
        """Set the status (and facts such as ``delta_version``) of the newest entry of the
        batch's generation."""
        entries = self.entries()
        for index in range(len(entries) - 1, -1, -1):
            entry = entries[index]
            if entry.batch_id == batch_id and entry.version == version:
                entries[index] = replace(entry, status=status, at=_now(), **facts)
                break
        self._save(entries)

    def written_by(self, run_id: str) -> list[LedgerEntry]:
        """The entries run ``run_id`` recorded, oldest first."""
        return [e for e in self.entries() if e.run_id == run_id]

    def mark_rolled_back(self, batch_id: str) -> None:
        """Free ``batch_id``: its next write is a new generation, never skipped as a
        duplicate (a Delta RESTORE keeps the old transaction record)."""
        entries = [replace(e, status="rolled_back", at=_now())
                   if e.batch_id == batch_id and e.status == "committed" else e
                   for e in self.entries()]
        self._save(entries)

    def __iter__(self) -> Iterator[LedgerEntry]:
        return iter(self.entries())

    def _save(self, entries: list[LedgerEntry]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.",
                                   suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump({"entries": [asdict(e) for e in entries]}, handle, indent=1, default=str)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.path)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")
