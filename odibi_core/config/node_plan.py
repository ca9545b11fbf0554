"""What a node will do, resolved once from its configuration: the node plan.

Every reader of "how does this node write" asks here — the asset's metadata, the dry run, the
write itself, streaming, the load-time checks — so they cannot disagree. The plan is pure: it
reads the project file's models (and the project graph, for what a node inherits from
upstream) and touches no data.

The write mode a node gets:

==========================================  =============================================
configuration                               mode
==========================================  =============================================
``write.mode`` given                        that mode
``materialized: incremental``, no mode      ``upsert`` on ``options.keys``, else ``append``
a streaming write, no mode                  the first mode its ``output_mode`` allows
anything else, no mode                      ``overwrite``
a replay of dead letters (run override)     ``append``
==========================================  =============================================
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from odibi_core.config.node import NodeConfig
from odibi_core.errors import ConfigProblem

if TYPE_CHECKING:
    from odibi_core.config.loader import Project

__all__ = ["Materialization", "NodePlan", "WritePlan", "incremental_column",
           "missing_incremental_column", "plan_node", "plan_write"]

Materialization = Literal["table", "view", "incremental", "streaming"]


@dataclass(frozen=True)
class WritePlan:
    """How a node's output is written."""

    connection: str
    target: str  # ``write.path`` or ``write.table``, as in the project file
    format: str
    mode: str  # the mode the write uses
    reason: str  # where the mode comes from, for people: "write.mode", "default", ...
    keys: tuple[str, ...]  # ``options.keys``: the columns that identify a row
    only_newer_than_target: bool  # materialized: incremental keeps rows past the target's max

    @property
    def display_target(self) -> str:
        """``connection:path`` (or ``connection:table``), as the definitions show it."""
        return f"{self.connection}:{self.target}"


@dataclass(frozen=True)
class NodePlan:
    """What node ``key`` does when it runs."""

    key: str
    materialization: Materialization
    write: WritePlan | None
    incremental_column: str | None  # the column ``materialized: incremental`` compares


def plan_write(node: NodeConfig, *, mode_override: str | None = None) -> WritePlan | None:
    """The write plan of ``node`` (None: it writes nothing).

    Args:
        mode_override: the mode a run imposes (a dead-letter replay appends); it also turns
            off ``materialized: incremental``'s filter, since the rows are not the source's.
    """
    write = node.write
    if write is None:
        return None
    mode, reason = _mode(node, mode_override)
    return WritePlan(
        connection=write.connection, target=str(write.path or write.table),
        format=write.format, mode=mode, reason=reason, keys=tuple(write.keys),
        only_newer_than_target=node.materialized == "incremental" and mode_override is None)


def plan_node(project: Project, key: str, *, mode_override: str | None = None) -> NodePlan:
    """The plan of node ``key`` (``pipeline.node``) of ``project``."""
    node = project.graph.node(key).config
    return NodePlan(
        key=key, materialization=materialization(node),
        write=plan_write(node, mode_override=mode_override),
        incremental_column=incremental_column(project, key)
        if node.materialized == "incremental" else None)


def materialization(node: NodeConfig) -> Materialization:
    """The strategy that runs ``node``: a streaming read makes it ``streaming``."""
    if node.is_streaming:
        return "streaming"
    return node.materialized


def _mode(node: NodeConfig, override: str | None) -> tuple[str, str]:
    write = node.write
    assert write is not None
    if override is not None:
        return override, "run override"
    explicit = "mode" in write.model_fields_set
    if node.materialized == "incremental" and not explicit:
        if write.keys:
            return "upsert", "materialized: incremental with options.keys"
        return "append", "materialized: incremental"
    if explicit:
        return write.mode, "write.mode"
    if write.streaming is not None:  # WriteConfig.effective_mode: the output mode's first
        return write.effective_mode, f"streaming output_mode: {write.streaming.output_mode}"
    return write.mode, "default"


def incremental_column(project: Project, key: str) -> str | None:
    """The column of the ``read.incremental`` block of node ``key`` or, for a node without a
    read, of the nearest node upstream whose output it takes (None when there is none)."""
    current: str | None = key
    while current is not None:
        read = project.graph.node(current).config.read
        if read is not None:
            return read.incremental.column if read.incremental is not None else None
        current = project.graph.input_source(current)
    return None


def missing_incremental_column(project: Project, key: str) -> ConfigProblem:
    """The problem of a ``materialized: incremental`` node without an incremental column."""
    path, line = project.locate_node(key)
    return ConfigProblem(
        message=f"Node {key}: materialized: incremental needs the column of a read.incremental "
                "block, on this node or on the node whose output it takes.",
        file=path, line=line, key_path=project.node_key_path(key) + ".materialized",
        fix="Add read.incremental to the node that reads the source, or use "
            "materialized: table.")
