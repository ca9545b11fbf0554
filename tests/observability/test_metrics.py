"""Metrics (SPEC §10): a real run pushes the five families to a real Prometheus pushgateway (also
from multiprocess step processes), sends StatsD lines over UDP, and posts OpenTelemetry metrics
to an Azure Monitor ingestion endpoint; a dead endpoint is logged once and fails nothing."""

from __future__ import annotations

import gzip
import json
import logging
import shutil
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from odibi_core.config import load_project
from odibi_core.errors import ConfigError
from odibi_core.observability.metric_families import Sample
from odibi_core.observability.metrics_statsd import stat_name
from odibi_dagster.execution import run_project
from tests.processes import free_port

PROJECT = """\
project: shop
connections:
  src: {type: local, base_path: ./src}
  lake: {type: local, base_path: ./lake}
system: {connection: lake, path: _system}
story: {connection: lake, path: _stories}
observability:
  metrics: METRICS
environments:
  dev: {vars: {tier: dev}}
pipelines:
  - pipeline: sales
    nodes:
      - name: orders
        read: {connection: src, format: csv, path: orders.csv}
        validation:
          tests:
            - {type: not_null, columns: [amount], on_fail: quarantine}
            - {type: range, column: amount, min: 0, on_fail: warn}
            - {type: accepted_values, column: region, values: [eu, us], on_fail: warn}
          quarantine: {connection: lake, path: _quarantine/orders}
        write: {connection: lake, format: parquet, path: orders, mode: overwrite}
      - name: totals
        depends_on: [orders]
        transform: {steps: ["SELECT region, sum(amount) AS total FROM orders GROUP BY region"]}
        write: {connection: lake, format: parquet, path: totals, mode: overwrite}
"""
# 6 rows: one without amount (quarantined), one negative amount (a warning); regions eu and us.
ORDERS = "order_id,region,amount\n1,eu,10\n2,us,20\n3,eu,\n4,us,-5\n5,eu,7\n6,us,1\n"
NODE_KEYS = ["sales.orders", "sales.totals"]
ROWS = {"orders": {"in": 6, "out": 5, "written": 5}, "totals": {"in": 5, "out": 2, "written": 2}}
NODE_FAMILIES = {"odibi_node_duration_seconds", "odibi_rows_processed_total",
                 "odibi_validation_failures_total", "odibi_quarantine_rows_total"}
ALL_FAMILIES = NODE_FAMILIES | {"odibi_pipeline_duration_seconds"}
TIMEOUT = 30.0


def _project(root: Path, metrics: str) -> Any:
    (root / "src").mkdir(parents=True)
    (root / "src" / "orders.csv").write_text(ORDERS)
    (root / "odibi.yaml").write_text(PROJECT.replace("METRICS", metrics))
    return load_project(root / "odibi.yaml", env="dev")


# ---- Prometheus pushgateway ---------------------------------------------------------------------
@pytest.fixture
def pushgateway(tmp_path: Path) -> Iterator[str]:
    """Debian's prometheus-pushgateway on a free loopback port; its URL."""
    binary = shutil.which("prometheus-pushgateway") or "/usr/bin/prometheus-pushgateway"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = (tmp_path / "pushgateway.log").open("wb")
    process = subprocess.Popen([binary, f"--web.listen-address=127.0.0.1:{port}"],
                               stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + TIMEOUT
        while True:
            try:
                urllib.request.urlopen(f"{url}/metrics", timeout=1).read()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the pushgateway did not start: "
                                       + (tmp_path / "pushgateway.log").read_text()) from None
                time.sleep(0.1)
        yield url
    finally:
        process.kill()
        process.wait(timeout=10)
        log.close()


def _scrape(url: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    """Family name -> (labels, value) of every sample the gateway shows (counters by their
    ``_total`` sample name)."""
    text = urllib.request.urlopen(f"{url}/metrics", timeout=5).read().decode()
    found: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name.startswith("odibi_"):
                found.setdefault(sample.name, []).append((dict(sample.labels), sample.value))
    return found


def _one(samples: list[tuple[dict[str, str], float]], **labels: str) -> tuple[dict[str, str],
                                                                            float]:
    matching = [(l, v) for l, v in samples if all(l.get(k) == x for k, x in labels.items())]
    assert len(matching) == 1, (labels, samples)
    return matching[0]


def _assert_prometheus_run(url: str, run_id: str, *, team: str) -> None:
    scraped = _scrape(url)
    assert ALL_FAMILIES <= set(scraped), sorted(scraped)
    common = {"job": "odibi", "project": "shop", "pipeline": "sales", "run_id": run_id,
              "environment": "dev", "team": team}
    for node, rows in ROWS.items():
        labels, seconds = _one(scraped["odibi_node_duration_seconds"], node=node, run_id=run_id)
        assert labels == {**common, "node": node, "status": "success", "instance": ""}
        assert 0 < seconds < 120
        for stage, count in rows.items():
            assert _one(scraped["odibi_rows_processed_total"], node=node, stage=stage,
                        run_id=run_id)[1] == count
    quarantine = {n: _one(scraped["odibi_quarantine_rows_total"], node=n, run_id=run_id)[1]
                  for n in ROWS}
    assert quarantine == {"orders": 1, "totals": 0}
    failures = {(l["test"], l["on_fail"], l["kind"]): v
                for l, v in scraped["odibi_validation_failures_total"]
                if l["run_id"] == run_id and l["node"] == "orders"}
    assert sorted(failures.values()) == [0, 1, 1]  # not_null and range failed, regions passed
    assert {k[1] for k, v in failures.items() if v == 1} == {"quarantine", "warn"}
    assert {k[2] for k in failures} == {"validation"}
    labels, seconds = _one(scraped["odibi_pipeline_duration_seconds"], run_id=run_id)
    assert labels == {**common, "status": "success", "instance": ""}
    node_seconds = sum(_one(scraped["odibi_node_duration_seconds"], node=n, run_id=run_id)[1]
                       for n in ROWS)
    assert node_seconds * 0.99 <= seconds < 120


@pytest.mark.parametrize("executor", ["in_process", "multiprocess"])
def test_prometheus_pushgateway_shows_every_node_and_the_pipeline(
        tmp_path: Path, pushgateway: str, executor: str) -> None:
    project = _project(tmp_path / "shop", f'{{type: prometheus, endpoint: "{pushgateway}", '
                                          f'labels: {{team: {executor}}}}}')
    run = run_project(project, NODE_KEYS, executor=executor)  # type: ignore[arg-type]
    assert run.success
    _assert_prometheus_run(pushgateway, run.run_id, team=executor)


def test_a_failed_node_is_pushed_and_earlier_runs_keep_their_groups(
        tmp_path: Path, pushgateway: str) -> None:
    """A failing node's push comes from its step process with status failed; the pipeline's
    group says failed; the earlier run's groups stay beside the new run's."""
    project = _project(tmp_path / "shop", f'{{type: prometheus, endpoint: "{pushgateway}"}}')
    first = run_project(project, NODE_KEYS)
    (tmp_path / "shop" / "src" / "orders.csv").write_text("order_id,region\n1,eu\n")
    second = run_project(project, NODE_KEYS, executor="multiprocess")
    assert first.success and not second.success
    scraped = _scrape(pushgateway)
    runs = {l["run_id"] for l, _ in scraped["odibi_pipeline_duration_seconds"]}
    assert runs == {first.run_id, second.run_id}
    failed, _ = _one(scraped["odibi_node_duration_seconds"], run_id=second.run_id)
    assert (failed["node"], failed["status"]) == ("orders", "failed")
    assert _one(scraped["odibi_pipeline_duration_seconds"],
                run_id=second.run_id)[0]["status"] == "failed"
    assert _one(scraped["odibi_rows_processed_total"], run_id=first.run_id, node="totals",
                stage="written")[1] == 2


# ---- dead endpoints ------------------------------------------------------------------------------
@pytest.mark.parametrize("metrics", [
    '{type: prometheus, endpoint: "http://127.0.0.1:PORT", timeout: 2}',
    '{type: azure_monitor, connection_string: "InstrumentationKey=00000000-0000-0000-0000-'
    '000000000000;IngestionEndpoint=http://127.0.0.1:PORT/", timeout: 2}',
    '{type: statsd, endpoint: "no-such-host.invalid:8125"}',
], ids=["prometheus", "azure_monitor", "statsd"])
def test_a_dead_endpoint_is_logged_once_and_fails_nothing(
        tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch,
        metrics: str) -> None:
    _quiet_azure(monkeypatch)
    project = _project(tmp_path / "shop", metrics.replace("PORT", str(free_port())))
    caplog.set_level(logging.WARNING)
    started = time.monotonic()
    run = run_project(project, NODE_KEYS)
    assert run.success and [r.status for r in run.results] == ["success", "success"]
    assert time.monotonic() - started < 60
    warnings = [r for r in caplog.records if r.name.startswith("odibi.observability")]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert run.run_id in warnings[0].getMessage()
    assert not [r for r in caplog.records if r.name.startswith("azure")
                and r.levelno >= logging.WARNING]


# ---- StatsD --------------------------------------------------------------------------------------
def _receive_lines(sock: socket.socket) -> list[str]:
    sock.settimeout(2.0)
    lines: list[str] = []
    try:
        while True:
            lines += sock.recv(65535).decode().splitlines()
            sock.settimeout(0.3)
    except TimeoutError:
        return lines


@pytest.mark.parametrize("tag_format", ["influxdb", "graphite"])
def test_statsd_lines_arrive_over_udp(tmp_path: Path, tag_format: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        project = _project(tmp_path / "shop", f'{{type: statsd, endpoint: "127.0.0.1:{port}", '
                                              f'tag_format: {tag_format}, labels: {{team: a}}}}')
        run = run_project(project, NODE_KEYS)
        assert run.success
        lines = _receive_lines(sock)
    stats = dict(line.rsplit(":", 1) for line in lines)
    assert len(stats) == len(lines), lines  # every stat once
    if tag_format == "influxdb":
        node = "project=shop,environment=dev,team=a,pipeline=sales,node="
        assert stats[f"odibi.rows_processed,{node}orders,stage=in"] == "6|c"
        assert stats[f"odibi.rows_processed,{node}orders,stage=written"] == "5|c"
        assert stats[f"odibi.rows_processed,{node}totals,stage=out"] == "2|c"
        assert stats[f"odibi.quarantine_rows,{node}orders"] == "1|c"
        assert stats[f"odibi.quarantine_rows,{node}totals"] == "0|c"
        failed = [k for k, v in stats.items() if k.startswith("odibi.validation_failures,")
                  and v == "1|c"]
        assert len(failed) == 2 and all(f"{node}orders,kind=validation," in k for k in failed)
        duration = stats[f"odibi.node_duration,{node}totals,status=success"]
        pipeline = stats["odibi.pipeline_duration,project=shop,environment=dev,team=a,"
                         "pipeline=sales,status=success"]
    else:
        assert stats["odibi.rows_processed.shop.dev.a.sales.orders.in"] == "6|c"
        assert stats["odibi.rows_processed.shop.dev.a.sales.totals.written"] == "2|c"
        assert stats["odibi.quarantine_rows.shop.dev.a.sales.orders"] == "1|c"
        duration = stats["odibi.node_duration.shop.dev.a.sales.totals.success"]
        pipeline = stats["odibi.pipeline_duration.shop.dev.a.sales.success"]
    for timer in (duration, pipeline):
        value, kind = timer.split("|")
        assert kind == "ms" and 0 < float(value) < 120_000


def test_statsd_names_escape_label_values() -> None:
    sample = Sample("odibi_validation_failures_total", 1.0,
                    (("project", "p"), ("test", "custom sql: a,b=c|d")))
    assert stat_name(sample, "influxdb") == "validation_failures,project=p,test=custom_sql__a_b_c_d"
    assert stat_name(sample, "graphite") == "validation_failures.p.custom_sql__a_b_c_d"


# ---- Azure Monitor -------------------------------------------------------------------------------
def _quiet_azure(monkeypatch: pytest.MonkeyPatch) -> None:
    """What odibi defaults to anyway, set here so the defaults do not outlive the test."""
    for name in ("APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL",
                 "APPLICATIONINSIGHTS_SDKSTATS_DISABLED",
                 "APPLICATIONINSIGHTS_CONTROLPLANE_DISABLED"):
        monkeypatch.setenv(name, "true")


class _Ingestion(BaseHTTPRequestHandler):
    """Accepts Application Insights track requests, keeping the decoded envelopes."""

    received: list[tuple[str, list[dict[str, Any]]]] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        text = body.decode()
        try:
            envelopes = json.loads(text)
        except json.JSONDecodeError:
            envelopes = [json.loads(line) for line in text.splitlines() if line.strip()]
        envelopes = envelopes if isinstance(envelopes, list) else [envelopes]
        type(self).received.append((self.path, envelopes))
        reply = json.dumps({"itemsReceived": len(envelopes), "itemsAccepted": len(envelopes),
                            "errors": []}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def ingestion() -> Iterator[tuple[str, list[tuple[str, list[dict[str, Any]]]]]]:
    """A loopback Application Insights ingestion endpoint: its URL and what it received."""
    handler = type("Handler", (_Ingestion,), {"received": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", handler.received
    finally:
        server.shutdown()
        server.server_close()


def test_azure_monitor_receives_the_metrics(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        ingestion: tuple[str, list[tuple[str, list[dict[str, Any]]]]]) -> None:
    _quiet_azure(monkeypatch)
    endpoint, received = ingestion
    # The connection string names Azure; `endpoint` sends to the loopback receiver instead.
    project = _project(tmp_path / "shop", (
        '{type: azure_monitor, connection_string: "InstrumentationKey=00000000-0000-0000-0000-'
        '000000000000;IngestionEndpoint=https://westeurope-5.in.applicationinsights.azure.com/",'
        f' endpoint: "{endpoint}", labels: {{team: a}}}}'))
    run = run_project(project, NODE_KEYS)
    assert run.success
    points: list[tuple[str, dict[str, Any], dict[str, str]]] = []
    for path, envelopes in received:
        assert path.endswith("/track"), path
        for envelope in envelopes:
            if envelope["data"]["baseType"] != "MetricData":
                continue
            base = envelope["data"]["baseData"]
            points += [(m["name"], m, base.get("properties", {})) for m in base["metrics"]]
    named = [p for p in points if p[0].startswith("odibi_")]
    assert {name for name, _, _ in named} == ALL_FAMILIES

    def value(name: str, **labels: str) -> dict[str, Any]:
        found = [m for n, m, props in named
                 if n == name and all(props.get(k) == v for k, v in labels.items())]
        assert len(found) == 1, (name, labels, named)
        return found[0]

    common = {"project": "shop", "environment": "dev", "team": "a", "pipeline": "sales"}
    for node, rows in ROWS.items():
        for stage, count in rows.items():
            assert value("odibi_rows_processed_total", node=node, stage=stage,
                         **common)["value"] == count
        duration = value("odibi_node_duration_seconds", node=node, status="success", **common)
        assert duration["count"] == 1 and 0 < duration["value"] < 120
    assert value("odibi_quarantine_rows_total", node="orders")["value"] == 1
    assert sum(m["value"] for n, m, props in named
               if n == "odibi_validation_failures_total") == 2
    pipeline = value("odibi_pipeline_duration_seconds", status="success", **common)
    assert pipeline["count"] == 1 and pipeline["value"] > 0


# ---- configuration -------------------------------------------------------------------------------
@pytest.mark.parametrize(("metrics", "says"), [
    ('{type: prometheus, endpoint: "localhost:9091"}', "http://"),
    ('{type: prometheus, endpoint: "http://x:9091", labels: {node: a}}', "set by odibi"),
    ('{type: statsd, endpoint: "localhost"}', "host:port"),
    ('{type: statsd, endpoint: "localhost:8125", labels: {"bad-name": a}}', "label name"),
    ('{type: azure_monitor, connection_string: "IngestionEndpoint=http://x/"}',
     "InstrumentationKey"),
])
def test_bad_metrics_config_is_refused(tmp_path: Path, metrics: str, says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        _project(tmp_path / "shop", metrics)
