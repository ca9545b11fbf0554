"""Metrics and traces of runs (SPEC §10), off unless the project's ``observability`` block turns
them on.

An observer is told when a node finished (in whichever process ran it) and when the run ended;
it exports what it is told. Observers never fail a run: an unreachable endpoint is logged once
per run and the run goes on. With nothing configured, :func:`observers_for` returns an empty
list without importing any exporter, so an unobserved run pays nothing.

The run and observer types and the notifications live in :mod:`odibi_core.observability.base`
(the backends import them from there); this package adds choosing the observers of a project.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from odibi_core.observability.base import (
    TRACEPARENT_TAG,
    RunInfo,
    RunObserver,
    notify_node,
    notify_run,
)
from odibi_core.observability.metrics import build_metrics_observer

if TYPE_CHECKING:
    from odibi_core.config.loader import Project

__all__ = ["TRACEPARENT_TAG", "RunInfo", "RunObserver", "notify_node", "notify_run",
           "observers_for", "run_tags_for"]


def observers_for(project: Project) -> list[RunObserver]:
    """The observers the project's ``observability`` block asks for (none by default)."""
    config = project.config.observability
    observers: list[RunObserver] = []
    if config.metrics is not None and config.metrics.enabled:
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
