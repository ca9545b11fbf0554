"""Tracing (SPEC §10): a span per pipeline run and a child span per node, exported over OTLP
to a receiver on loopback (HTTP, and gRPC) by every process of a Dagster run, in one trace."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import textwrap
import threading
import time
import uuid
import zlib
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import dagster as dg
import grpc
import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from odibi_core.config import load_project
from odibi_core.observability import TRACEPARENT_TAG, RunInfo, run_tags_for
from odibi_core.observability.tracing import pipeline_span_context, run_trace
from odibi_dagster.execution import _asset_job, run_project
from odibi_dagster.project_env import project_environment

pytestmark = pytest.mark.timeout(240)

PROJECT = """\
project: traced
connections:
  src: {type: local, base_path: ./src}
  lake: {type: local, base_path: ./lake}
system: {connection: lake, path: _system}
story: {connection: lake, path: _stories}
observability:
  tracing: TRACING
pipelines:
  - pipeline: sales
    nodes:
      - name: orders
        read: {connection: src, format: csv, path: orders.csv}
        validation:
          tests:
            - {type: not_null, columns: [amount], on_fail: warn}
        write: {connection: lake, format: delta, path: orders, mode: overwrite}
      - name: big
        depends_on: [orders]
        transform: {steps: ["SELECT order_id, region, amount FROM orders WHERE amount > 15"]}
        write: {connection: lake, format: delta, path: big, mode: overwrite}
      - name: taxed
        depends_on: [big]
        read: {connection: src, format: csv, path: rates.csv}
        contracts: [{type: not_null, columns: [rate]}]
        transform:
          steps:
            - >-
              SELECT b.order_id, b.amount * r.rate AS taxed
              FROM big AS b JOIN df AS r ON b.region = r.region
        write: {connection: lake, format: delta, path: taxed, mode: overwrite}
  - pipeline: regions
    nodes:
      - name: rates
        read: {connection: src, format: csv, path: rates.csv}
        write: {connection: lake, format: delta, path: rates, mode: overwrite}
"""
SALES = ["sales.orders", "sales.big", "sales.taxed"]
ORDERS = "order_id,region,amount\n1,eu,10.0\n2,us,20.0\n3,eu,30.0\n4,us,\n"
BAD_RATES = "region,rate\neu,\nus,1.1\n"  # taxed's contract fails


# ---- receivers ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Received:
    """One received span, its attributes decoded."""

    span: trace_pb2.Span
    resource: dict[str, Any]

    @property
    def name(self) -> str:
        return self.span.name

    @property
    def attributes(self) -> dict[str, Any]:
        return _attributes(self.span.attributes)

    @property
    def trace_id(self) -> str:
        return self.span.trace_id.hex()

    @property
    def span_id(self) -> str:
        return self.span.span_id.hex()

    @property
    def parent_id(self) -> str:
        return self.span.parent_span_id.hex()

    def events(self, name: str) -> list[dict[str, Any]]:
        return [_attributes(e.attributes) for e in self.span.events if e.name == name]


def _value(value: common_pb2.AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_value(v) for v in value.array_value.values]
    return getattr(value, kind) if kind else None


def _attributes(items: Any) -> dict[str, Any]:
    return {item.key: _value(item.value) for item in items}


class Collector:
    """What an OTLP receiver got: every span of every export request."""

    def __init__(self) -> None:
        self._spans: list[Received] = []
        self._lock = threading.Lock()

    def add(self, request: trace_service_pb2.ExportTraceServiceRequest) -> None:
        with self._lock:
            for resource_spans in request.resource_spans:
                resource = _attributes(resource_spans.resource.attributes)
                for scope_spans in resource_spans.scope_spans:
                    self._spans += [Received(s, resource) for s in scope_spans.spans]

    def wait_for(self, count: int, timeout: float = 30.0) -> list[Received]:
        """The spans, once at least ``count`` arrived (or ``timeout`` passed)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self._spans) >= count:
                    break
            time.sleep(0.05)
        with self._lock:
            return list(self._spans)


@pytest.fixture
def http_receiver() -> Iterator[tuple[str, Collector]]:
    """An OTLP/HTTP receiver (POST /v1/traces, protobuf) on a loopback port."""
    collector = Collector()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            encoding = self.headers.get("Content-Encoding")
            if encoding == "gzip":
                body = gzip.decompress(body)
            elif encoding == "deflate":
                body = zlib.decompress(body)
            if self.path != "/v1/traces":
                self.send_response(404)
                self.end_headers()
                return
            collector.add(trace_service_pb2.ExportTraceServiceRequest.FromString(body))
            reply = trace_service_pb2.ExportTraceServiceResponse().SerializeToString()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1/traces", collector
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def grpc_receiver() -> Iterator[tuple[str, Collector]]:
    """An OTLP/gRPC receiver (opentelemetry-proto's TraceService) on a loopback port."""
    collector = Collector()

    class Service(trace_service_pb2_grpc.TraceServiceServicer):
        def Export(self, request: Any, context: Any) -> Any:  # noqa: N802 - the proto's name
            collector.add(request)
            return trace_service_pb2.ExportTraceServiceResponse()

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(Service(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield f"http://127.0.0.1:{port}", collector
    finally:
        server.stop(grace=None)


# ---- helpers --------------------------------------------------------------------------------

def _project(root: Path, tracing: str) -> Path:
    (root / "src").mkdir(parents=True)
    (root / "odibi.yaml").write_text(PROJECT.replace("TRACING", tracing))
    (root / "src" / "orders.csv").write_text(ORDERS)
    (root / "src" / "rates.csv").write_text(BAD_RATES)
    return root / "odibi.yaml"


def _run_tags(project: Any, run_id: str) -> dict[str, str]:
    with project_environment(project), dg.DagsterInstance.get() as instance:
        run = instance.get_run_by_id(run_id)
        assert run is not None
        return dict(run.tags)


def _by_kind(spans: list[Received]) -> tuple[dict[str, Received], dict[str, Received],
                                             list[Received]]:
    """Run spans by pipeline, node spans by ``pipeline.node``, and the phase spans."""
    runs = {s.attributes["odibi.pipeline"]: s for s in spans if s.name.startswith("pipeline ")}
    nodes = {f"{s.attributes['odibi.pipeline']}.{s.attributes['odibi.node']}": s
             for s in spans if s.name.startswith("node ")}
    phases = [s for s in spans if "odibi.phase" in s.attributes]
    return runs, nodes, phases


# ---- tests ----------------------------------------------------------------------------------

def test_a_multiprocess_run_is_one_trace_with_a_run_span_parenting_its_node_spans(
        tmp_path: Path, http_receiver: tuple[str, Collector]) -> None:
    endpoint, collector = http_receiver
    project = load_project(_project(tmp_path, f'{{enabled: true, endpoint: "{endpoint}"}}'))
    run = run_project(project, SALES, executor="multiprocess")
    assert not run.success  # taxed's contract fails

    spans = collector.wait_for(4)
    runs, nodes, phases = _by_kind(spans)
    assert {s.trace_id for s in spans} == {runs["sales"].trace_id}  # one trace
    assert set(runs) == {"sales"} and set(nodes) == set(SALES)
    run_span = runs["sales"]
    assert run_span.parent_id == ""  # the root
    traceparent = _run_tags(project, run.run_id)[TRACEPARENT_TAG]
    assert run_span.trace_id == traceparent.split("-")[1]
    assert all(n.parent_id == run_span.span_id for n in nodes.values())
    assert {p.parent_id for p in phases} <= {n.span_id for n in nodes.values()}
    assert {"read", "write"} <= {p.name for p in phases if p.parent_id == nodes[
        "sales.orders"].span_id}
    # Node spans come from the step processes (one each), the run span from this one.
    pids = {n.resource["process.pid"] for n in nodes.values()}
    assert len(pids) == 3 and os.getpid() not in pids
    assert run_span.resource["process.pid"] == os.getpid()
    assert run_span.attributes["odibi.run_id"] == run.run_id
    assert run_span.attributes["odibi.status"] == "failed"
    assert run_span.span.status.code == trace_pb2.Status.STATUS_CODE_ERROR
    assert run_span.resource["service.name"] == "odibi"

    orders = nodes["sales.orders"].attributes
    assert orders["odibi.node"] == "orders" and orders["odibi.pipeline"] == "sales"
    assert orders["odibi.engine"] == "pandas" and orders["odibi.status"] == "success"
    assert (orders["odibi.rows_in"], orders["odibi.rows_out"], orders["odibi.rows_written"]) \
        == (4, 4, 4)
    assert orders["odibi.delta_version"] == 0 and orders["odibi.batch_id"]
    assert orders["odibi.duration_seconds"] > 0
    big = nodes["sales.big"].attributes
    assert (big["odibi.rows_in"], big["odibi.rows_out"], big["odibi.rows_written"]) == (4, 2, 2)
    # Node spans last as long as the node did, inside the run span.
    for node in nodes.values():
        seconds = (node.span.end_time_unix_nano - node.span.start_time_unix_nano) / 1e9
        assert seconds == pytest.approx(node.attributes["odibi.duration_seconds"], abs=1e-3)
        assert run_span.span.start_time_unix_nano <= node.span.start_time_unix_nano
        assert node.span.end_time_unix_nano <= run_span.span.end_time_unix_nano

    (validation,) = nodes["sales.orders"].events("odibi.validation")
    assert validation["odibi.test.type"] == "not_null"
    assert validation["odibi.test.status"] == "failed"
    assert validation["odibi.test.failing_rows"] == 1
    assert validation["odibi.test.on_fail"] == "warn"

    taxed = nodes["sales.taxed"]
    assert taxed.span.status.code == trace_pb2.Status.STATUS_CODE_ERROR
    assert taxed.attributes["odibi.status"] == "failed"
    (exception,) = taxed.events("exception")
    assert exception["exception.type"] and "rate" in exception["exception.message"]
    assert exception["odibi.error.phase"] == "contracts"
    (contract,) = taxed.events("odibi.contract")
    assert contract["odibi.test.status"] == "failed"
    assert nodes["sales.orders"].span.status.code == trace_pb2.Status.STATUS_CODE_OK


def test_a_run_launched_without_the_trace_tag_derives_its_trace_from_the_run_id(
        tmp_path: Path, http_receiver: tuple[str, Collector]) -> None:
    endpoint, collector = http_receiver
    project = load_project(_project(tmp_path, f'{{enabled: true, endpoint: "{endpoint}"}}'))
    (tmp_path / "src" / "rates.csv").write_text("region,rate\neu,1.2\nus,1.1\n")
    with project_environment(project), dg.DagsterInstance.get() as instance:
        # As the UI launches it: no odibi tags at all.
        result = dg.execute_job(
            _asset_job(), instance=instance, asset_selection=[
                dg.AssetKey(k.split(".")) for k in SALES],
            run_config={"execution": {"config": {"multiprocess": {}}}})
    assert result.success and TRACEPARENT_TAG not in result.dagster_run.tags

    spans = collector.wait_for(3)
    _, nodes, _ = _by_kind(spans)
    assert set(nodes) == set(SALES)
    assert {s.trace_id for s in spans} == {uuid.UUID(result.run_id).hex}
    expected = pipeline_span_context(RunInfo(project="traced", run_id=result.run_id), "sales")
    assert {n.parent_id for n in nodes.values()} == {f"{expected.span_id:016x}"}
    assert nodes["sales.taxed"].attributes["odibi.rows_written"] == 2

    # The daemon's run-end sensor emits the pipeline span those node spans point to.
    from odibi_dagster.definitions import defs_from_loaded_project

    (sensor,) = [s for s in defs_from_loaded_project(project).sensors
                 if s.name == "odibi_run_succeeded"]
    with project_environment(project), dg.DagsterInstance.get() as instance:
        event = next(e for e in instance.all_logs(result.run_id)
                     if e.dagster_event and e.dagster_event.event_type_value == "PIPELINE_SUCCESS")
        sensor(dg.build_run_status_sensor_context(
            sensor_name="odibi_run_succeeded", dagster_event=event.dagster_event,
            dagster_instance=instance, dagster_run=result.dagster_run))
    runs, _, _ = _by_kind(collector.wait_for(len(spans) + 1))
    assert runs["sales"].span_id == f"{expected.span_id:016x}"
    assert runs["sales"].trace_id == uuid.UUID(result.run_id).hex


def test_grpc_export_gives_one_run_span_per_pipeline_in_one_trace(
        tmp_path: Path, grpc_receiver: tuple[str, Collector]) -> None:
    endpoint, collector = grpc_receiver
    tracing = f'{{enabled: true, endpoint: "{endpoint}", protocol: grpc, service_name: lake}}'
    project = load_project(_project(tmp_path, tracing))
    run = run_project(project, [*SALES, "regions.rates"])
    assert not run.success

    spans = collector.wait_for(6)
    runs, nodes, _ = _by_kind(spans)
    assert len({s.trace_id for s in spans}) == 1
    assert set(runs) == {"sales", "regions"}
    assert runs["regions"].attributes["odibi.status"] == "success"
    assert runs["sales"].attributes["odibi.status"] == "failed"
    for key, node in nodes.items():
        assert node.parent_id == runs[key.split(".")[0]].span_id
    assert nodes["regions.rates"].attributes["odibi.rows_written"] == 2
    assert {s.resource["service.name"] for s in spans} == {"lake"}
    # The trace is the one odibi run put on the Dagster run's tags.
    info = RunInfo(project="traced", run_id=run.run_id, tags=_run_tags(project, run.run_id))
    assert runs["sales"].trace_id == f"{run_trace(info)[0]:032x}"
    assert runs["sales"].span_id == f"{pipeline_span_context(info, 'sales').span_id:016x}"


def test_a_resumed_run_joins_the_failed_runs_trace_and_links_its_run_span(
        tmp_path: Path, http_receiver: tuple[str, Collector]) -> None:
    from odibi_dagster.resume import resume_run

    endpoint, collector = http_receiver
    project = load_project(_project(tmp_path, f'{{enabled: true, endpoint: "{endpoint}"}}'))
    failed = run_project(project, SALES)
    assert not failed.success
    first = len(collector.wait_for(4))
    (tmp_path / "src" / "rates.csv").write_text("region,rate\neu,1.2\nus,1.1\n")
    resumed = resume_run(project, failed.run_id)
    assert resumed.success

    spans = collector.wait_for(first + 2)
    assert len({s.trace_id for s in spans}) == 1  # the resume is part of the same trace
    run_spans = {s.attributes["odibi.run_id"]: s for s in spans if s.name == "pipeline sales"}
    assert set(run_spans) == {failed.run_id, resumed.run_id}
    again = run_spans[resumed.run_id]
    assert again.attributes["odibi.parent_run_id"] == failed.run_id
    (link,) = again.span.links
    assert link.span_id.hex() == run_spans[failed.run_id].span_id
    (taxed,) = [s for s in spans if s.name == "node sales.taxed"
                and s.attributes["odibi.run_id"] == resumed.run_id]
    assert taxed.parent_id == again.span_id and taxed.attributes["odibi.status"] == "success"


FLAKY = """\
from pathlib import Path

from odibi_core import transform


@transform
def flaky(df, counter: str, failures: int):
    \"\"\"Raise ConnectionResetError (transient) on the first `failures` calls.\"\"\"
    path = Path(counter)
    calls = len(path.read_text().splitlines()) + 1 if path.exists() else 1
    path.write_text("call\\n" * calls)
    if calls <= failures:
        raise ConnectionResetError(104, "Connection reset by peer")
    return df
"""


def test_each_attempt_of_a_retried_node_is_a_span_and_the_last_has_a_retry_event_per_failure(
        tmp_path: Path, http_receiver: tuple[str, Collector]) -> None:
    endpoint, collector = http_receiver
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "orders.csv").write_text(ORDERS)
    (tmp_path / "transforms.py").write_text(FLAKY)
    counter = tmp_path / "calls.txt"
    (tmp_path / "odibi.yaml").write_text(textwrap.dedent(f"""\
        project: retried
        connections:
          src: {{type: local, base_path: ./src}}
          lake: {{type: local, base_path: ./lake}}
        system: {{connection: lake, path: _system}}
        story: {{connection: lake, path: _stories}}
        retry: {{initial_delay: 0.1, max_attempts: 3}}
        observability:
          tracing: {{enabled: true, endpoint: "{endpoint}"}}
        pipelines:
          - pipeline: p
            nodes:
              - name: flaky
                read: {{connection: src, format: csv, path: orders.csv}}
                transform:
                  steps:
                    - function: flaky
                      params: {{counter: "{counter}", failures: 2}}
                write: {{connection: lake, format: delta, path: flaky, mode: append}}
        """))
    run = run_project(load_project(tmp_path / "odibi.yaml"), ["p.flaky"])
    assert run.success

    spans = collector.wait_for(4)
    runs, _, _ = _by_kind(spans)
    attempts = sorted((s for s in spans if s.name == "node p.flaky"),
                      key=lambda s: s.attributes["odibi.attempt"])
    assert [a.attributes["odibi.attempt"] for a in attempts] == [1, 2, 3]
    assert {a.parent_id for a in attempts} == {runs["p"].span_id}
    for failed in attempts[:2]:
        assert failed.span.status.code == trace_pb2.Status.STATUS_CODE_ERROR
        (exception,) = failed.events("exception")
        assert "ConnectionResetError" in exception["exception.message"]
        assert exception["odibi.error.transient"] is True
    last = attempts[2]
    assert last.span.status.code == trace_pb2.Status.STATUS_CODE_OK
    assert (last.attributes["odibi.retries"], last.attributes["odibi.rows_written"]) == (2, 4)
    retries = last.events("odibi.retry")
    assert [r["odibi.attempt"] for r in retries] == [1, 2]
    assert all("ConnectionResetError" in r["exception.message"] for r in retries)
    assert [r["odibi.retry.delay_seconds"] for r in retries] == [0.1, 0.3]
    assert all(r["odibi.retry.category"] == "connection_reset" for r in retries)


def test_an_unreachable_collector_never_fails_the_run(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    import socket

    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    tracing = f'{{enabled: true, endpoint: "http://127.0.0.1:{port}/v1/traces", timeout: 1}}'
    project = load_project(_project(tmp_path, tracing))
    started = time.monotonic()
    run = run_project(project, ["regions.rates"])
    assert run.success
    assert time.monotonic() - started < 60
    said = [r for r in caplog.records if "could not export spans" in r.getMessage()]
    assert len(said) == 1 and said[0].levelname == "WARNING"  # once, not per span


def test_tracing_is_off_by_default_and_imports_nothing(tmp_path: Path) -> None:
    path = _project(tmp_path, "{enabled: false}")
    script = textwrap.dedent(f"""
        import sys
        from odibi_core.config import load_project
        from odibi_core.observability import observers_for, run_tags_for
        project = load_project({str(path)!r})
        assert observers_for(project) == [] and run_tags_for(project) == {{}}
        assert "odibi_core.observability.tracing" not in sys.modules
        assert not any(m.startswith("opentelemetry.sdk") for m in sys.modules)
    """)
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)


def test_run_tags_carry_a_w3c_traceparent(tmp_path: Path) -> None:
    project = load_project(_project(tmp_path, "{enabled: true}"))
    tags = run_tags_for(project)
    version, trace_id, span_id, flags = tags[TRACEPARENT_TAG].split("-")
    assert (version, len(trace_id), len(span_id), flags) == ("00", 32, 16, "01")
    info = RunInfo(project="traced", run_id=str(uuid.uuid4()), tags=tags)
    assert run_trace(info) == (int(trace_id, 16), int(span_id, 16))
    assert pipeline_span_context(info, "sales") == pipeline_span_context(info, "sales")
    assert pipeline_span_context(info, "sales") != pipeline_span_context(info, "regions")
