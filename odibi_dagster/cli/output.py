"""What the CLI prints: errors, per-node progress, the run summary. Exit codes live here too."""

from __future__ import annotations

import sys
import threading
import traceback
from collections.abc import Iterable
from typing import Any, TextIO

from odibi_core.error_taxonomy import classify, is_internal
from odibi_core.errors import ConfigError, OdibiError
from odibi_core.results import NodeResult
from odibi_core.story._format import error_kind

__all__ = ["EXIT_FAILED", "EXIT_OK", "ProgressPrinter", "print_error", "print_failures",
           "print_summary"]

EXIT_OK = 0
EXIT_FAILED = 1

_SYMBOL = {"success": "✔", "failed": "✘", "skipped": "–", "running": "…"}


def print_error(exc: BaseException, stream: TextIO | None = None) -> None:
    """An error as its own message: an odibi error with every problem, file, line and fix; one
    the error taxonomy names with its category; an internal error (a bug in odibi) with its
    traceback, once, and what to do about it."""
    stream = stream or sys.stderr
    if isinstance(exc, ConfigError):
        print(f"error: {exc}", file=stream)
    elif isinstance(exc, OdibiError):
        print(f"error: {exc.render()}", file=stream)
    elif is_internal(exc):
        print(f"internal error: {type(exc).__name__}: {exc}", file=stream)
        print("".join(traceback.format_exception(exc)).rstrip("\n"), file=stream)
        print(internal_error_advice(), file=stream)
    else:
        print(f"error: {type(exc).__name__}: {exc} ({classify(exc)})", file=stream)


def internal_error_advice(run_id: str | None = None) -> str:
    """What to do about an internal error: it is a bug in odibi; where to report it and how to
    see more."""
    run = f" and the run id ({run_id})" if run_id else ""
    return ("This is most likely a bug in odibi, not in your project: odibi raised an exception "
            "its error taxonomy does not know. Please report it to odibi's maintainers with the "
            f"traceback above{run}. More detail: `odibi run --verbose` (or "
            "ODIBI_LOG_LEVEL=debug) also prints Dagster's log of a run; the Dagster UI "
            "(`dagster dev`) keeps each run's events.")


def print_failures(failures: Iterable[Any], run_id: str, stream: TextIO | None = None) -> None:
    """The failures of a run its summary does not show (``odibi_dagster.failures``): an
    internal error with its traceback, anything else as one located line."""
    stream = stream or sys.stderr
    for failure in failures:
        if failure.internal:
            print(f"internal error in {failure.where}: {failure.message}", file=stream)
            print(failure.traceback, file=stream)
            print(internal_error_advice(run_id), file=stream)
        else:
            print(f"error: [{failure.where}] {failure.message}", file=stream)


def _written(result: NodeResult) -> str:
    """What the node wrote, would have written (dry run), or why it wrote nothing."""
    if result.dry_run:
        target = result.extra.get("would_write")
        if target is None:
            return "dry run (no write)"
        return (f"dry run: would write {result.rows_out or 0:,} rows to {target['target']} "
                f"({target['format']}, {target['mode']})")
    write = result.write
    if write is None:
        return "not written (no write)"
    if write.skipped == "duplicate_batch":
        return "0 rows written (batch already committed: duplicate skipped)"
    if write.skipped == "unchanged":
        return "0 rows written (unchanged: skip_if_unchanged)"
    if write.skipped == "no_rows_unknown_types":
        return "0 rows written (no rows of known types: the table was not created)"
    if write.skipped == "no_rows":
        return "0 rows written (no rows to append: nothing committed)"
    return f"{result.rows_written or 0:,} rows written"


def print_summary(results: Iterable[NodeResult], stream: TextIO | None = None) -> None:
    stream = stream or sys.stdout
    rows = list(results)
    if not rows:
        return
    width = max(len(r.key) for r in rows)
    print("\nSummary", file=stream)
    for r in rows:
        detail = ""
        if r.status == "success":
            written = _written(r)
            version = f", Delta v{r.delta_version}" if r.delta_version is not None else ""
            detail = f"{r.rows_out or 0:,} rows out, {written}{version}"
            if r.quarantine is not None and r.quarantine.rows:
                detail += f", {r.quarantine.rows:,} quarantined"
            stream_run = r.extra.get("streaming") or {}
            if stream_run.get("late_rows_dropped"):
                detail += f", {stream_run['late_rows_dropped']:,} late rows dropped"
            if stream_run.get("replayed_batches"):
                detail += f", {len(stream_run['replayed_batches'])} replayed batch(es) skipped"
            if r.extra.get("dead_letters", {}).get("bad_records"):
                detail += f", {r.extra['dead_letters']['bad_records']:,} dead-lettered"
            failed = [f"{t.name} ({t.on_fail})" for b in (r.contracts, r.validation) if b
                      for t in b.failed_tests]
            if failed:
                detail += f", tests failed: {', '.join(failed)}"
            detail += f", {r.duration_seconds:.2f}s"
        elif r.status == "failed" and r.error:
            detail = f"{r.error.type} in {r.error.phase}: {r.error.message}"
            if r.error.transient:  # retried or not, and how often
                detail += f" ({error_kind(r)})"
            if r.error.fix:
                detail += f"\n{' ' * (width + 6)}Fix: {r.error.fix}"
        elif r.status == "skipped":
            detail = r.skipped_reason or "skipped"
        print(f"  {_SYMBOL[r.status]} {r.key:<{width}}  {detail}", file=stream)


class ProgressPrinter:
    """Follows a Dagster run in the instance's event log and prints one line per step event.

    It polls from a background thread because ``execute_job`` blocks the calling thread.
    """

    def __init__(self, instance: Any, run_tag: tuple[str, str], node_by_step: dict[str, str],
                 stream: TextIO | None = None, interval: float = 0.2) -> None:
        self.instance = instance
        self.run_tag = run_tag
        self.node_by_step = node_by_step
        self.stream = stream or sys.stdout
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._cursor: str | None = None
        self._run_id: str | None = None

    def __enter__(self) -> ProgressPrinter:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._poll()  # whatever arrived after the last tick

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self._poll()
            except Exception:  # noqa: BLE001 - progress must never break the run
                pass

    def _poll(self) -> None:
        from dagster import DagsterEventType
        from dagster._core.storage.dagster_run import RunsFilter

        if self._run_id is None:
            runs = self.instance.get_runs(
                filters=RunsFilter(tags={self.run_tag[0]: self.run_tag[1]}), limit=1)
            if not runs:
                return
            self._run_id = runs[0].run_id
            print(f"Dagster run {self._run_id}", file=self.stream, flush=True)
        wanted = {DagsterEventType.STEP_START, DagsterEventType.STEP_SUCCESS,
                  DagsterEventType.STEP_FAILURE, DagsterEventType.STEP_UP_FOR_RETRY,
                  DagsterEventType.STEP_SKIPPED}
        conn = self.instance.get_records_for_run(self._run_id, cursor=self._cursor,
                                                 of_type=wanted)
        self._cursor = conn.cursor
        for record in conn.records:
            event = record.event_log_entry.dagster_event
            if event is None:
                continue
            node = self.node_by_step.get(event.step_key or "", event.step_key)
            label = {
                DagsterEventType.STEP_START: "started",
                DagsterEventType.STEP_SUCCESS: "done",
                DagsterEventType.STEP_FAILURE: "FAILED",
                DagsterEventType.STEP_UP_FOR_RETRY: "will retry",
                DagsterEventType.STEP_SKIPPED: "skipped",
            }[event.event_type]
            reason = self._retry_reason(event.step_key) \
                if event.event_type == DagsterEventType.STEP_UP_FOR_RETRY else None
            print(f"  {label:>10}  {node}" + (f"  ({reason})" if reason else ""),
                  file=self.stream, flush=True)

    def _retry_reason(self, step_key: str | None) -> str | None:
        """Why the step is retried: the warning its asset logged before asking for the retry
        (``retry 1/2 of p.node in 0.5s: timeout ...``)."""
        import logging

        assert self._run_id is not None
        warnings = [e.user_message for e in self.instance.all_logs(self._run_id)
                    if e.dagster_event is None and e.step_key == step_key
                    and e.level == logging.WARNING]
        return warnings[-1] if warnings else None
