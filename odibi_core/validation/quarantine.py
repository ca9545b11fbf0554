"""Quarantine: split the rows that fail an ``on_fail: quarantine`` test from the rows that go on,
annotate them and write them to ``validation.quarantine``.

Each quarantined row keeps its columns and gets four more:

- ``_rejection_reason``: ``"<test>: <what it breaks>"`` for every row-level test the row failed,
  joined by ``"; "`` (quarantine tests and the others), e.g.
  ``"not_null: null in order_id; amount_range: amount outside [0, 100000]"``;
- ``_failed_tests``: the names of those tests joined by ``","`` (a string on every engine, so
  CSV and JSON destinations hold it too);
- ``_rejected_at``: when the rows were quarantined (a UTC ``timestamp``);
- ``_source_batch_id``: the batch the rows came from. Writing a batch replaces that batch's
  earlier rows (one atomic Delta commit), so running the same batch twice leaves one copy.

``max_rows`` caps and ``sample_fraction`` samples what is written (a deterministic sample per
batch); the counts in the result are always the true counts.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Any

from odibi_core.engines.base import Engine
from odibi_core.results import QuarantineResult
from odibi_core.storage.locations import ResolvedLocation
from odibi_core.storage.requests import BatchReplace, Frame, WriteRequest
from odibi_core.transforms.builtins.sql_text import quote_identifier, sql_literal
from odibi_core.validation.evaluate import Evaluation

__all__ = [
    "BATCH_COLUMN",
    "QUARANTINE_COLUMNS",
    "Split",
    "batch_id_for",
    "quarantine_frame",
    "split_rows",
    "write_quarantine",
]

BATCH_COLUMN = "_source_batch_id"
QUARANTINE_COLUMNS = ("_rejection_reason", "_failed_tests", "_rejected_at", BATCH_COLUMN)


@dataclass
class Split:
    """The validated frame, split.

    ``output`` goes on to the write (without flag columns); ``rejected`` holds the rows failing
    a quarantine test (with their flags, for the reasons), or None without quarantine tests.
    """

    evaluation: Evaluation
    output: Frame
    rejected: Frame | None
    rejected_rows: int
    quarantine_tests: tuple[str, ...]  # quarantine tests that failed at least one row
    dropped_rows: int = 0  # write_valid_only: rows left out that were not quarantined
    output_rows: int | None = None  # rows of ``output`` (known from the counts)


def split_rows(engine: Engine, evaluation: Evaluation, *, valid_only: bool = False) -> Split:
    """Rows that go on, and rows that go to quarantine.

    Args:
        engine: the engine that owns the frame.
        evaluation: the evaluated validation tests.
        valid_only: keep only rows passing every acted-on row-level test (the gate's
            ``write_valid_only``), not only those passing the quarantine tests.
    """
    flagged = evaluation.flagged
    quarantine = evaluation.flags_for("quarantine")
    keep = evaluation.flags_for() if valid_only else quarantine
    if flagged is None or not keep:
        output = evaluation.frame
    else:
        output = engine.drop_columns(engine.filter_rows(flagged, all_true=keep),
                                     evaluation.all_flags)
    rejected, rejected_rows = None, 0
    if flagged is not None and quarantine:
        if set(quarantine) == set(evaluation.flags_for()):  # known from the validation
            rejected_rows = evaluation.result.total_rows - evaluation.result.rows_passing
        else:
            rejected_rows = engine.count_rows(flagged, any_false=quarantine)
        rejected = engine.filter_rows(flagged, any_false=quarantine)
    total = evaluation.result.total_rows
    dropped = total - evaluation.result.rows_passing - rejected_rows if valid_only else 0
    names = tuple(t.name for t in evaluation.result.tests
                  if t.on_fail == "quarantine" and not t.skipped and t.failing_rows)
    if flagged is None or not keep:
        output_rows = total
    else:
        output_rows = evaluation.result.rows_passing if valid_only else total - rejected_rows
    return Split(evaluation=evaluation, output=output, rejected=rejected,
                 rejected_rows=rejected_rows, quarantine_tests=names,
                 dropped_rows=max(dropped, 0), output_rows=output_rows)


def batch_id_for(engine: Engine, frame: Frame, *, node: str, batch_id: str | None = None) -> str:
    """``batch_id`` when the run has one; else a fingerprint of the node and of ``frame``'s
    content, so the same input gives the same id in every run."""
    if batch_id:
        return batch_id
    digest = hashlib.sha256(f"{node}|{engine.fingerprint(frame)}".encode("utf-8"))
    return digest.hexdigest()[:32]


def quarantine_frame(engine: Engine, rejected: Frame, evaluation: Evaluation, *, batch_id: str,
                     rejected_at: dt.datetime, max_rows: int | None = None,
                     sample_fraction: float = 1.0) -> Frame:
    """The rows to write: sampled, capped, with the four quarantine columns and no flags."""
    frame = rejected
    if sample_fraction < 1:
        seed = int(hashlib.sha256(batch_id.encode("utf-8")).hexdigest()[:8], 16)
        frame = engine.sample_fraction(frame, sample_fraction, seed=seed)
    if max_rows is not None:
        frame = engine.head(frame, max_rows)
    frame = engine.drop_columns(frame, QUARANTINE_COLUMNS)  # re-quarantined quarantine rows
    reasons, names = [], []
    for flag, check in evaluation.row_checks():
        failed = f"NOT {quote_identifier(flag)}"
        reasons.append(f"CASE WHEN {failed} THEN "
                       f"{sql_literal(f'{check.name}: {check.describe()}')} END")
        names.append(f"CASE WHEN {failed} THEN {sql_literal(check.name)} END")
    frame = engine.add_columns(frame, {
        "_rejection_reason": f"concat_ws('; ', {', '.join(reasons)})",
        "_failed_tests": f"concat_ws(',', {', '.join(names)})",
    })
    frame = engine.drop_columns(frame, evaluation.all_flags)
    return engine.with_constants(frame, {"_rejected_at": rejected_at, BATCH_COLUMN: batch_id})


def write_quarantine(engine: Engine, split: Split, *, config: Any,
                     location: ResolvedLocation, batch_id: str | None, node: str,
                     source: Frame | None = None, dry_run: bool = False,
                     now: dt.datetime | None = None) -> QuarantineResult:
    """Write the rejected rows of ``split`` as batch ``batch_id`` of the quarantine target.

    Nothing is written on a dry run, nor when no row was rejected and the batch id is a
    fingerprint (a new fingerprint has no earlier rows to replace). With a run batch id and no
    rejected row, the batch's earlier rows are replaced by none.

    Args:
        config: the ``QuarantineConfig``.
        batch_id: the run's batch id, or None to fingerprint ``source``.
        source: the frame whose content identifies the batch (the node's input); the
            evaluated frame when None.
    """
    evaluation = split.evaluation
    rows_written, version = 0, None
    if split.rejected is not None and not dry_run and (split.rejected_rows or batch_id):
        batch = batch_id_for(engine, evaluation.frame if source is None else source,
                             node=node, batch_id=batch_id)
        frame = quarantine_frame(
            engine, split.rejected, evaluation, batch_id=batch,
            rejected_at=now or dt.datetime.now(dt.timezone.utc),
            max_rows=config.max_rows, sample_fraction=config.sample_fraction)
        written = engine.write(frame, WriteRequest(
            location=location, format=config.format, mode="append", node=node,
            replace_batch=BatchReplace(BATCH_COLUMN, batch)))
        rows_written, version, batch_id = written.rows_written, written.delta_version, batch
    return QuarantineResult(
        rows=split.rejected_rows, rows_written=rows_written,
        destination=location.display, format=config.format,
        batch_id=batch_id, tests=split.quarantine_tests, delta_version=version)
