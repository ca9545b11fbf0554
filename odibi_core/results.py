"""What a node run produced: plain, engine-free, JSON-serialisable records.

These are the only objects that cross from ``odibi_core`` into stories and into ``odibi_dagster``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any, Literal

__all__ = [
    "iso_utc",
    "CheckKind",
    "ColumnSchema",
    "DeadLetterResult",
    "ErrorInfo",
    "GateResult",
    "NodeResult",
    "NodeStatus",
    "PhaseTiming",
    "QuarantineResult",
    "RetryAttempt",
    "TestResult",
    "ValidationResult",
    "WriteResult",
]


def iso_utc(moment: datetime) -> str:
    """The form every timestamp in a record takes: ISO-8601, UTC, milliseconds, ``Z``.

    A naive ``moment`` is taken to be UTC.
    """
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    text = moment.astimezone(timezone.utc).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")

NodeStatus = Literal["success", "failed", "skipped"]
CheckKind = Literal["contract", "validation"]


@dataclass(frozen=True)
class ColumnSchema:
    """One column: its name and a logical type name shared by every engine
    (``string``, ``int64``, ``float64``, ``bool``, ``date``, ``timestamp``, ``decimal``, ...)."""

    name: str
    type: str
    nullable: bool = True


@dataclass(frozen=True)
class PhaseTiming:
    """Wall time of one phase of a node run (read, contracts, transform, privacy, validate, write)."""

    phase: str
    seconds: float


@dataclass(frozen=True)
class WriteResult:
    """Where a node's output went.

    ``batch_id`` is the batch the write carried (SPEC §7); ``skipped`` says why nothing was
    written although the node succeeded: ``duplicate_batch`` (the batch was committed before),
    ``unchanged`` (``skip_if_unchanged`` and the same input), ``no_rows`` (an append of no rows
    to a target that exists: nothing committed; ``delta_version`` is the table's current one),
    ``no_rows_unknown_types`` (no rows of unknown column types, and no Delta table yet: none was
    created). ``transaction`` is the Delta transaction identifier committed with the data
    (``app_id@version``).
    """

    connection: str
    format: str
    mode: str
    location: str  # the resolved path or table name, never with credentials
    rows_written: int
    delta_version: int | None = None
    files_written: int | None = None
    batch_id: str | None = None
    skipped: str | None = None
    transaction: str | None = None

    @property
    def skipped_duplicate_batch(self) -> bool:
        return self.skipped == "duplicate_batch"


@dataclass(frozen=True)
class DeadLetterResult:
    """What a read with ``read.dead_letter`` set aside.

    ``rows_read`` counts every record read, valid ones and dead letters; ``bad_fraction`` is
    ``bad_records / rows_read``; ``written`` is the rows written to ``destination`` (shown
    without credentials); ``samples`` hold the first dead letters' file, line and error.
    """

    batch_id: str
    rows_read: int
    bad_records: int
    bad_fraction: float
    destination: str
    written: int
    max_bad_fraction: float | None = None
    samples: tuple[dict[str, Any], ...] = ()

    def summary(self) -> dict[str, Any]:
        """A JSON-friendly row for stories and materialization metadata."""
        return {"rows_read": self.rows_read, "bad_records": self.bad_records,
                "bad_fraction": self.bad_fraction, "destination": self.destination,
                "written": self.written, "batch_id": self.batch_id,
                "max_bad_fraction": self.max_bad_fraction}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DeadLetterResult:
        data = dict(data)
        data["samples"] = tuple(data.get("samples", ()))
        return cls(**data)


@dataclass(frozen=True)
class ErrorInfo:
    """A failure, reduced to what a reader needs: its kind, message, the phase and the fix."""

    type: str
    message: str
    phase: str | None = None
    fix: str | None = None
    transient: bool = False
    # An exception odibi did not raise on purpose and the error taxonomy does not know: most
    # likely a bug in odibi (see odibi_core.error_taxonomy.is_internal).
    internal: bool = False


@dataclass(frozen=True)
class TestResult:
    """One contract or validation test, evaluated on one frame.

    Row-level tests (not_null, unique, accepted_values, range, regex_match, custom_sql) count
    ``failing_rows``. Aggregate tests (row_count, freshness, schema, distribution, volume_drop)
    judge the whole frame: their ``failing_rows`` is None, ``pass_rate`` is 1.0 or 0.0 and
    ``observed`` holds what was measured. ``skipped`` tests come after the one ``fail_fast``
    stopped at: they were neither reported as passed nor acted on.
    """

    __test__ = False  # a result record, not a pytest test class

    name: str
    type: str
    kind: CheckKind
    index: int  # position in `contracts` or in `validation.tests`
    on_fail: str  # the action taken: fail | warn | quarantine (after `validation.mode`)
    passed: bool
    total_rows: int
    failing_rows: int | None = None
    pass_rate: float = 1.0
    sample: tuple[Any, ...] = ()  # failing values (at most a few, JSON-safe)
    message: str = ""
    observed: Any = None  # aggregate tests: the measured value (JSON-safe)
    skipped: bool = False

    @property
    def failed(self) -> bool:
        return not self.passed and not self.skipped

    @property
    def location(self) -> str:
        """Where the test is declared: ``contracts[0]`` or ``validation.tests[2]``."""
        return f"contracts[{self.index}]" if self.kind == "contract" \
            else f"validation.tests[{self.index}]"

    def summary(self) -> dict[str, Any]:
        """A JSON-friendly row for stories."""
        return {
            "test": self.name, "type": self.type, "on_fail": self.on_fail,
            "status": "skipped" if self.skipped else ("passed" if self.passed else "failed"),
            "failing_rows": self.failing_rows, "total_rows": self.total_rows,
            "pass_rate": round(self.pass_rate, 6), "sample": list(self.sample),
            "message": self.message,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TestResult:
        data = dict(data)
        data["sample"] = tuple(data.get("sample", ()))
        return cls(**data)


@dataclass(frozen=True)
class ValidationResult:
    """Every test of one kind (contracts, or validation) evaluated on one frame in one pass.

    ``rows_passing`` counts rows passing every row-level test that was acted on (all of them
    unless ``fail_fast`` stopped at ``stopped_at``).
    """

    kind: CheckKind
    total_rows: int
    tests: tuple[TestResult, ...] = ()
    rows_passing: int = 0
    stopped_at: str | None = None  # the failing test fail_fast stopped at

    @property
    def passed(self) -> bool:
        return not self.failed_tests

    @property
    def failed_tests(self) -> tuple[TestResult, ...]:
        return tuple(t for t in self.tests if t.failed)

    @property
    def pass_rate(self) -> float:
        """Fraction of rows passing every (acted-on) row-level test; 1.0 for no rows."""
        return self.rows_passing / self.total_rows if self.total_rows else 1.0

    def summary(self) -> list[dict[str, Any]]:
        """One JSON-friendly row per test, for stories."""
        return [t.summary() for t in self.tests]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ValidationResult:
        data = dict(data)
        data["tests"] = tuple(TestResult.from_dict(t) for t in data.get("tests", ()))
        return cls(**data)


@dataclass(frozen=True)
class QuarantineResult:
    """Rows moved aside by ``on_fail: quarantine`` tests.

    ``rows`` is the true number of rows that failed a quarantine test; ``rows_written`` what
    reached the destination after ``max_rows`` / ``sample_fraction`` (0 on a dry run).
    """

    rows: int
    rows_written: int
    destination: str  # the resolved location, never with credentials
    format: str
    batch_id: str | None = None
    tests: tuple[str, ...] = ()  # quarantine tests that failed at least one row
    delta_version: int | None = None

    def summary(self) -> dict[str, Any]:
        return {"rows": self.rows, "rows_written": self.rows_written,
                "destination": self.destination, "format": self.format,
                "batch_id": self.batch_id, "tests": ", ".join(self.tests),
                "delta_version": self.delta_version}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> QuarantineResult:
        data = dict(data)
        data["tests"] = tuple(data.get("tests", ()))
        return cls(**data)


@dataclass(frozen=True)
class GateResult:
    """The gate's decision on whether (and what of) the validated output is written.

    ``action`` is ``write`` when the gate passed, else the configured ``on_fail``:
    ``abort``, ``warn_and_write`` or ``write_valid_only``.
    """

    passed: bool
    action: str
    pass_rate: float
    require_pass_rate: float
    failures: tuple[str, ...] = ()
    rows_dropped: int = 0  # write_valid_only: rows left out that were not quarantined

    def summary(self) -> dict[str, Any]:
        return {"passed": self.passed, "action": self.action,
                "pass_rate": round(self.pass_rate, 6),
                "require_pass_rate": self.require_pass_rate,
                "failures": "; ".join(self.failures) or None,
                "rows_dropped": self.rows_dropped}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GateResult:
        data = dict(data)
        data["failures"] = tuple(data.get("failures", ()))
        return cls(**data)


@dataclass(frozen=True)
class RetryAttempt:
    """An attempt of a node that failed with a transient error and was retried.

    ``category`` is the error taxonomy's name for the failure (``http_unavailable``,
    ``connection_reset``, ...); ``delay_seconds`` the wait before the next attempt.
    """

    attempt: int
    error_type: str
    error: str
    category: str
    delay_seconds: float
    failed_at: str  # ISO-8601 UTC

    def summary(self) -> dict[str, Any]:
        """A JSON-friendly row for stories and materialization metadata."""
        return {"attempt": self.attempt, "error": f"{self.error_type}: {self.error}",
                "category": self.category, "delay": round(self.delay_seconds, 3),
                "failed_at": self.failed_at}


@dataclass(frozen=True)
class NodeResult:
    """The outcome of running one node.

    ``rows_in`` counts the rows the node read (or received from upstream); ``rows_out`` the rows
    after transform and validation; ``rows_written`` what reached the target (0 on a dry run).
    """

    pipeline: str
    node: str
    status: NodeStatus
    started_at: str  # ISO-8601 UTC
    duration_seconds: float
    engine: str
    timings: tuple[PhaseTiming, ...] = ()
    rows_in: int | None = None
    rows_out: int | None = None
    rows_written: int | None = None
    schema_in: tuple[ColumnSchema, ...] = ()
    schema_out: tuple[ColumnSchema, ...] = ()
    sample_rows: tuple[dict[str, Any], ...] = ()
    sql_executed: tuple[str, ...] = ()
    write: WriteResult | None = None
    error: ErrorInfo | None = None
    skipped_reason: str | None = None
    dry_run: bool = False
    contracts: ValidationResult | None = None  # tests on the input, before transform
    validation: ValidationResult | None = None  # tests on the output, after transform
    quarantine: QuarantineResult | None = None
    gate: GateResult | None = None
    # Which attempt this is (1 = the first), of how many the retry block allowed, and the earlier
    # attempts of the same run that failed transiently and were retried.
    attempt: int = 1
    max_attempts: int = 1
    retries: tuple[RetryAttempt, ...] = ()
    # Slots later features fill in (dead letters, profile, ...).
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.pipeline}.{self.node}"

    @property
    def retry_pending(self) -> bool:
        """This attempt failed and another follows (a later record of the node replaces it)."""
        return bool(self.retries) and self.retries[-1].attempt == self.attempt

    @property
    def delta_version(self) -> int | None:
        return self.write.delta_version if self.write else None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NodeResult:
        data = dict(data)
        data["timings"] = tuple(PhaseTiming(**t) for t in data.get("timings", ()))
        data["schema_in"] = tuple(ColumnSchema(**c) for c in data.get("schema_in", ()))
        data["schema_out"] = tuple(ColumnSchema(**c) for c in data.get("schema_out", ()))
        data["sample_rows"] = tuple(data.get("sample_rows", ()))
        data["sql_executed"] = tuple(data.get("sql_executed", ()))
        if data.get("write"):
            data["write"] = WriteResult(**data["write"])
        if data.get("error"):
            data["error"] = ErrorInfo(**data["error"])
        data["retries"] = tuple(RetryAttempt(**r) for r in data.get("retries", ()))
        for key, kind in (("contracts", ValidationResult), ("validation", ValidationResult),
                          ("quarantine", QuarantineResult), ("gate", GateResult)):
            if data.get(key):
                data[key] = kind.from_dict(data[key])
        return cls(**data)
