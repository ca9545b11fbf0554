"""Replay dead letters whose raw text was fixed.

The flow (``odibi dlq replay``):

1. ``odibi dlq show`` lists the pending dead letters: file, line, raw text, error.
2. The user fixes them, either in a corrections file (CSV with columns ``source_file,line,raw``,
   or JSON Lines objects with those keys; see :func:`load_corrections`), or by updating ``raw``
   in the dead-letter table itself.
3. :func:`replay_dead_letters` applies the corrections, parses every pending dead letter again
   with the read's rules (format, options, ``schema``), hands the records that now parse to
   ``append`` (which writes them to the node's target), and only then marks them replayed
   (``_replayed_at``) in one commit. Those still failing stay pending with their new error and
   corrected text. Nothing is marked when ``append`` fails, so a replay can be retried.

Pending means: not replayed, from a batch whose read went on (``_batch_status = 'loaded'``).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from odibi_core.dead_letters.model import DeadLetter
from odibi_core.dead_letters.store import DeadLetterStore, dead_letter_schema
from odibi_core.errors import ConfigError, ConfigProblem, DataError

if TYPE_CHECKING:
    from odibi_core.engines.base import Engine
    from odibi_core.storage.requests import Frame

__all__ = ["ReplayResult", "load_corrections", "replay_dead_letters"]

Corrections = Mapping[tuple[str, int], str]
_FAILURES_SHOWN = 100
_REPLACEMENT = "\ufffd"


@dataclass(frozen=True)
class ReplayResult:
    """What a replay did.

    ``frame`` holds the records that now parse (None when none do); ``replayed`` counts the dead
    letters they came from, marked replayed unless ``dry_run``; ``failures`` lists (up to 100)
    those still failing: source_file, line, error.
    """

    frame: Frame | None
    replayed: int
    still_failing: int
    destination: str
    dry_run: bool = False
    failures: tuple[dict[str, Any], ...] = ()

    def summary(self) -> dict[str, Any]:
        """The counts, JSON-safe (without the frame)."""
        return {"replayed": self.replayed, "still_failing": self.still_failing,
                "destination": self.destination, "dry_run": self.dry_run,
                "failures": list(self.failures)}


def replay_dead_letters(store: DeadLetterStore, engine: Engine, *,
                        options: Mapping[str, Any],
                        append: Callable[[Frame], object] | None,
                        node: str | None = None, batch_id: str | None = None,
                        corrections: Corrections | None = None,
                        at: dt.datetime | None = None) -> ReplayResult:
    """Parse the pending dead letters again and load those that now parse.

    Args:
        store: the dead-letter destination (``DeadLetterStore.from_config``).
        engine: parses the records and builds the frame.
        options: the node's ``read.options`` (sep, quote, schema, ...): the rules of the read.
        append: writes the frame of now-valid records to the node's target (e.g. an
            ``engine.write`` in ``append`` mode); called once, before anything is marked. None:
            a dry run that marks and changes nothing.
        node: only this node's dead letters (``pipeline.node``).
        batch_id: only this batch's dead letters.
        corrections: corrected raw text by ``(source_file, line)``, applied first and kept.
        at: the ``_replayed_at`` stamp (default: now, UTC).

    Raises:
        DataError: a correction matches no pending dead letter, or the pending dead letters
            mix formats (replay one node at a time).

    Example:
        >>> result = replay_dead_letters(                                # doctest: +SKIP
        ...     store, engine, options=node.read.options, node="sales.orders",
        ...     corrections=load_corrections("fixes.csv"),
        ...     append=lambda frame: engine.write(frame, append_request))
        >>> result.replayed, result.still_failing                       # doctest: +SKIP
        (3, 1)
    """
    rows = store.read(node=node, batch_id=batch_id).to_pylist()
    pending = [r for r in rows if r["_replayed_at"] is None and r["_batch_status"] == "loaded"]
    _apply_corrections(pending, corrections or {}, store.display)
    if not pending:
        return ReplayResult(None, 0, 0, store.display, dry_run=append is None)
    formats = sorted({r["format"] for r in pending})
    if len(formats) > 1:
        raise DataError(f"The pending dead letters at {store.display} come from "
                        f"{' and '.join(formats)} reads.",
                        fix="Replay one node at a time (pass its node).")
    letters = [DeadLetter(r["source_file"], r["line"], r["raw"], r["error"], r["header"],
                          r["format"]) for r in pending]
    # U+FFFD stands for bytes that did not decode: such text must be corrected first.
    undecoded = {i: "the raw text still holds U+FFFD where bytes did not decode; correct it "
                    "first" for i, letter in enumerate(letters) if _REPLACEMENT in letter.raw}
    parseable = [i for i in range(len(letters)) if i not in undecoded]
    frame, found = engine.reparse_dead_letters([letters[i] for i in parseable],
                                               format=formats[0], options=options)
    errors = {**undecoded, **{parseable[i]: error for i, error in found.items()}}
    replayed = len(pending) - len(errors)
    failures = tuple({"source_file": letters[i].source_file, "line": letters[i].line,
                      "error": errors[i]} for i in sorted(errors)[:_FAILURES_SHOWN])
    if append is None:
        return ReplayResult(frame if replayed else None, replayed, len(errors), store.display,
                            dry_run=True, failures=failures)
    if replayed:
        append(frame)
    stamp = at or dt.datetime.now(dt.timezone.utc)
    for index, row in enumerate(pending):
        if index in errors:
            row["error"] = errors[index]
        else:
            row["_replayed_at"] = stamp
    _save(store, rows, pending)
    return ReplayResult(frame if replayed else None, replayed, len(errors), store.display,
                        failures=failures)


def load_corrections(path: str | Path) -> dict[tuple[str, int], str]:
    """Corrected raw text by ``(source_file, line)`` from a file the user edited.

    A ``.csv`` file has the header ``source_file,line,raw`` (quote ``raw`` as CSV requires);
    a ``.json`` / ``.jsonl`` file holds one object per line (or an array) with those keys.
    ``odibi dlq show`` output saved as JSON Lines is a valid starting point.

    Raises:
        ConfigError: the file lacks a column, or a line number is not an integer.
    """
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".csv":
        entries: list[Any] = list(csv.DictReader(text.splitlines(keepends=True)))
    elif text.lstrip().startswith("["):
        entries = json.loads(text)
    else:
        entries = [json.loads(line) for line in text.splitlines() if line.strip()]
    corrections: dict[tuple[str, int], str] = {}
    for number, entry in enumerate(entries, 1):
        missing = [k for k in ("source_file", "line", "raw") if not isinstance(entry, dict)
                   or entry.get(k) is None]
        try:
            line = int(entry["line"]) if not missing else 0
        except (TypeError, ValueError):
            missing = ["line (an integer)"]
        if missing:
            raise ConfigError(ConfigProblem(
                message=f"Correction {number} of {path.name} lacks {', '.join(missing)}.",
                file=path, fix="Give every correction source_file, line and raw."))
        corrections[(str(entry["source_file"]), line)] = str(entry["raw"])
    return corrections


def _apply_corrections(pending: list[dict[str, Any]], corrections: Corrections,
                       destination: str) -> None:
    by_key: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for row in pending:
        by_key.setdefault((row["source_file"], row["line"]), []).append(row)
    unmatched = [key for key in corrections if key not in by_key]
    if unmatched:
        shown = ", ".join(f"{f} line {n}" for f, n in unmatched[:5])
        raise DataError(
            f"{len(unmatched)} correction(s) match no pending dead letter at {destination}: "
            f"{shown}.",
            fix="Correct only dead letters `odibi dlq show` lists as pending (replayed ones "
                "and those of failed batches are not replayed).")
    for key, raw in corrections.items():
        for row in by_key[key]:
            row["raw"] = raw


def _save(store: DeadLetterStore, rows: list[dict[str, Any]],
          changed: list[dict[str, Any]]) -> None:
    import pyarrow as pa


    keys = {(r["node"], r["_batch_id"]) for r in changed}
    batch_rows = [r for r in rows if (r["node"], r["_batch_id"]) in keys]
    store.replace_batches(sorted(keys, key=str),
                          pa.Table.from_pylist(batch_rows, schema=dead_letter_schema()))
