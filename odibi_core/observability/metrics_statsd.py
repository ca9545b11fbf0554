"""Metrics to a StatsD daemon over UDP with the ``statsd`` package.

Durations are timers in milliseconds (``|ms``), totals counters (``|c``); the family names lose
``odibi_`` (the configured ``prefix`` takes its place) and their unit suffix:
``<prefix>.pipeline_duration``, ``node_duration``, ``rows_processed``, ``validation_failures``,
``quarantine_rows``. StatsD has no labels and the ``statsd`` package sends no tags, so the labels
go into the stat name (``tag_format``), with characters other than letters, digits, ``_`` and
``-`` in label values replaced by ``_``:

* ``influxdb`` (default), read by Telegraf and Prometheus' ``statsd_exporter``:
  ``odibi.rows_processed,project=shop,environment=dev,pipeline=sales,node=orders,stage=out:4|c``
* ``graphite``: the label values as path parts, in the documented label order:
  ``odibi.rows_processed.shop.dev.sales.orders.out:4|c``

One node's (or pipeline's) lines go out together (``statsd``'s pipeline: as few datagrams as
fit). UDP does not report an absent daemon; an unresolvable host is the failure seen.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from statsd import StatsClient

from odibi_core.config.project import StatsdMetricsConfig
from odibi_core.observability.base import RunInfo
from odibi_core.observability.metric_families import Sample

__all__ = ["StatsdBackend", "stat_name"]

_UNSAFE = re.compile(r"[^A-Za-z0-9_\-]")
_SUFFIXES = ("_seconds", "_total")


def stat_name(sample: Sample, tag_format: str) -> str:
    """The stat (without prefix) ``sample`` is sent as."""
    name = sample.family.removeprefix("odibi_")
    for suffix in _SUFFIXES:
        name = name.removesuffix(suffix)
    values = [(key, _UNSAFE.sub("_", value) or "_") for key, value in sample.labels]
    if tag_format == "graphite":
        return ".".join([name, *(value for _, value in values)])
    return ",".join([name, *(f"{key}={value}" for key, value in values)])


class StatsdBackend:
    """Sends samples as StatsD timers and counters."""

    def __init__(self, config: StatsdMetricsConfig) -> None:
        host, _, port = config.endpoint.rpartition(":")
        self.host = host.strip("[]")
        self.port = int(port)
        self.prefix = config.prefix
        self.tag_format = config.tag_format
        self.target = f"the StatsD daemon at {config.endpoint}"
        self._client: StatsClient | None = None

    def _statsd(self) -> StatsClient:
        if self._client is None:  # resolves the host: may raise, the observer logs it
            self._client = StatsClient(self.host, self.port, prefix=self.prefix,
                                       ipv6=":" in self.host)
        return self._client

    def send(self, samples: Sequence[Sample], run: RunInfo, pipeline: str,
             node: str | None) -> None:
        with self._statsd().pipeline() as pipe:
            for sample in samples:
                stat = stat_name(sample, self.tag_format)
                if sample.kind == "duration":
                    pipe.timing(stat, sample.value * 1000.0)
                else:
                    pipe.incr(stat, int(sample.value))
