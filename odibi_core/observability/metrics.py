"""Run metrics (SPEC §10) for Prometheus (pushgateway), StatsD or Azure Monitor.

Five families, sent at the end of every node (from the process that ran it) and at the end of
every pipeline's part of a run (from the ``odibi run`` / ``odibi resume`` process):

==================================  ========  ==================================================
family                              kind      labels besides the common ones
==================================  ========  ==================================================
``odibi_pipeline_duration_seconds`` duration  ``status`` (the pipeline's: success / failed)
``odibi_node_duration_seconds``     duration  ``node``, ``status`` (success / failed)
``odibi_rows_processed_total``      counter   ``node``, ``stage``: ``in`` (rows read or received),
                                              ``out`` (after transform and validation),
                                              ``written`` (reached the target; 0 on a dry run)
``odibi_validation_failures_total`` counter   ``node``, ``kind`` (contract / validation),
                                              ``test`` (its name), ``on_fail``; 1 per failed
                                              test, 0 per passed one
``odibi_quarantine_rows_total``     counter   ``node``; rows that failed an ``on_fail:
                                              quarantine`` test (0 for a node without any)
==================================  ========  ==================================================

Common labels, in this order: ``project``, ``environment`` (the selected environment, else the
configured ``labels.environment``, else ``default``), the configured ``labels`` (sorted by name),
``pipeline``. A node's families are sent for the nodes that ran (not for skipped ones); a
pipeline's duration spans its nodes that ran in this run (first start to last end).

Backends:

* ``prometheus`` (:mod:`odibi_core.observability.metrics_prometheus`): ``prometheus_client``
  pushes with a grouping key per ``job``/project/pipeline/run (plus ``node`` for a node's push),
  so no push replaces another's. ``dagster-prometheus`` is not used: it is a Dagster resource
  (odibi_core does not import Dagster, and the run-end push happens outside any asset), and it
  keeps one registry per resource where each push here needs its own registry and grouping key.
* ``statsd`` (:mod:`odibi_core.observability.metrics_statsd`): the ``statsd`` package over UDP;
  durations are timers (milliseconds), totals counters. It has no tags, so the labels are written
  into the stat name (``tag_format``).
* ``azure_monitor`` (:mod:`odibi_core.observability.metrics_azure`): OpenTelemetry metrics
  (histograms for durations, counters for totals) exported by
  ``azure-monitor-opentelemetry-exporter``, flushed at every node and pipeline end.

A failing endpoint never fails a run: the first failure of a run is logged (once per run and
process), later ones are not; every send is bounded by the backend's timeout.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from odibi_core.observability.base import RunInfo
from odibi_core.observability.metric_families import Sample
from odibi_core.results import NodeResult

if TYPE_CHECKING:
    from odibi_core.config.loader import Project

__all__ = ["MetricsObserver", "build_metrics_observer", "node_samples", "pipeline_samples"]

log = logging.getLogger("odibi.observability.metrics")

def _common(run: RunInfo, pipeline: str, labels: dict[str, str]) -> list[tuple[str, str]]:
    environment = run.environment or labels.get("environment") or "default"
    extra = sorted((k, v) for k, v in labels.items() if k != "environment")
    return [("project", run.project), ("environment", environment), *extra,
            ("pipeline", pipeline)]


def node_samples(run: RunInfo, result: NodeResult, labels: dict[str, str]) -> list[Sample]:
    """The node families for ``result`` (none for a skipped node)."""
    if result.status == "skipped":
        return []
    base = [*_common(run, result.pipeline, labels), ("node", result.node)]
    samples = [Sample("odibi_node_duration_seconds", float(result.duration_seconds),
                      (*base, ("status", result.status)))]
    for stage, rows in (("in", result.rows_in), ("out", result.rows_out),
                        ("written", result.rows_written)):
        if rows is not None:
            samples.append(Sample("odibi_rows_processed_total", float(rows),
                                  (*base, ("stage", stage))))
    failures: dict[tuple[tuple[str, str], ...], float] = {}
    for checks in (result.contracts, result.validation):
        for test in checks.tests if checks is not None else ():
            if test.skipped:
                continue
            key = (*base, ("kind", test.kind), ("test", test.name), ("on_fail", test.on_fail))
            failures[key] = failures.get(key, 0.0) + (1.0 if test.failed else 0.0)
    samples += [Sample("odibi_validation_failures_total", v, k) for k, v in failures.items()]
    quarantined = result.quarantine.rows if result.quarantine is not None else 0
    samples.append(Sample("odibi_quarantine_rows_total", float(quarantined), tuple(base)))
    return samples


def pipeline_samples(run: RunInfo, pipeline: str, results: Sequence[NodeResult], status: str,
                     labels: dict[str, str]) -> list[Sample]:
    """``odibi_pipeline_duration_seconds`` of ``pipeline``: from the first node's start to the
    last node's end among the nodes that ran (from the run's start to now when none did)."""
    spans = [(_epoch(r.started_at), r.duration_seconds) for r in results
             if r.status != "skipped" and r.started_at]
    if spans:
        duration = max(start + seconds for start, seconds in spans) - min(s for s, _ in spans)
    else:
        duration = time.time() - _epoch(run.started_at) if run.started_at else 0.0
    return [Sample("odibi_pipeline_duration_seconds", max(duration, 0.0),
                   (*_common(run, pipeline, labels), ("status", status)))]


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


class Backend(Protocol):
    """Where samples go. ``send`` raises on failure; the observer logs it."""

    #: Names the endpoint in the warning (never with credentials).
    target: str

    def send(self, samples: Sequence[Sample], run: RunInfo, pipeline: str,
             node: str | None) -> None:
        """Send ``samples`` of ``pipeline`` (and of ``node`` for a node's samples)."""


# (target, run id) pairs a failure was logged for, in this process.
_WARNED: set[tuple[str, str]] = set()
_WARNED_LOCK = threading.Lock()


class MetricsObserver:
    """A :class:`~odibi_core.observability.RunObserver` turning results into samples for a
    backend; a failing backend is logged once per run and never raises."""

    def __init__(self, backend: Backend, labels: dict[str, str]) -> None:
        self.backend = backend
        self.labels = dict(labels)

    def node_finished(self, run: RunInfo, result: NodeResult) -> None:
        samples = node_samples(run, result, self.labels)
        if samples:
            self._send(samples, run, result.pipeline, result.node)

    def run_finished(self, run: RunInfo, pipeline: str, results: Sequence[NodeResult],
                     status: str) -> None:
        self._send(pipeline_samples(run, pipeline, results, status, self.labels), run,
                   pipeline, None)

    def _send(self, samples: Sequence[Sample], run: RunInfo, pipeline: str,
              node: str | None) -> None:
        try:
            self.backend.send(samples, run, pipeline, node)
        except Exception as exc:  # noqa: BLE001 - metrics never fail a run
            key = (self.backend.target, run.run_id)
            with _WARNED_LOCK:
                if key in _WARNED:
                    return
                _WARNED.add(key)
            log.warning(
                "odibi metrics: sending to %s failed (%s: %s); run %s goes on, its metrics "
                "may be incomplete (further failures of this run are not logged again).",
                self.backend.target, type(exc).__name__, exc, run.run_id)


def build_metrics_observer(project: Project, config: Any) -> MetricsObserver:
    """The observer for ``config`` (a Prometheus, StatsD or Azure Monitor metrics config); only
    the chosen backend's library is imported."""
    backend: Backend
    if config.type == "prometheus":
        from odibi_core.observability.metrics_prometheus import PrometheusBackend

        backend = PrometheusBackend(config)
    elif config.type == "statsd":
        from odibi_core.observability.metrics_statsd import StatsdBackend

        backend = StatsdBackend(config)
    elif config.type == "azure_monitor":
        from odibi_core.observability.metrics_azure import AzureMonitorBackend

        backend = AzureMonitorBackend(config, project=project.config.project)
    else:  # pragma: no cover - the config model admits only the three
        raise ValueError(f"unknown metrics type {config.type!r}")
    return MetricsObserver(backend, config.labels)
