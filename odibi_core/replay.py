"""Replaying a node's fixed dead letters through the node's own lifecycle (``odibi dlq replay``).

The dead letters that now parse are run through the node as its input — transform, validation,
quarantine — and *appended* to its target (whatever the node's write mode: a replay adds the
records that were missing, it never replaces the table). Upstream nodes the node's SQL names are
read back from their written targets. The dead letters are marked replayed only after the append
commits.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from odibi_core.dead_letters import (
    DeadLetterListing,
    DeadLetterStore,
    ReplayResult,
    list_dead_letters,
    replay_dead_letters,
)
from odibi_core.errors import ConfigError, ConfigProblem
from odibi_core.node import NodeRunner, RunContext
from odibi_core.results import NodeResult

__all__ = ["NodeReplay", "dead_letter_store", "replay_node", "show_node"]


@dataclass(frozen=True)
class NodeReplay:
    """What a replay did: the dead-letter outcome and the node run that appended the records."""

    replay: ReplayResult
    node_result: NodeResult | None


def dead_letter_store(runner: NodeRunner, key: str) -> DeadLetterStore:
    """The dead-letter destination of node ``key``; a ConfigError when it has none."""
    node = runner.project.graph.node(key).config
    if node.read is None or node.read.dead_letter is None:
        path, line = runner.project.locate_node(key)
        raise ConfigError(ConfigProblem(
            message=f"Node {key} has no read.dead_letter block, so it has no dead letters.",
            file=path, line=line, key_path=runner.project.node_key_path(key) + ".read",
            fix="Add `dead_letter: {connection: ..., path: ...}` to the node's read block.",
        ))
    config = node.read.dead_letter
    return DeadLetterStore.from_config(config, runner.connection(config.connection))


def show_node(runner: NodeRunner, key: str, *, limit: int | None = 20,
              include_replayed: bool = False) -> DeadLetterListing:
    return list_dead_letters(dead_letter_store(runner, key), node=key, limit=limit,
                             include_replayed=include_replayed)


def replay_node(runner: NodeRunner, key: str, *, corrections: Any = None,
                dry_run: bool = False, run_id: str | None = None) -> NodeReplay:
    """Re-parse node ``key``'s pending dead letters and append those that now parse.

    Raises:
        NodeError: the node failed on the replayed records (nothing was appended or marked).
    """
    store = dead_letter_store(runner, key)
    graph = runner.project.graph
    node = graph.node(key).config
    inputs = {up.alias: runner.read_target(up.key) for up in graph.upstream(key)}
    context = RunContext(run_id=run_id or f"dlq-replay-{uuid.uuid4().hex[:12]}",
                         environment=runner.project.env, dry_run=dry_run)
    ran: list[NodeResult] = []

    def append(frame: Any) -> None:
        run = runner.run(key, inputs=inputs, context=context, source=frame, write_mode="append")
        if run.exception is not None:
            raise run.exception
        ran.append(run.result)

    result = replay_dead_letters(store, runner.engine, options=dict(node.read.options or {}),
                                 append=None if dry_run else append, node=key,
                                 corrections=corrections)
    return NodeReplay(result, ran[0] if ran else None)
