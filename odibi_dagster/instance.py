"""Opening the project's Dagster instance, once and safely when several odibi commands start
at the same moment.

Dagster creates an instance's sqlite databases (run storage, event log index, schedule storage)
the first time the instance is opened, and stamps each with its alembic revision. Two processes
doing that at once race: one crashes on "table already exists", or both stamp and the database
is left with two alembic heads, which every later open refuses. Every odibi command therefore
opens the instance under a file lock in its home (``flock``: released by the kernel if the
holder dies, waited for at most :data:`INSTANCE_LOCK_SECONDS`).

An instance already broken that way (the two rows are Dagster's current head and the revision
Dagster stamps on databases it finds without one) is repaired under the lock: the tables were
created by this Dagster version, so the older stamp is the wrong one and is deleted.
"""

from __future__ import annotations

import os
import sqlite3
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg

from odibi_core.errors import OdibiError
from odibi_core.file_lock import exclusive_lock

__all__ = ["INSTANCE_LOCK_SECONDS", "open_instance", "write_instance_config"]

#: The longest an odibi command waits for another one to finish opening the instance.
INSTANCE_LOCK_SECONDS = 120.0
LOCK_FILE = "odibi-instance.lock"

_DAGSTER_YAML = """\
# Written by odibi: a local instance (sqlite storage under this folder).
telemetry:
  enabled: false
"""


def write_instance_config(home: Path) -> None:
    """Create ``home`` and, when missing, its ``dagster.yaml`` (telemetry off), atomically: a
    concurrent reader sees no file or the whole file, never a half-written one."""
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if config.exists():
        return
    fd, tmp = tempfile.mkstemp(dir=home, prefix=".dagster.yaml.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(_DAGSTER_YAML)
    try:
        os.link(tmp, config)  # fails if another process created it meanwhile: keep theirs
    except FileExistsError:
        pass
    finally:
        os.unlink(tmp)


@contextmanager
def open_instance(home: Path | None = None) -> Iterator[dg.DagsterInstance]:
    """The Dagster instance of ``home`` (default ``$DAGSTER_HOME``), created and migrated under
    the instance lock; disposed of when the block ends.

    Raises:
        TransientError: another odibi command held the lock for ``INSTANCE_LOCK_SECONDS``.
        OdibiError: the instance's databases carry several alembic heads that odibi cannot
            repair safely (the message names the database and the fix).
    """
    home = Path(home or os.environ["DAGSTER_HOME"]).resolve()
    write_instance_config(home)
    with exclusive_lock(home / LOCK_FILE, timeout=INSTANCE_LOCK_SECONDS,
                        what=f"the Dagster instance at {home} (another odibi command is "
                             "opening it)"):
        instance = _open_or_repair(home)
    with instance:
        yield instance


def _open_or_repair(home: Path) -> dg.DagsterInstance:
    try:
        return _open(home)
    except Exception as exc:  # alembic's CommandError; Dagster wraps nothing here
        if "more than one head" not in str(exc):
            raise
    repaired = repair_alembic_heads(home)
    if not repaired:
        raise OdibiError(
            f"The Dagster instance at {home} is damaged: a database of its storage carries "
            "several alembic revisions, so Dagster refuses to open it, and it is not one of "
            "the local sqlite databases odibi knows how to repair.",
            fix="Inspect the alembic_version table of the instance's storage and keep only "
                "Dagster's current head (see `dagster instance info`), or point DAGSTER_HOME "
                "at a new instance (the old one's run history is then not used).")
    instance = _open(home)
    # The process that stamped the current head may have died before Dagster's data
    # migrations ran; both are idempotent.
    instance.run_storage.migrate()  # type: ignore[attr-defined]
    if instance.schedule_storage is not None:
        instance.schedule_storage.migrate()  # type: ignore[attr-defined]
    print(f"odibi: repaired the Dagster instance at {home}: "
          f"{', '.join(repaired)} carried two alembic heads after concurrent first runs; "
          "the stale stamp was removed.", file=sys.stderr)
    return instance


def _open(home: Path) -> dg.DagsterInstance:
    """Open the instance and its storages: Dagster creates and stamps the run storage, event
    log index and schedule storage databases here, when they do not exist yet."""
    instance = dg.DagsterInstance.from_config(str(home))
    try:
        instance.get_runs_count()
        _ = instance.event_log_storage, instance.schedule_storage
    except BaseException:
        instance.dispose()
        raise
    return instance


def repair_alembic_heads(home: Path) -> list[str]:
    """Remove the stale stamp from every database of ``home`` left with two alembic heads by
    concurrent creation; returns their paths relative to ``home``.

    Raises:
        OdibiError: a database carries several stamps other than the repairable pair.
    """
    from dagster._core.storage.sql import get_alembic_config
    from dagster._core.storage.sqlite import LAST_KNOWN_STAMPED_SQLITE_ALEMBIC_REVISION
    from dagster._core.storage.runs.sqlite import sqlite_run_storage
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(
        get_alembic_config(sqlite_run_storage.__file__)).as_revision_number("head")
    repairable = {head, LAST_KNOWN_STAMPED_SQLITE_ALEMBIC_REVISION}
    repaired = []
    for db in sorted(home.rglob("*.db")):
        with sqlite3.connect(db) as conn:
            if not conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND "
                                "name = 'alembic_version'").fetchone():
                continue
            stamps = {row[0] for row in conn.execute("SELECT version_num FROM alembic_version")}
            if len(stamps) < 2:
                continue
            name = str(db.relative_to(home))
            if stamps != repairable:
                raise OdibiError(
                    f"The Dagster instance at {home} is damaged: its database {name} carries "
                    f"several alembic revisions ({', '.join(sorted(stamps))}), so Dagster "
                    "refuses to open it.",
                    fix=f"Keep a copy of {home}, then delete the rows that are not Dagster's "
                        f"current head ({head}): sqlite3 {db} \"DELETE FROM alembic_version "
                        f"WHERE version_num != '{head}'\" — or move {home} aside to start a new "
                        "instance (its run history, and resuming its runs, are lost).")
            conn.execute("DELETE FROM alembic_version WHERE version_num = ?",
                         (LAST_KNOWN_STAMPED_SQLITE_ALEMBIC_REVISION,))
            repaired.append(name)
    return repaired
