"""Metrics and traces of runs (SPEC §10), off unless the project's ``observability`` block turns
them on.

An observer is told when a node finished (in whichever process ran it) and when the run ended;
it exports what it is told. Observers never fail a run: an unreachable endpoint is logged once
per run and the run goes on. With nothing configured, :func:`observers_for` returns an empty
list without importing any exporter, so an unobserved run pays nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TYPE_CHECKING

from odibi_core.results import NodeResult

if TYPE_CHECKING:
    from odibi_core.config.loader import Project

__all__ = ["TRACEPARENT_TAG", "RunInfo", "RunObserver", "notify_node", "notify_run",
           "observers_for", "run_tags_for"]

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


def observers_for(project: Project) -> list[RunObserver]:
    """The observers the project's ``observability`` block asks for (none by default)."""
    config = project.config.observability
    observers: list[RunObserver] = []
    if config.metrics is not None and config.metrics.enabled:
        from odibi_core.observability.metrics import build_metrics_observer

        observers.append(build_metrics_observer(project, config.metrics))
    if config.tracing is not None and config.tracing.enabled:
        from odibi_core.observability.tracing import build_tracing_observer

        observers.append(build_tracing_observer(project, config.tracing))
    return observers


def run_tags_for(project: Project) -> dict[str, str]:
    """Tags to put on a run before it starts (the trace context, when tracing is on)."""
    tracing = project.config.observability.tracing
    if tracing is None or not tracing.enabled:
        return {}
    from odibi_core.observability.tracing import new_run_tags

    return new_run_tags()


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
