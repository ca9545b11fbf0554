"""Metrics to Azure Monitor (Application Insights) through OpenTelemetry metrics.

A private ``MeterProvider`` (never the global one) with a ``PeriodicExportingMetricReader`` that
exports only when flushed (interval infinite), flushed at every node's and pipeline's end, into
``azure-monitor-opentelemetry-exporter``'s ``AzureMonitorMetricExporter``. Durations are
histograms (unit ``s``: Application Insights keeps count, sum, min and max), totals counters
(delta temporality, as the exporter asks); the labels are the points' attributes
(``customDimensions``). The resource is ``service.name=odibi``, ``service.namespace=<project>``.

The ingestion endpoint is the connection string's ``IngestionEndpoint`` unless ``endpoint`` is
set. A batch run exports and exits, so the exporter's extras are turned off: no offline storage
(a failed export is dropped, not retried from disk by a later process), no HTTP retries (the
next flush is the retry), and — unless the environment already says otherwise — no SDK
self-telemetry (``APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL``,
``APPLICATIONINSIGHTS_SDKSTATS_DISABLED``) and no remote-configuration polling
(``APPLICATIONINSIGHTS_CONTROLPLANE_DISABLED``). The exporter's own log lines about a failed
export are folded into odibi's single warning per run.
"""

from __future__ import annotations

import logging
import math
import os
import threading
from collections.abc import Sequence
from typing import Any

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricExportResult, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource

from odibi_core.config.project import AzureMonitorMetricsConfig
from odibi_core.observability.base import RunInfo
from odibi_core.observability.metric_families import FAMILIES, Sample

__all__ = ["AzureMonitorBackend", "connection_string_for"]

_QUIET_DEFAULTS = {
    "APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL": "true",
    "APPLICATIONINSIGHTS_SDKSTATS_DISABLED": "true",
    "APPLICATIONINSIGHTS_CONTROLPLANE_DISABLED": "true",
}
# Loggers through which the exporter reports a failed export (once per flush).
_EXPORTER_LOGGERS = ("azure.monitor.opentelemetry.exporter.export._base",
                     "azure.monitor.opentelemetry.exporter.export.metrics._exporter",
                     "azure.core.pipeline.policies._retry")


def connection_string_for(config: AzureMonitorMetricsConfig) -> str:
    """The configured connection string, with ``IngestionEndpoint`` replaced by ``endpoint``
    when that is set."""
    if config.endpoint is None:
        return config.connection_string
    parts = [p for p in config.connection_string.split(";")
             if p.strip() and p.split("=", 1)[0].strip().lower() != "ingestionendpoint"]
    return ";".join([*parts, f"IngestionEndpoint={config.endpoint}"])


class _Flushing(threading.local):
    active = False
    messages: list[str]


class _HoldDuringFlush(logging.Filter):
    """Keeps the exporter's failure messages logged by this thread during a flush (for odibi's
    one warning) instead of letting every flush log them."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not _FLUSHING.active:
            return True
        if record.levelno >= logging.WARNING:
            _FLUSHING.messages.append(record.getMessage())
        return False


_FLUSHING = _Flushing()
_HOLD = _HoldDuringFlush()
for _name in _EXPORTER_LOGGERS:
    logging.getLogger(_name).addFilter(_HOLD)


class AzureMonitorBackend:
    """Records samples on OpenTelemetry instruments and flushes them to Azure Monitor."""

    def __init__(self, config: AzureMonitorMetricsConfig, *, project: str) -> None:
        for name, value in _QUIET_DEFAULTS.items():
            os.environ.setdefault(name, value)
        from azure.monitor.opentelemetry.exporter import AzureMonitorMetricExporter

        class _Exporter(AzureMonitorMetricExporter):  # type: ignore[misc]
            """Remembers the last export's result (the reader does not return it)."""

            last_result: MetricExportResult | None = None

            def export(self, metrics_data: Any, timeout_millis: float = 10_000,
                       **kwargs: Any) -> MetricExportResult:
                result = super().export(metrics_data, timeout_millis, **kwargs)
                self.last_result = result
                return result

        connection_string = connection_string_for(config)
        self.timeout = config.timeout
        self.target = f"Azure Monitor at {_ingestion_endpoint(connection_string)}"
        self._exporter = _Exporter(connection_string=connection_string,
                                   disable_offline_storage=True, timeout=config.timeout,
                                   retry_total=0)
        reader = PeriodicExportingMetricReader(self._exporter, export_interval_millis=math.inf)
        self._provider = MeterProvider(
            metric_readers=[reader], shutdown_on_exit=False,
            resource=Resource.create({"service.name": "odibi", "service.namespace": project}))
        meter = self._provider.get_meter("odibi")
        self._instruments: dict[str, Any] = {
            name: meter.create_histogram(name, unit="s", description=text)
            if kind == "duration" else meter.create_counter(name, description=text)
            for name, (kind, text) in FAMILIES.items()
        }
        self._lock = threading.Lock()

    def send(self, samples: Sequence[Sample], run: RunInfo, pipeline: str,
             node: str | None) -> None:
        with self._lock:
            for sample in samples:
                attributes = dict(sample.labels)
                instrument = self._instruments[sample.family]
                if sample.kind == "duration":
                    instrument.record(sample.value, attributes=attributes)
                else:
                    instrument.add(sample.value, attributes=attributes)
            _FLUSHING.active, _FLUSHING.messages = True, []
            self._exporter.last_result = None
            try:
                self._provider.force_flush(timeout_millis=self.timeout * 1000)
            finally:
                _FLUSHING.active = False
            if self._exporter.last_result is MetricExportResult.FAILURE:
                reason = "; ".join(dict.fromkeys(
                    m.removeprefix("Retrying due to ") for m in _FLUSHING.messages)) \
                    or "the export failed"
                raise ConnectionError(reason)


def _ingestion_endpoint(connection_string: str) -> str:
    for part in connection_string.split(";"):
        key, _, value = part.partition("=")
        if key.strip().lower() == "ingestionendpoint":
            return value.strip()
    return "the default ingestion endpoint"
