"""What a node run produced: plain, engine-free, JSON-serialisable records.

These are the only objects that cross from ``odibi_core`` into stories and into ``odibi_dagster``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

__all__ = [
    "ColumnSchema",
    "NodeResult",
    "NodeStatus",
    "PhaseTiming",
    "WriteResult",
    "ErrorInfo",
]

NodeStatus = Literal["success", "failed", "skipped"]


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
    """Where a node's output went."""

    connection: str
    format: str
    mode: str
    location: str  # the resolved path or table name, never with credentials
    rows_written: int
    delta_version: int | None = None
    files_written: int | None = None


@dataclass(frozen=True)
class ErrorInfo:
    """A failure, reduced to what a reader needs: its kind, message, the phase and the fix."""

    type: str
    message: str
    phase: str | None = None
    fix: str | None = None
    transient: bool = False


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
    # Slots later features fill in (validation, quarantine, dead letters, retries, profile).
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.pipeline}.{self.node}"

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
        return cls(**data)
