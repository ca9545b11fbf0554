"""What observers are told and how: the run a node belongs to, the observer protocol, and
notifying observers without ever failing a run."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from odibi_core.results import NodeResult

__all__ = ["TRACEPARENT_TAG", "RunInfo", "RunObserver", "notify_node", "notify_run"]

log = logging.getLogger("odibi.observability")

#: Run tag carrying the W3C ``traceparent`` of the run's span, so that every step process joins
#: the run's trace.
TRACEPARENT_TAG = "odibi/traceparent"


@dataclass(frozen=True)
class RunInfo:
    """The run a node belongs to, as observers see it."""

    project: str
    run_id: str
    environment: str | None = None
    engine: str = "pandas"
    started_at: str | None = None  # ISO-8601 UTC
    parent_run_id: str | None = None
    tags: dict[str, str] = field(default_factory=dict)  # the Dagster run's tags


class RunObserver(Protocol):
    def node_finished(self, run: RunInfo, result: NodeResult) -> None:
        """``result`` of one node (success or failure), right after it ended."""

    def run_finished(self, run: RunInfo, pipeline: str, results: Sequence[NodeResult],
                     status: str) -> None:
        """A pipeline's part of a run ended with ``status`` (success / failed)."""


def notify_node(observers: Sequence[RunObserver], run: RunInfo, result: NodeResult) -> None:
    for observer in observers:
        _safely(observer, "node_finished", lambda o=observer: o.node_finished(run, result))


def notify_run(observers: Sequence[RunObserver], run: RunInfo, pipeline: str,
               results: Sequence[NodeResult], status: str) -> None:
    for observer in observers:
        _safely(observer, "run_finished",
                lambda o=observer: o.run_finished(run, pipeline, results, status))


def _safely(observer: Any, what: str, call: Any) -> None:
    """An observer's failure is logged, never raised: observability must not fail a run."""
    try:
        call()
    except Exception as exc:  # noqa: BLE001
        log.warning("odibi observability: %s.%s failed (%s: %s); the run goes on.",
                    type(observer).__name__, what, type(exc).__name__, exc)
