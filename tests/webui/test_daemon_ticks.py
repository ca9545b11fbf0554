"""A real ``dagster-daemon`` ticks the project's schedule and file-arrival sensor (SPEC §11): the
sensor starts one run per set of new files, lists them in the run's tags, skips files it has
already processed, and each file's rows reach the append target once."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from deltalake import DeltaTable

from tests.webui.conftest import StartDagster
from tests.webui.dagster_server import DagsterServer, wait_until

PROJECT = """\
project: ticks
connections:
  landing: {type: local, base_path: ./landing}
  lake: {type: local, base_path: ./lake}
system: {connection: lake, path: _system}
pipelines:
  - pipeline: ingest
    sensor: {connection: landing, path: "orders/*.csv", minimum_interval_seconds: 2,
             default_status: running}
    nodes:
      - name: raw_orders
        read: {connection: landing, format: csv, path: "orders/*.csv"}
        write: {connection: lake, format: delta, path: bronze/orders, mode: append}
      - name: order_totals
        tags: [report]
        depends_on: [raw_orders]
        read: {connection: lake, format: delta, path: bronze/orders}
        transform: {steps: ["SELECT count(*) AS orders, sum(amount) AS amount FROM df"]}
        write: {connection: lake, format: delta, path: gold/order_totals, mode: overwrite}
jobs:
  - job: reports
    tags: [report]
    schedule: {cron: "* * * * *", default_status: running}
"""

SENSOR_TICKS = """
query Ticks($selector: SensorSelector!) {
  sensorOrError(sensorSelector: $selector) {
    __typename
    ... on Sensor {
      sensorState { status ticks(limit: 20) { status timestamp runIds skipReason } }
    }
  }
}
"""


def _drop(root: Path, name: str, ids: list[int]) -> None:
    path = root / "landing" / "orders" / name
    path.write_text("order_id,amount\n" + "".join(f"{i},{i * 10}\n" for i in ids),
                    encoding="utf-8")


def _tag(run: dict[str, Any], key: str) -> str | None:
    return next((t["value"] for t in run["tags"] if t["key"] == key), None)


def _sensor_runs(server: DagsterServer) -> list[dict[str, Any]]:
    runs = server.runs({"tags": [{"key": "dagster/sensor_name", "value": "ingest_files_sensor"}]})
    return sorted(runs, key=lambda run: run["creationTime"])


def _ticks(server: DagsterServer) -> list[dict[str, Any]]:
    selector = {**server.repository_selector, "sensorName": "ingest_files_sensor"}
    sensor = server.graphql(SENSOR_TICKS, {"selector": selector})["sensorOrError"]
    assert sensor["__typename"] == "Sensor", sensor
    assert sensor["sensorState"]["status"] == "RUNNING"  # default_status: running
    return sensor["sensorState"]["ticks"]


def _story(root: Path, run_id: str) -> dict[str, Any]:
    """The JSON story of run ``run_id`` (pipeline ingest)."""
    for path in root.rglob("run_*.json"):
        story = json.loads(path.read_text(encoding="utf-8"))
        if story.get("run_id") == run_id:
            return story
    raise AssertionError(f"no story of run {run_id} under {root}")


def _orders(root: Path) -> list[int]:
    table = DeltaTable(str(root / "lake" / "bronze" / "orders")).to_pyarrow_table()
    return sorted(table.column("order_id").to_pylist())


def test_daemon_ticks_the_sensor_and_the_schedule(tmp_path: Path,
                                                   start_dagster: StartDagster) -> None:
    root = tmp_path / "ticks"
    (root / "landing" / "orders").mkdir(parents=True)
    (root / "odibi.yaml").write_text(PROJECT, encoding="utf-8")
    _drop(root, "a.csv", [1, 2])
    _drop(root, "b.csv", [3])
    started = time.time()
    server = start_dagster(root)

    # First tick: one run for both files, which are listed in its tags.
    first = wait_until(lambda: _sensor_runs(server), 120, interval=1, what="a sensor run")[0]
    assert sorted(json.loads(_tag(first, "odibi/files") or "[]")) == ["orders/a.csv",
                                                                      "orders/b.csv"]
    assert _tag(first, "odibi/file_count") == "2" and first["jobName"] == "ingest_job"
    assert server.wait_for_run(first["runId"], 180) == "SUCCESS", server.run_failure(
        first["runId"])
    assert _orders(root) == [1, 2, 3]
    story = _story(root, first["runId"])
    assert story["extra"]["trigger"] == {"by": "sensor ingest_files_sensor",
                                         "watched": "landing:orders/*.csv",
                                         "files": ["orders/a.csv", "orders/b.csv"]}

    # Later ticks skip: both files were processed (the cursor knows them).
    requested_at = max(t["timestamp"] for t in _ticks(server) if t["runIds"])
    skipped = wait_until(
        lambda: [t for t in _ticks(server)
                 if t["status"] == "SKIPPED" and t["timestamp"] > requested_at],
        60, interval=1, what="a skipped sensor tick after the run")
    assert "No new files match landing:orders/*.csv (2 seen before)" in skipped[0]["skipReason"]
    assert len(_sensor_runs(server)) == 1

    # A new file: one more run, for it alone; its rows are appended once.
    _drop(root, "c.csv", [4, 5])
    runs = wait_until(lambda: (lambda r: r if len(r) == 2 else None)(_sensor_runs(server)),
                      90, interval=1, what="a second sensor run")
    second = runs[1]
    assert json.loads(_tag(second, "odibi/files") or "[]") == ["orders/c.csv"]
    assert server.wait_for_run(second["runId"], 180) == "SUCCESS", server.run_failure(
        second["runId"])
    assert _orders(root) == [1, 2, 3, 4, 5]

    # The schedule (every minute, running) ticked the reports job on the daemon.
    scheduled = wait_until(
        lambda: server.runs({"tags": [{"key": "dagster/schedule_name",
                                       "value": "reports_schedule"}]}),
        max(10.0, 150 - (time.time() - started)), interval=2, what="a scheduled run")
    assert scheduled[0]["jobName"] == "reports"
    assert [k["path"] for k in scheduled[0]["assetSelection"] or []] in (
        [["ingest", "order_totals"]], [])
    assert server.wait_for_run(scheduled[0]["runId"], 180) == "SUCCESS", server.run_failure(
        scheduled[0]["runId"])
    assert os.path.isdir(root / "lake" / "gold" / "order_totals" / "_delta_log")
    assert _story(root, scheduled[0]["runId"])["extra"]["trigger"] == {
        "by": "schedule reports_schedule"}
