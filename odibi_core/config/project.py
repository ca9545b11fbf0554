"""The project file (SPEC §1, §3): project-wide blocks, pipelines, and lookups over them."""

from __future__ import annotations

import datetime as dt
import difflib
import re
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import ConfigDict, Field, field_validator, model_validator

from odibi_core.config.base import Identifier, OdibiModel, config_error
from odibi_core.config.connections import ConnectionConfig
from odibi_core.config.node import NodeConfig
from odibi_core.config.orchestration import JobConfig, Schedule, Sensor

__all__ = [
    "AzureMonitorMetricsConfig",
    "MetricsConfig",
    "ObservabilityConfig",
    "PartitionsConfig",
    "PipelineConfig",
    "ProfilingConfig",
    "ProjectConfig",
    "PrometheusMetricsConfig",
    "RetryConfig",
    "StatsdMetricsConfig",
    "StoryConfig",
    "SystemConfig",
    "TracingConfig",
]


class StoryConfig(OdibiModel):
    """Where run stories go: ``<path>/<pipeline>/<date>/run_<time>.{json,html,md}`` on
    ``connection``, with an ``index.html`` of recent runs per pipeline.

    Retention runs each time a story is written: a pipeline's stories that started more than
    ``retention_days`` ago are deleted, and so are all but its ``retention_runs`` newest (``null``
    turns either limit off). The story just written is always kept.
    """

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"connection": "lake",
         "path": "_stories",
         "max_sample_rows": 10,
         "retention_days": 30,
         "retention_runs": 200},
    ]})

    connection: str
    """The connection the stories are written to."""
    path: str
    """Folder on that connection under which each pipeline's stories go."""
    max_sample_rows: Annotated[int, Field(ge=0)] = 10
    """Rows of each node's output shown as a sample in the story (0: none); secrets and privacy
    columns are masked."""
    retention_days: Annotated[int, Field(ge=1)] | None = 30
    """Delete a pipeline's stories that started more than this many days ago; null keeps them."""
    retention_runs: Annotated[int, Field(ge=1)] | None = None
    """Keep only this many newest stories per pipeline; null (the default) keeps all."""


class SystemConfig(OdibiModel):
    """Where run state goes: high-water marks, the write ledger, run records."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"connection": "lake", "path": "_odibi_system"},
    ]})

    connection: str
    """The connection the run state is written to."""
    path: str
    """Folder on that connection for high-water marks, the write ledger, run records and locks."""


class RetryConfig(OdibiModel):
    """Retries of transient failures (SPEC §8; which errors are transient is decided by
    :mod:`odibi_core.error_taxonomy`). ``max_attempts`` counts the first attempt too.

    The wait before retry *n* (1 = the first retry) is Dagster's ``RetryPolicy`` formula on
    ``initial_delay`` *d*: ``exponential`` (2**n - 1) * d (d, 3d, 7d, ...), ``linear`` n * d,
    ``constant`` d. ``jitter`` then randomises it: ``full`` waits a random fraction of it,
    ``plus_minus`` adds a random amount in [-d, +d]; ``none`` (the default, Dagster's too) keeps
    it exact. Use ``full`` when many nodes share a throttled store, so that their retries spread
    out. ``max_delay`` caps every wait: Dagster's ``RetryPolicy`` has no cap, so odibi computes
    the (capped) wait itself and requests each retry with it; the policy shown on the asset is
    the uncapped one.
    """

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"enabled": True,
         "max_attempts": 3,
         "backoff": "exponential",
         "initial_delay": 1.0,
         "max_delay": 60,
         "jitter": "full"},
    ]})

    enabled: bool = True
    """Retry transient failures at all; false runs each node once."""
    max_attempts: Annotated[int, Field(ge=1)] = 3
    """Attempts in all, the first one included (1: no retry)."""
    backoff: Literal["exponential", "linear", "constant"] = "exponential"
    """How the wait grows from one retry to the next: exponential, linear or constant."""
    initial_delay: Annotated[float, Field(ge=0)] = 1.0
    """Seconds: the wait before the first retry, and the unit of the backoff."""
    max_delay: Annotated[float, Field(ge=0)] = 60.0
    """Seconds: no wait is longer than this."""
    jitter: Literal["none", "full", "plus_minus"] = "none"
    """Randomise each wait: none, full (a random fraction of it) or plus_minus (± initial_delay)."""

    @model_validator(mode="after")
    def _delays(self) -> RetryConfig:
        if self.max_delay < self.initial_delay:
            raise config_error(
                f"max_delay ({self.max_delay}) is below initial_delay ({self.initial_delay}).",
                fix="Make max_delay at least initial_delay.", key="max_delay")
        return self


class PolarsConfig(OdibiModel):
    """Settings of the polars engine (ignored by the others).

    ``streaming: false`` (the default) computes a node's output once and keeps it in memory for
    validation, quarantine, the write and the row counts. ``streaming: true`` keeps it a lazy
    plan: each of those passes runs on polars' streaming engine and the Delta write streams
    batches, so a node's data need not fit in memory (the plan is computed more than once).
    """

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"streaming": True},
    ]})

    streaming: bool = False
    """Keep a node's output a lazy plan run on polars' streaming engine, so it need not fit in
    memory."""


ProfileMetric = Literal["null_percentage", "unique_count", "min_max", "histograms"]


class ProfilingConfig(OdibiModel):
    """Per-column profiles in the story and the Dagster metadata; ``sample_rows`` caps the rows
    profiled (all rows when null)."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"enabled": True, "include": ["null_percentage", "min_max"], "sample_rows": 100000},
    ]})

    enabled: bool = False
    """Profile each node's output columns (story and Dagster metadata)."""
    include: list[ProfileMetric] = Field(
        default_factory=lambda: ["null_percentage", "unique_count", "min_max", "histograms"]
    )
    """The statistics to compute per column."""
    sample_rows: Annotated[int, Field(ge=1)] | None = None
    """Profile at most this many rows; null profiles every row."""


# Label names odibi sets itself (or Prometheus reserves); configured ``labels`` may not reuse them.
# ``environment`` may be configured: it is the value used when no environment is selected.
RESERVED_METRIC_LABELS = frozenset({
    "project", "pipeline", "node", "status", "stage", "kind", "test", "run_id", "job",
    "instance", "le", "quantile",
})
_LABEL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _check_metric_labels(labels: dict[str, str]) -> dict[str, str]:
    for name in labels:
        if not _LABEL_NAME.match(name) or name.startswith("__"):
            raise config_error(
                f"'{name}' is not a valid metric label name: label names use letters, digits "
                "and '_', do not start with a digit and do not start with '__'.",
                fix=f"Rename it, e.g. '{re.sub(r'[^A-Za-z0-9_]', '_', name).lstrip('_') or 'label'}'.",
                key=f"labels.{name}")
        if name in RESERVED_METRIC_LABELS:
            raise config_error(
                f"Label '{name}' is set by odibi on every metric; a configured label may not "
                "replace it.",
                fix=f"Rename it (reserved: {', '.join(sorted(RESERVED_METRIC_LABELS))}).",
                key=f"labels.{name}")
    return labels


def _check_http_url(value: str, what: str, example: str) -> str:
    parsed = urlsplit(value)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise config_error(f"'{value}' is not a {what} URL: it needs http:// or https:// and a "
                           "host.", fix=f"Write it like '{example}'.")
    try:
        parsed.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        raise config_error(f"'{value}' has an invalid port.",
                           fix=f"Write it like '{example}'.") from None
    return value


class PrometheusMetricsConfig(OdibiModel):
    """Push to a Prometheus pushgateway at ``endpoint`` (``http(s)://host:port``) under ``job``;
    ``timeout`` bounds each push (seconds)."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"type": "prometheus",
         "endpoint": "http://localhost:9091",
         "job": "odibi",
         "labels": {"team": "data"}},
    ]})

    type: Literal["prometheus"]
    """Push metrics to a Prometheus pushgateway."""
    enabled: bool = True
    """Send metrics; false keeps the block but sends nothing."""
    endpoint: str
    """The pushgateway's URL, http(s)://host:port."""
    job: str = "odibi"
    """The job label the metrics are pushed under."""
    labels: dict[str, str] = Field(default_factory=dict)
    """Extra labels on every metric (not odibi's own: project, pipeline, node, ...); environment
    may be set."""
    timeout: Annotated[float, Field(gt=0)] = 5.0
    """Seconds one push may take."""

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, value: str) -> str:
        return _check_http_url(value, "pushgateway", "http://localhost:9091")

    @field_validator("labels")
    @classmethod
    def _labels(cls, value: dict[str, str]) -> dict[str, str]:
        return _check_metric_labels(value)


class StatsdMetricsConfig(OdibiModel):
    """Send to a StatsD daemon over UDP; ``endpoint`` is ``host:port``. StatsD has no labels:
    ``tag_format`` says how they are written into the metric name (``influxdb``:
    ``odibi.rows_processed,project=p,node=n:5|c``; ``graphite``: label values as path parts,
    ``odibi.rows_processed.p.dev.sales.n.out:5|c``)."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"type": "statsd",
         "endpoint": "localhost:8125",
         "prefix": "odibi",
         "tag_format": "influxdb"},
    ]})

    type: Literal["statsd"]
    """Send metrics to a StatsD daemon over UDP."""
    enabled: bool = True
    """Send metrics; false keeps the block but sends nothing."""
    endpoint: str
    """The daemon's host:port."""
    prefix: str = "odibi"
    """Prefix of every metric name (dotted parts)."""
    tag_format: Literal["influxdb", "graphite"] = "influxdb"
    """How labels are written into the metric name: influxdb (name,label=value) or graphite (values
    as path parts)."""
    labels: dict[str, str] = Field(default_factory=dict)
    """Extra labels on every metric (not odibi's own: project, pipeline, node, ...)."""

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise config_error(f"'{value}' is not a StatsD endpoint: it is 'host:port'.",
                               fix="Write it like 'localhost:8125'.")
        return value

    @field_validator("prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9_\-]+(\.[A-Za-z0-9_\-]+)*", value):
            raise config_error(f"'{value}' is not a StatsD prefix: use letters, digits, '_', "
                               "'-', parts separated by '.'.", fix="Write it like 'odibi'.")
        return value

    @field_validator("labels")
    @classmethod
    def _labels(cls, value: dict[str, str]) -> dict[str, str]:
        return _check_metric_labels(value)


class AzureMonitorMetricsConfig(OdibiModel):
    """Send to Azure Monitor (Application Insights) through OpenTelemetry metrics;
    ``connection_string`` is the Application Insights one, ``endpoint`` (optional) replaces its
    ``IngestionEndpoint``; ``timeout`` bounds each export (seconds)."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"type": "azure_monitor",
         "connection_string": "${APPLICATIONINSIGHTS_CONNECTION_STRING}"},
    ]})

    type: Literal["azure_monitor"]
    """Send metrics to Azure Monitor (Application Insights) through OpenTelemetry."""
    enabled: bool = True
    """Send metrics; false keeps the block but sends nothing."""
    connection_string: str
    """The Application Insights connection string (InstrumentationKey=...;IngestionEndpoint=...);
    usually ${APPLICATIONINSIGHTS_CONNECTION_STRING}."""
    endpoint: str | None = None
    """An ingestion endpoint replacing the connection string's IngestionEndpoint."""
    labels: dict[str, str] = Field(default_factory=dict)
    """Extra labels (dimensions) on every metric."""
    timeout: Annotated[float, Field(gt=0)] = 10.0
    """Seconds one export may take."""

    @field_validator("connection_string")
    @classmethod
    def _connection_string(cls, value: str) -> str:
        keys = {part.split("=", 1)[0].strip().lower() for part in value.split(";") if "=" in part}
        if "instrumentationkey" not in keys:
            raise config_error(
                "The connection string has no InstrumentationKey.",
                fix="Copy the Application Insights resource's connection string "
                    "('InstrumentationKey=...;IngestionEndpoint=https://...'), e.g. from "
                    "${APPLICATIONINSIGHTS_CONNECTION_STRING}.")
        return value

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, value: str | None) -> str | None:
        return None if value is None else _check_http_url(
            value, "ingestion endpoint", "https://westeurope-5.in.applicationinsights.azure.com/")

    @field_validator("labels")
    @classmethod
    def _labels(cls, value: dict[str, str]) -> dict[str, str]:
        return _check_metric_labels(value)


MetricsConfig = Annotated[
    PrometheusMetricsConfig | StatsdMetricsConfig | AzureMonitorMetricsConfig,
    Field(discriminator="type"),
]


class TracingConfig(OdibiModel):
    """OpenTelemetry spans: one per pipeline run, one per node (docs/observability.md).

    ``endpoint`` is the OTLP collector; unset, the SDK's ``OTEL_EXPORTER_OTLP_*`` variables or
    its default apply. ``protocol`` unset is inferred from ``endpoint``: ``http`` for port 4318
    or a ``/v1/traces`` path, else ``grpc``. ``timeout`` bounds one export, retries included.
    """

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"enabled": True,
         "exporter": "otlp",
         "endpoint": "http://localhost:4318/v1/traces",
         "service_name": "retail"},
    ]})

    enabled: bool = False
    """Export OpenTelemetry spans: one per pipeline run, one per node."""
    exporter: Literal["otlp", "console"] = "otlp"
    """otlp (to a collector) or console (printed, for debugging)."""
    endpoint: str | None = None
    """The OTLP collector's URL; unset, the OTEL_EXPORTER_OTLP_* variables or the SDK default
    apply."""
    protocol: Literal["grpc", "http"] | None = None
    """OTLP over grpc or http; unset, inferred from endpoint (http for port 4318 or a /v1/traces
    path)."""
    headers: dict[str, str] = Field(default_factory=dict)
    """Headers sent with each export (e.g. an API key)."""
    service_name: str = "odibi"
    """The service.name resource attribute of the spans."""
    timeout: Annotated[float, Field(gt=0)] = 5.0
    """Seconds one export may take, retries included."""


class ObservabilityConfig(OdibiModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"metrics": {"type": "prometheus",
                     "endpoint": "http://localhost:9091",
                     "labels": {"environment": "dev"}},
         "tracing": {"enabled": True, "endpoint": "http://localhost:4317"}},
    ]})

    metrics: MetricsConfig | None = None
    """Where run metrics are sent, by type: prometheus, statsd or azure_monitor. Off when absent."""
    tracing: TracingConfig | None = None
    """OpenTelemetry tracing of runs and nodes."""


class PartitionsConfig(OdibiModel):
    """Time partitions of a pipeline's assets (Dagster ``TimeWindowPartitionsDefinition``).

    ``column`` (a date or timestamp column) ties a partition to rows: a node that reads keeps
    the partition's rows, an ``overwrite`` replaces exactly them, an ``append`` is the
    partition's batch (a repeat appends nothing). ``end`` is exclusive, as in Dagster
    (``end: 2026-02-01`` gives the days of January); hourly partitions need a timestamp column.
    """

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"type": "daily", "start": "2026-01-01", "column": "order_date", "timezone": "UTC"},
    ]})

    type: Literal["hourly", "daily", "weekly", "monthly"] = "daily"
    """The partition size: hourly, daily, weekly or monthly."""
    start: dt.date | dt.datetime
    """The first partition's start (a date, or a timestamp)."""
    end: dt.date | dt.datetime | None = None
    """The end, exclusive; absent, partitions go on up to now."""
    column: str | None = None
    """A date or timestamp column that ties rows to partitions: reads keep the partition's rows,
    overwrites replace exactly them."""
    timezone: str = "UTC"
    """The time zone partition boundaries are in."""

    @model_validator(mode="after")
    def _ordered(self) -> PartitionsConfig:
        if self.end is not None and str(self.end) <= str(self.start):
            raise config_error(f"partitions.end ({self.end}) is not after start ({self.start}).",
                               fix="Set end after start, or leave it out (open-ended).",
                               key="end")
        return self


class PipelineConfig(OdibiModel):
    """A named, ordered list of nodes; a Dagster asset group and job."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"pipeline": "sales",
         "layer": "silver",
         "schedule": "0 6 * * *",
         "on_failure": "rollback",
         "nodes": [{"name": "clean_orders",
                    "inputs": {"orders": "$bronze.raw_orders"},
                    "transform": {"steps": ["SELECT * FROM orders WHERE amount > 0"]},
                    "write": {"connection": "lake",
                              "format": "delta",
                              "path": "silver/orders"}}]},
    ]})

    pipeline: Identifier
    """The pipeline's name: its Dagster asset group and job, and the first part of its assets'
    keys."""
    layer: str | None = None
    """A label for the pipeline's layer (bronze, silver, gold), shown in stories and Dagster."""
    description: str | None = None
    """What the pipeline does, shown in Dagster."""
    schedule: Schedule | None = None
    """Run the pipeline on a schedule: a cron string, or a block with timezone and default_status.
    """
    sensor: Sensor | None = None
    """Run the pipeline when files arrive (type: file_arrival, the default) or when a source
    changed (type: source_change)."""
    on_failure: Literal["keep", "rollback"] = "keep"
    """keep what a failed run wrote, or rollback: restore every table the run wrote to its version
    from before the run."""
    partitions: PartitionsConfig | None = None
    """Time partitions of the pipeline's assets."""
    nodes: Annotated[list[NodeConfig], Field(min_length=1)]
    """The pipeline's nodes, in order; each is one Dagster asset."""

    @property
    def name(self) -> str:
        """The pipeline's name (the ``pipeline:`` key)."""
        return self.pipeline

    def node(self, name: str) -> NodeConfig:
        """The node called ``name``.

        Raises:
            KeyError: no such node; the message suggests the nearest name.
        """
        for node in self.nodes:
            if node.name == name:
                return node
        names = [node.name for node in self.nodes]
        raise KeyError(_not_found("node", name, names, where=f"pipeline '{self.pipeline}'"))


class ProjectConfig(OdibiModel):
    """The whole project file after imports, environment and ``${...}`` substitution."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"project": "retail",
         "engine": "pandas",
         "vars": {"landing": "./landing"},
         "connections": {"landing": {"type": "local", "base_path": "${vars.landing}"},
                         "lake": {"type": "local", "base_path": "./lake"}},
         "story": {"connection": "lake", "path": "_stories"},
         "system": {"connection": "lake", "path": "_odibi_system"},
         "environments": {"prod": {"connections": {"lake": {"type": "azure_blob",
                                                            "account_name": "acme",
                                                            "container": "lake"}}}},
         "imports": ["pipelines/*.yaml"],
         "pipelines": [{"pipeline": "bronze",
                        "nodes": [{"name": "raw_orders",
                                   "read": {"connection": "landing",
                                            "format": "csv",
                                            "path": "orders/*.csv"},
                                   "write": {"connection": "lake",
                                             "format": "delta",
                                             "path": "bronze/orders"}}]}]},
    ]})

    project: Annotated[str, Field(min_length=1)]
    """The project's name, shown in stories, metrics and Dagster tags."""
    engine: Literal["pandas", "polars", "spark"] = "pandas"
    """The engine every node runs on."""
    spark_config: dict[str, Any] = Field(default_factory=dict)
    """Spark settings (spark.master, spark.executor.memory, ...) laid over odibi's defaults when
    the engine is spark; nested maps become dotted keys."""
    polars: PolarsConfig = Field(default_factory=PolarsConfig)
    """Settings of the polars engine."""
    vars: dict[str, Any] = Field(default_factory=dict)
    """Project variables, used as ${vars.NAME} (or ${vars.NAME.key}) in any string value below;
    they may use ${ENV_VAR} and each other."""
    connections: dict[str, ConnectionConfig]
    """Where data lives: name -> connection, chosen by its type. Nodes name a connection in read,
    write, quarantine and dead_letter."""
    story: StoryConfig | None = None
    """Where run stories are written; without it no story is written."""
    system: SystemConfig | None = None
    """Where run state is kept (high-water marks, the write ledger, run records); needed by
    stateful incremental reads, change feeds and exactly-once appends."""
    retry: RetryConfig = Field(default_factory=RetryConfig)
    """Retries of transient failures, for every node (a node's retry block overrides keys of it)."""
    profiling: ProfilingConfig = Field(default_factory=ProfilingConfig)
    """Per-column profiles of each node's output."""
    observability: ObservabilityConfig = Field(default_factory=ObservabilityConfig)
    """Metrics and tracing exporters; off by default."""
    environments: dict[str, dict[str, Any]] = Field(default_factory=dict)
    """NAME -> keys of this file, deep-merged over the base when the environment is selected (--env
    NAME or ODIBI_ENV); may not set environments or imports."""
    imports: list[str] = Field(default_factory=list)
    """Further files (paths or globs, relative to this file) merged into the project: their
    pipelines are appended, their other keys deep-merged."""
    pipelines: Annotated[list[PipelineConfig], Field(min_length=1)]
    """The pipelines. May come from imported files."""
    jobs: list[JobConfig] = Field(default_factory=list)
    """Extra Dagster jobs, each over a selection of nodes by tag and pipeline."""

    def pipeline(self, name: str) -> PipelineConfig:
        """The pipeline called ``name``.

        Raises:
            KeyError: no such pipeline; the message suggests the nearest name.
        """
        for pipeline in self.pipelines:
            if pipeline.pipeline == name:
                return pipeline
        raise KeyError(_not_found("pipeline", name, [p.pipeline for p in self.pipelines]))

    def node(self, key: str) -> NodeConfig:
        """The node ``"pipeline.node"``.

        Raises:
            KeyError: no such node; the message suggests the nearest key.
        """
        pipeline_name, _, node_name = key.partition(".")
        for pipeline in self.pipelines:
            if pipeline.pipeline == pipeline_name:
                for node in pipeline.nodes:
                    if node.name == node_name:
                        return node
        keys = [f"{p.pipeline}.{n.name}" for p in self.pipelines for n in p.nodes]
        raise KeyError(_not_found("node", key, keys))

    def retry_for(self, node: NodeConfig) -> RetryConfig:
        """The project ``retry`` block with the node's own ``retry`` keys laid over it."""
        if node.retry is None:
            return self.retry
        overrides = node.retry.model_dump(exclude_none=True)
        return RetryConfig.model_validate({**self.retry.model_dump(), **overrides})


def _not_found(kind: str, name: str, known: list[str], *, where: str = "the project") -> str:
    close = difflib.get_close_matches(name, known, n=1)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    return f"No {kind} '{name}' in {where}.{hint} Known: {', '.join(known) or '(none)'}."
