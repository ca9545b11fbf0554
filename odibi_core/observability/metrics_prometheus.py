"""Metrics to a Prometheus pushgateway with ``prometheus_client``.

Every push has its own registry and a grouping key ``job``/``project``/``pipeline``/``run_id``,
plus ``node`` for a node's push: a node's push (PUT) replaces only that node's group (a retried
node's last attempt wins), the run-end push only the pipeline's group, so a scrape of the gateway
shows every node of every run with those grouping labels, and the pipeline's duration beside
them. Counters carry the run's value (a new series per run): aggregate over ``run_id`` in
PromQL. The gateway keeps groups until they are deleted (its API or ``--persistence``
housekeeping); that is the price of a group per run.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from prometheus_client import CollectorRegistry, push_to_gateway
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from odibi_core.config.project import PrometheusMetricsConfig
from odibi_core.observability.base import RunInfo
from odibi_core.observability.metric_families import FAMILIES, Sample

__all__ = ["PrometheusBackend", "metric_families"]


def metric_families(samples: Sequence[Sample]) -> list[Metric]:
    """``samples`` as Prometheus families: durations gauges (this run's value), totals counters
    (without ``_created``)."""
    families: dict[str, Metric] = {}
    for sample in samples:
        family = families.get(sample.family)
        if family is None:
            kind, text = FAMILIES[sample.family]
            names = [name for name, _ in sample.labels]
            family = GaugeMetricFamily(sample.family, text, labels=names) if kind == "duration" \
                else CounterMetricFamily(sample.family, text, labels=names)
            families[sample.family] = family
        family.add_metric([value for _, value in sample.labels], sample.value)
    return list(families.values())


class _Samples:
    """A collector yielding one push's families."""

    def __init__(self, families: list[Metric]) -> None:
        self._families = families

    def collect(self) -> Iterator[Metric]:
        yield from self._families


class PrometheusBackend:
    """Pushes each node's and each pipeline's samples to the configured pushgateway."""

    def __init__(self, config: PrometheusMetricsConfig) -> None:
        self.endpoint = config.endpoint
        self.job = config.job
        self.timeout = config.timeout
        self.target = f"the Prometheus pushgateway at {self.endpoint}"

    def grouping_key(self, run: RunInfo, pipeline: str, node: str | None) -> dict[str, str]:
        key = {"project": run.project, "pipeline": pipeline, "run_id": run.run_id}
        if node is not None:
            key["node"] = node
        return key

    def send(self, samples: Sequence[Sample], run: RunInfo, pipeline: str,
             node: str | None) -> None:
        registry = CollectorRegistry(auto_describe=False)
        registry.register(_Samples(metric_families(samples)))
        push_to_gateway(self.endpoint, job=self.job, registry=registry,
                        grouping_key=self.grouping_key(run, pipeline, node),
                        timeout=self.timeout)
