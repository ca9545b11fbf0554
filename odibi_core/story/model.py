"""The run story: one pipeline run, as a plain, frozen, JSON-serialisable record.

A :class:`RunStory` holds the run's identity (project, pipeline, run id, environment, engine), its
clock (``started_at`` / ``finished_at``, ISO-8601 UTC), its status and one
:class:`~odibi_core.results.NodeResult` per node. Renderers (JSON, Markdown, HTML) and the writer
only read it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from typing import Any, Literal

from odibi_core.results import NodeResult, NodeStatus

__all__ = [
    "SCHEMA_VERSION",
    "RunStatus",
    "RunStory",
    "parse_timestamp",
    "status_from_nodes",
]

#: The story schema this code writes and the newest it reads (see ``docs/story_schema.md``). Bump it
#: when a key changes meaning or disappears. Adding a key does not need a bump: from version 2 on,
#: readers ignore keys they do not know. Version 2 added ``edges``.
SCHEMA_VERSION = 2

RunStatus = Literal["success", "failed", "running"]

_NODE_STATUSES: tuple[NodeStatus, ...] = ("success", "failed", "skipped")


def parse_timestamp(value: str) -> datetime:
    """Parse an ISO-8601 timestamp into an aware UTC ``datetime``.

    A trailing ``Z`` is accepted; a timestamp without an offset is taken to be UTC.

    Raises:
        ValueError: ``value`` is not ISO-8601.
    """
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def status_from_nodes(nodes: Iterable[NodeResult]) -> Literal["success", "failed"]:
    """The status of a finished run: ``failed`` if any node failed, else ``success``.

    Skipped nodes do not fail a run.
    """
    return "failed" if any(node.status == "failed" for node in nodes) else "success"


@dataclass(frozen=True, kw_only=True)
class RunStory:
    """What happened in one pipeline run.

    Values in ``extra`` (and in each node's ``extra``) must be JSON types (dict, list, str, int,
    float, bool, None) for a JSON round trip to give back an equal story.

    Example:
        >>> story = RunStory(project="shop", pipeline="sales", run_id="8f14e45f",
        ...     environment="dev", engine="pandas", started_at="2024-05-01T06:00:00Z",
        ...     finished_at="2024-05-01T06:00:42Z", status="success")
        >>> story.duration_seconds
        42.0
    """

    schema_version: int = SCHEMA_VERSION
    project: str
    pipeline: str
    run_id: str
    environment: str | None
    engine: str
    started_at: str  # ISO-8601 UTC
    finished_at: str | None
    status: RunStatus
    nodes: tuple[NodeResult, ...] = ()
    parent_run_id: str | None = None  # the run this one resumes or re-executes
    dry_run: bool = False
    # The pipeline's graph as (upstream, downstream) node keys ``pipeline.node``; an upstream node
    # of another pipeline keeps its own pipeline's prefix.
    edges: tuple[tuple[str, str], ...] = ()
    # Slots later features fill in (labels, validation summary, ...); rendered generically.
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def duration_seconds(self) -> float | None:
        """Wall time from start to finish; ``None`` while the run has not finished."""
        if self.finished_at is None:
            return None
        delta = parse_timestamp(self.finished_at) - parse_timestamp(self.started_at)
        return delta.total_seconds()

    @property
    def status_counts(self) -> dict[NodeStatus, int]:
        """Number of nodes per status; every status is present, possibly with 0."""
        counts: dict[NodeStatus, int] = dict.fromkeys(_NODE_STATUSES, 0)
        for node in self.nodes:
            counts[node.status] = counts.get(node.status, 0) + 1
        return counts

    @property
    def rows_written(self) -> int:
        """Rows written by every node together (0 on a dry run)."""
        return sum(node.rows_written or 0 for node in self.nodes)

    def to_dict(self) -> dict[str, Any]:
        """The story as JSON-ready data, keys in field order (``schema_version`` first)."""
        return {
            "schema_version": self.schema_version,
            "project": self.project,
            "pipeline": self.pipeline,
            "run_id": self.run_id,
            "environment": self.environment,
            "engine": self.engine,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "status": self.status,
            "nodes": [node.to_dict() for node in self.nodes],
            "parent_run_id": self.parent_run_id,
            "dry_run": self.dry_run,
            "edges": [list(edge) for edge in self.edges],
            "extra": dict(self.extra),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunStory:
        """Rebuild a story from :meth:`to_dict` output (or its JSON).

        Keys this version does not know are ignored (a newer writer may add keys).

        Raises:
            ValueError: the story was written by a newer odibi (``schema_version`` too high).
        """
        data = dict(data)
        version = int(data.get("schema_version", SCHEMA_VERSION))
        if version > SCHEMA_VERSION:
            raise ValueError(
                f"story schema_version {version} is newer than this odibi reads "
                f"({SCHEMA_VERSION}); upgrade odibi to read it"
            )
        known = {f.name for f in fields(cls)}
        data = {key: value for key, value in data.items() if key in known}
        data["schema_version"] = version
        data["nodes"] = tuple(NodeResult.from_dict(node) for node in data.get("nodes", ()))
        data["edges"] = tuple((str(a), str(b)) for a, b in data.get("edges") or ())
        data["extra"] = dict(data.get("extra") or {})
        return cls(**data)

    def node_key(self, node: NodeResult | str) -> str:
        """The graph key (``pipeline.node``) of one of this story's nodes."""
        return f"{self.pipeline}.{node if isinstance(node, str) else node.node}"
