"""OpenTelemetry traces of runs (SPEC §10): a span per pipeline run, a child span per node.

Every process of a Dagster run exports its own spans, and they all land in one trace:

* ``odibi run`` puts a W3C ``traceparent`` on the run (:func:`new_run_tags`, tag
  :data:`~odibi_core.observability.TRACEPARENT_TAG`); its trace id is the run's trace. A run
  launched without it (the Dagster UI, a schedule) gets the trace id of its run id (a UUID is
  128 bits, exactly a trace id), so every step process agrees without talking to the others.
* The span id of a pipeline's run span is derived from the trace context, the run id and the
  pipeline (:func:`pipeline_span_context`). A step process parents its node span on it; the CLI
  process emits the run span itself (:meth:`TracingObserver.run_finished`) with exactly that
  id, through :class:`PresetIdGenerator` — the SDK makes the span, odibi only chooses its ids.
* Node spans take their start and end from the :class:`NodeResult` (``started_at`` and
  ``duration_seconds``); the node's phases (read, transform, validate, write, ...) are child
  spans laid end to end from the node's start (the record keeps durations, not start times).

Spans go through the SDK's OTLP exporters (HTTP or gRPC) or its console exporter, batched and
flushed when a node or a run ends: a step process may exit right after its node. An unreachable
collector is logged once per process and the run goes on.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any, TYPE_CHECKING
from urllib.parse import urlparse

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.sdk.trace.id_generator import IdGenerator, RandomIdGenerator
from opentelemetry.sdk.trace.sampling import ALWAYS_ON
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from odibi_core.observability.base import TRACEPARENT_TAG, RunInfo
from odibi_core.results import NodeResult, ValidationResult

if TYPE_CHECKING:
    from odibi_core.config.loader import Project

__all__ = ["PresetIdGenerator", "TracingObserver", "build_tracing_observer", "new_run_tags",
           "pipeline_span_context", "run_trace"]

log = logging.getLogger("odibi.observability.tracing")

_SCOPE = "odibi"
_PROPAGATOR = TraceContextTextMapPropagator()
_SAMPLED = TraceFlags(TraceFlags.SAMPLED)


# ---- ids: every process of a run derives the same ones -------------------------------------

def new_run_tags() -> dict[str, str]:
    """The tags ``odibi run`` puts on a run before it starts: a fresh W3C ``traceparent``."""
    ids = RandomIdGenerator()
    seed = SpanContext(ids.generate_trace_id(), ids.generate_span_id(), is_remote=False,
                       trace_flags=_SAMPLED)
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier, context=trace.set_span_in_context(trace.NonRecordingSpan(seed)))
    return {TRACEPARENT_TAG: carrier["traceparent"]}


def run_trace(run: RunInfo) -> tuple[int, int]:
    """``(trace id, seed span id)`` of ``run``: from its ``odibi/traceparent`` tag, or, for a
    run launched without one, the trace id of its run id and seed 0."""
    value = run.tags.get(TRACEPARENT_TAG)
    if value:
        parent = trace.get_current_span(
            _PROPAGATOR.extract({"traceparent": value})).get_span_context()
        if parent.is_valid:
            return parent.trace_id, parent.span_id
        log.warning("odibi tracing: run %s has an invalid %s tag (%r); its trace id is derived "
                    "from the run id.", run.run_id, TRACEPARENT_TAG, value)
    try:
        trace_id = uuid.UUID(run.run_id).int
    except ValueError:
        trace_id = int.from_bytes(_digest("odibi-trace", run.run_id)[:16], "big")
    return trace_id or 1, 0


def pipeline_span_context(run: RunInfo, pipeline: str) -> SpanContext:
    """The span context of ``pipeline``'s run span in ``run``: the run's trace, and a span id
    derived from it, the run id and the pipeline (a resumed run carries its parent's tag, so
    it joins the parent's trace with span ids of its own)."""
    trace_id, seed = run_trace(run)
    span_id = int.from_bytes(
        _digest("odibi-run-span", f"{trace_id:032x}", f"{seed:016x}", run.run_id,
                pipeline)[:8], "big")
    return SpanContext(trace_id, span_id or 1, is_remote=True, trace_flags=_SAMPLED)


def _digest(*parts: str) -> bytes:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).digest()


class PresetIdGenerator(IdGenerator):
    """Random ids, except for the span started inside :meth:`preset`, which gets the given
    trace and span id (the run span, whose id the step processes derived beforehand)."""

    def __init__(self) -> None:
        self._random = RandomIdGenerator()
        self._local = threading.local()

    @contextmanager
    def preset(self, context: SpanContext) -> Iterator[None]:
        self._local.ids = (context.trace_id, context.span_id)
        try:
            yield
        finally:
            self._local.ids = None

    def generate_trace_id(self) -> int:
        ids = getattr(self._local, "ids", None)
        return ids[0] if ids else self._random.generate_trace_id()

    def generate_span_id(self) -> int:
        ids = getattr(self._local, "ids", None)
        return ids[1] if ids else self._random.generate_span_id()


# ---- export -----------------------------------------------------------------------------------

class _LoggedOnce(SpanExporter):
    """Delegates to the SDK's exporter; after its first failure in this process, says so once
    and drops later batches instead of waiting out ``timeout`` again for every node."""

    def __init__(self, exporter: SpanExporter, target: str) -> None:
        self._exporter = exporter
        self._target = target
        self._failed = False

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self._failed:
            return SpanExportResult.FAILURE
        try:
            result = self._exporter.export(spans)
        except Exception as exc:  # noqa: BLE001 - tracing never fails a run
            log.debug("odibi tracing: export raised", exc_info=exc)
            result = SpanExportResult.FAILURE
        if result is not SpanExportResult.SUCCESS:
            self._failed = True
            log.warning("odibi tracing: could not export spans to %s; no more spans are sent "
                        "from this process, and the run goes on.", self._target)
        return result

    def shutdown(self) -> None:
        self._exporter.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._exporter.force_flush(timeout_millis)


def _protocol(config: Any) -> str:
    """``grpc`` or ``http``: as configured, else from the endpoint, else from the SDK's
    ``OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL``."""
    if config.protocol:
        return str(config.protocol)
    if config.endpoint:
        url = urlparse(config.endpoint if "//" in config.endpoint else f"//{config.endpoint}")
        return "http" if url.port == 4318 or url.path.rstrip("/").endswith("/v1/traces") \
            else "grpc"
    env = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") \
        or os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
    return "http" if env.startswith("http") else "grpc"


def _exporter(config: Any) -> tuple[SpanExporter, str]:
    """The SDK exporter ``config`` names and a description of where it sends (no headers)."""
    if config.exporter == "console":
        return ConsoleSpanExporter(service_name=config.service_name), "the console"
    headers = dict(config.headers) or None
    if _protocol(config) == "http":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        endpoint = config.endpoint
        if endpoint and urlparse(endpoint).path in ("", "/"):
            endpoint = endpoint.rstrip("/") + "/v1/traces"  # a collector's base URL
        http = OTLPSpanExporter(endpoint=endpoint, headers=headers, timeout=config.timeout)
        return http, f"OTLP/HTTP {endpoint or 'default endpoint'}"
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
        OTLPSpanExporter as GrpcSpanExporter,
    )

    grpc = GrpcSpanExporter(endpoint=config.endpoint, headers=headers, timeout=config.timeout)
    return grpc, f"OTLP/gRPC {config.endpoint or 'default endpoint'}"


_PROVIDERS: dict[tuple[Any, ...], tuple[TracerProvider, PresetIdGenerator]] = {}
_PROVIDERS_LOCK = threading.Lock()


def _provider(config: Any, project: Project) -> tuple[TracerProvider, PresetIdGenerator]:
    """One tracer provider per configuration and process (not the global one: odibi's spans
    do not change what a user's own instrumentation exports)."""
    name = str(project.config.project)
    key = (config.exporter, config.endpoint, _protocol(config),
           tuple(sorted(config.headers.items())), config.service_name, config.timeout, name,
           project.env)
    with _PROVIDERS_LOCK:
        if key not in _PROVIDERS:
            ids = PresetIdGenerator()
            attributes: dict[str, Any] = {"service.name": config.service_name,
                                          "odibi.project": name, "process.pid": os.getpid()}
            if project.env:
                attributes["deployment.environment.name"] = str(project.env)
            provider = TracerProvider(resource=Resource.create(attributes), id_generator=ids,
                                      sampler=ALWAYS_ON)
            exporter, target = _exporter(config)
            wrapped = _LoggedOnce(exporter, target)
            provider.add_span_processor(
                SimpleSpanProcessor(wrapped) if config.exporter == "console"
                else BatchSpanProcessor(wrapped, export_timeout_millis=int(config.timeout * 1000)))
            _PROVIDERS[key] = (provider, ids)
        return _PROVIDERS[key]


def build_tracing_observer(project: Project, config: Any) -> TracingObserver:
    """The observer that traces ``project``'s runs as ``config`` (a ``TracingConfig``) says."""
    provider, ids = _provider(config, project)
    return TracingObserver(provider, ids, flush_millis=int(config.timeout * 1000) + 1000)


# ---- spans ------------------------------------------------------------------------------------

class TracingObserver:
    """Emits a node's span when it ends, and a pipeline's run span when the run ends."""

    def __init__(self, provider: TracerProvider, ids: PresetIdGenerator, *,
                 flush_millis: int) -> None:
        self._provider = provider
        self._ids = ids
        self._tracer = provider.get_tracer(_SCOPE)
        self._flush_millis = flush_millis

    def node_finished(self, run: RunInfo, result: NodeResult) -> None:
        """A span for this attempt of the node, child of its pipeline's run span."""
        parent = trace.set_span_in_context(trace.NonRecordingSpan(
            pipeline_span_context(run, result.pipeline)), otel_context.Context())
        start = _nanos(result.started_at)
        end = start + int(result.duration_seconds * 1e9)
        span = self._tracer.start_span(
            f"node {result.pipeline}.{result.node}", context=parent, kind=SpanKind.INTERNAL,
            start_time=start, attributes=_node_attributes(run, result))
        _add_events(span, result, start, end)
        if result.status == "failed":
            error = result.error
            span.set_status(Status(StatusCode.ERROR, f"{error.type}: {error.message}"
                                   if error else "failed"))
        elif result.status == "success":
            span.set_status(Status(StatusCode.OK))
        self._phase_spans(span, result, start, end)
        span.end(end_time=end)
        self._provider.force_flush(self._flush_millis)

    def run_finished(self, run: RunInfo, pipeline: str, results: Sequence[NodeResult],
                     status: str) -> None:
        """``pipeline``'s run span, with the span id its node spans name as their parent."""
        context = pipeline_span_context(run, pipeline)
        ran = [r for r in results if r.status != "skipped" or r.duration_seconds > 0]
        starts = [_nanos(r.started_at) for r in ran if r.started_at]
        ends = [_nanos(r.started_at) + int(r.duration_seconds * 1e9) for r in ran
                if r.started_at]
        now = _nanos(None)
        start = min([*starts, *([_nanos(run.started_at)] if run.started_at else [])],
                    default=now)
        end = max([*ends, start])
        links = []
        if run.parent_run_id:  # a resumed run: link the run it resumes (same trace)
            parent_run = replace(run, run_id=run.parent_run_id)
            links.append(Link(pipeline_span_context(parent_run, pipeline),
                              {"odibi.link": "resumes", "odibi.run_id": run.parent_run_id}))
        with self._ids.preset(context):
            span = self._tracer.start_span(
                f"pipeline {pipeline}", context=otel_context.Context(), kind=SpanKind.INTERNAL,
                start_time=start, links=links,
                attributes=_run_attributes(run, pipeline, results, status))
        for result in results:
            if result.status == "skipped":
                span.add_event("odibi.node.skipped", _clean({
                    "odibi.node": result.node, "odibi.skipped_reason": result.skipped_reason}),
                    timestamp=end)
        span.set_status(Status(StatusCode.ERROR, f"pipeline {pipeline} failed")
                        if status == "failed" else Status(StatusCode.OK))
        span.end(end_time=end)
        self._provider.force_flush(self._flush_millis)

    def _phase_spans(self, node_span: Any, result: NodeResult, start: int, end: int) -> None:
        context = trace.set_span_in_context(node_span, otel_context.Context())
        cursor = start
        for timing in result.timings:
            phase_end = min(cursor + int(timing.seconds * 1e9), end)
            phase = self._tracer.start_span(
                timing.phase, context=context, start_time=cursor,
                attributes={"odibi.phase": timing.phase, "odibi.duration_seconds": timing.seconds,
                            "odibi.node": result.node, "odibi.pipeline": result.pipeline})
            if result.error is not None and result.error.phase == timing.phase:
                phase.set_status(Status(StatusCode.ERROR, result.error.type))
            phase.end(end_time=phase_end)
            cursor = phase_end


def _node_attributes(run: RunInfo, result: NodeResult) -> dict[str, Any]:
    write = result.write
    attributes: dict[str, Any] = {
        "odibi.project": run.project,
        "odibi.run_id": run.run_id,
        "odibi.environment": run.environment,
        "odibi.pipeline": result.pipeline,
        "odibi.node": result.node,
        "odibi.engine": result.engine,
        "odibi.status": result.status,
        "odibi.duration_seconds": result.duration_seconds,
        "odibi.rows_in": result.rows_in,
        "odibi.rows_out": result.rows_out,
        "odibi.rows_written": result.rows_written,
        "odibi.dry_run": result.dry_run,
        "odibi.attempt": result.attempt,
        "odibi.max_attempts": result.max_attempts,
        "odibi.retries": len(result.retries),
        "odibi.skipped_reason": result.skipped_reason,
        "odibi.delta_version": write.delta_version if write else None,
        "odibi.batch_id": write.batch_id if write else None,
        "odibi.write.connection": write.connection if write else None,
        "odibi.write.format": write.format if write else None,
        "odibi.write.mode": write.mode if write else None,
        "odibi.write.location": write.location if write else None,
        "odibi.write.skipped": write.skipped if write else None,
        "odibi.quarantine.rows": result.quarantine.rows if result.quarantine else None,
        "odibi.error.type": result.error.type if result.error else None,
        "odibi.error.phase": result.error.phase if result.error else None,
    }
    return _clean(attributes)


def _run_attributes(run: RunInfo, pipeline: str, results: Sequence[NodeResult],
                    status: str) -> dict[str, Any]:
    def count(state: str) -> int:
        return sum(1 for r in results if r.status == state)

    return _clean({
        "odibi.project": run.project, "odibi.pipeline": pipeline, "odibi.run_id": run.run_id,
        "odibi.parent_run_id": run.parent_run_id, "odibi.environment": run.environment,
        "odibi.engine": run.engine, "odibi.status": status, "odibi.nodes": len(results),
        "odibi.nodes.succeeded": count("success"), "odibi.nodes.failed": count("failed"),
        "odibi.nodes.skipped": count("skipped"),
        "odibi.rows_written": sum(r.rows_written or 0 for r in results),
    })


def _add_events(span: Any, result: NodeResult, start: int, end: int) -> None:
    """Validation and contract results, quarantine, the gate, retries and the error."""
    phase_ends = _phase_ends(result, start, end)
    for checks, phase in ((result.contracts, "contracts"), (result.validation, "validate")):
        if checks is not None:
            _validation_events(span, checks, phase_ends.get(phase, end))
    at = phase_ends.get("validate", end)
    if result.quarantine is not None:
        q = result.quarantine
        span.add_event("odibi.quarantine", _clean({
            "odibi.quarantine.rows": q.rows, "odibi.quarantine.rows_written": q.rows_written,
            "odibi.quarantine.destination": q.destination, "odibi.quarantine.tests": list(q.tests),
            "odibi.quarantine.delta_version": q.delta_version}), timestamp=at)
    if result.gate is not None:
        g = result.gate
        span.add_event("odibi.gate", _clean({
            "odibi.gate.passed": g.passed, "odibi.gate.action": g.action,
            "odibi.gate.pass_rate": g.pass_rate, "odibi.gate.require_pass_rate":
                g.require_pass_rate, "odibi.gate.failures": list(g.failures),
            "odibi.gate.rows_dropped": g.rows_dropped}), timestamp=at)
    for retry in result.retries:  # one event per failed attempt that was retried
        span.add_event("odibi.retry", {
            "odibi.attempt": retry.attempt, "exception.type": retry.error_type,
            "exception.message": retry.error, "odibi.retry.category": retry.category,
            "odibi.retry.delay_seconds": retry.delay_seconds},
            timestamp=_nanos(retry.failed_at))
    if result.error is not None:  # the exception event record_exception would add
        error = result.error
        span.add_event("exception", _clean({
            "exception.type": error.type, "exception.message": error.message,
            "odibi.error.phase": error.phase,
            "odibi.error.fix": error.fix, "odibi.error.transient": error.transient}),
            timestamp=end)


def _validation_events(span: Any, checks: ValidationResult, at: int) -> None:
    """One event per test: ``odibi.contract`` or ``odibi.validation``."""
    name = "odibi.contract" if checks.kind == "contract" else "odibi.validation"
    for test in checks.tests:
        status = "skipped" if test.skipped else ("passed" if test.passed else "failed")
        span.add_event(name, _clean({
            "odibi.test": test.name, "odibi.test.type": test.type,
            "odibi.test.location": test.location, "odibi.test.status": status,
            "odibi.test.on_fail": test.on_fail, "odibi.test.failing_rows": test.failing_rows,
            "odibi.test.total_rows": test.total_rows, "odibi.test.pass_rate": test.pass_rate,
            "odibi.test.message": test.message or None}), timestamp=at)


def _phase_ends(result: NodeResult, start: int, end: int) -> dict[str, int]:
    """When each phase ended, phases laid end to end from the node's start."""
    ends: dict[str, int] = {}
    cursor = start
    for timing in result.timings:
        cursor = min(cursor + int(timing.seconds * 1e9), end)
        ends[timing.phase] = cursor
    return ends


def _clean(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """Attributes without the unset ones (OpenTelemetry drops None values with a warning)."""
    return {k: v for k, v in attributes.items() if v is not None}


def _nanos(moment: str | None) -> int:
    """Nanoseconds since the epoch of an ISO-8601 timestamp (now for None)."""
    if not moment:
        return int(datetime.now(timezone.utc).timestamp() * 1e9)
    parsed = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return int(parsed.timestamp() * 1e9)
