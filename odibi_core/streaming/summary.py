"""What one run of a streaming query did, from Spark's progress reports and odibi's own record of
each micro-batch: the story's and Dagster's view of a streaming node."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from odibi_core.results import QuarantineResult, TestResult, ValidationResult
from odibi_core.validation.checks import build_check
from odibi_core.validation.evaluate import effective_on_fail

__all__ = ["MicroBatch", "StreamSummary", "merge_quarantine", "merge_validation",
           "nothing_to_validate"]

_NO_WATERMARK = "1970-01-01T00:00:00.000Z"  # Spark's watermark before any event was seen


@dataclass(frozen=True)
class MicroBatch:
    """One micro-batch as odibi handled it.

    ``replayed``: Spark ran the batch again after a crash and the target already held its
    commit (the Delta transaction ``(app_id, batch_id)``), so nothing was written twice.
    """

    batch_id: int
    rows: int
    rows_written: int = 0
    delta_version: int | None = None
    replayed: bool = False


@dataclass(frozen=True)
class StreamSummary:
    """One bounded run (``availableNow``) of a node's streaming query."""

    query: str
    checkpoint: str
    output_mode: str
    batches: tuple[MicroBatch, ...] = ()
    rows_in: int = 0
    watermark: str | None = None
    late_rows_dropped: int = 0
    progress: tuple[dict[str, Any], ...] = field(default=(), repr=False)

    @classmethod
    def from_progress(cls, *, query: str, checkpoint: str, output_mode: str,
                      batches: Sequence[MicroBatch],
                      progress: Sequence[dict[str, Any]]) -> StreamSummary:
        watermark = None
        for report in progress:
            value = (report.get("eventTime") or {}).get("watermark")
            if value and value != _NO_WATERMARK:
                watermark = value
        dropped = sum(int(state.get("numRowsDroppedByWatermark") or 0)
                      for report in progress for state in report.get("stateOperators") or ())
        return cls(query=query, checkpoint=checkpoint, output_mode=output_mode,
                   batches=tuple(batches),
                   rows_in=sum(int(report.get("numInputRows") or 0) for report in progress),
                   watermark=watermark, late_rows_dropped=dropped, progress=tuple(progress))

    @property
    def rows_written(self) -> int:
        return sum(batch.rows_written for batch in self.batches)

    @property
    def rows_out(self) -> int:
        return sum(batch.rows for batch in self.batches if not batch.replayed)

    @property
    def last_version(self) -> int | None:
        versions = [b.delta_version for b in self.batches if b.delta_version is not None]
        return versions[-1] if versions else None

    def summary(self) -> dict[str, Any]:
        """JSON-friendly, for the story and the materialization's metadata."""
        ids = [batch.batch_id for batch in self.batches]
        return {
            "query": self.query,
            "checkpoint": self.checkpoint,
            "output_mode": self.output_mode,
            "trigger": "available_now",
            "batches": len(self.batches),
            "batch_ids": [min(ids), max(ids)] if ids else [],
            "rows_in": self.rows_in,
            "rows_written": self.rows_written,
            "watermark": self.watermark,
            "late_rows_dropped": self.late_rows_dropped,
            "replayed_batches": [b.batch_id for b in self.batches if b.replayed],
        }


def merge_validation(total: ValidationResult | None,
                     batch: ValidationResult) -> ValidationResult:
    """The validation of every micro-batch so far: rows and failing rows add up per test."""
    if total is None:
        return batch
    tests = tuple(_merge_test(a, b) for a, b in zip(total.tests, batch.tests)) \
        if len(total.tests) == len(batch.tests) else batch.tests
    return replace(total, total_rows=total.total_rows + batch.total_rows, tests=tests,
                   rows_passing=total.rows_passing + batch.rows_passing,
                   stopped_at=batch.stopped_at or total.stopped_at)


def _merge_test(a: TestResult, b: TestResult) -> TestResult:
    rows = a.total_rows + b.total_rows
    failing = None if a.failing_rows is None and b.failing_rows is None \
        else (a.failing_rows or 0) + (b.failing_rows or 0)
    rate = 1.0 if not rows or failing is None else round((rows - failing) / rows, 6)
    return replace(b, passed=a.passed and b.passed, total_rows=rows, failing_rows=failing,
                   pass_rate=rate if failing is not None else min(a.pass_rate, b.pass_rate),
                   sample=(a.sample + b.sample)[:5], message=b.message or a.message)


def merge_quarantine(total: QuarantineResult | None,
                     batch: QuarantineResult) -> QuarantineResult:
    """The quarantine of every micro-batch so far."""
    if total is None:
        return batch
    return replace(batch, rows=total.rows + batch.rows,
                   rows_written=total.rows_written + batch.rows_written,
                   tests=tuple(dict.fromkeys(total.tests + batch.tests)))


def nothing_to_validate(tests: Sequence[Any], mode: str) -> ValidationResult:
    """The validation of a run in which no micro-batch brought rows: every test passes on no
    rows (a test of row counts checks each micro-batch, and there was none)."""
    results = []
    for index, test in enumerate(tests):
        check = build_check(test)
        results.append(TestResult(
            name=check.name, type=check.type, kind="validation", index=index,
            on_fail=effective_on_fail(test.on_fail, mode), passed=True, total_rows=0,
            failing_rows=0 if check.row_level else None,
            message="no new rows in the stream: nothing to check"))
    return ValidationResult(kind="validation", total_rows=0, tests=tuple(results))
