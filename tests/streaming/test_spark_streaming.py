"""Streaming nodes on a real local SparkSession with Delta Lake: files arrive in batches, the
node's query runs once per materialization (``availableNow``), and the target holds each record
once; windowed aggregations drop what arrives behind the watermark, as Spark defines."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from deltalake import DeltaTable

from odibi_core.config import load_project
from odibi_core.engines import get_engine
from odibi_core.node import NodeRun, NodeRunner, RunContext

pytestmark = pytest.mark.usefixtures("spark_session")

EVENTS_DDL = "event_id BIGINT, customer STRING, amount DOUBLE, event_time TIMESTAMP"


def write_project(root: Path, nodes: str, *, extra: str = "") -> Path:
    (root / "landing" / "events").mkdir(parents=True, exist_ok=True)
    text = textwrap.dedent("""\
        project: streams
        engine: spark
        connections:
          landing: {type: local, base_path: ./landing}
          lake: {type: local, base_path: ./lake}
        system: {connection: lake, path: _system}
        pipelines:
          - pipeline: live
            nodes:
        """) + textwrap.indent(textwrap.dedent(nodes), " " * 6) + extra
    path = root / "odibi.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def arrive(root: Path, name: str, events: list[dict[str, Any]]) -> None:
    """A file of JSON lines lands in the watched folder (written aside, then renamed in)."""
    folder = root / "landing" / "events"
    staging = root / f".{name}.tmp"
    staging.write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    staging.rename(folder / f"{name}.json")


def event(event_id: int, minute: str, amount: float = 1.0, customer: str = "c1") -> dict:
    return {"event_id": event_id, "customer": customer, "amount": amount,
            "event_time": f"2026-11-27T12:{minute}:00"}


def run_node(path: Path, key: str, run_id: str) -> NodeRun:
    project = load_project(path)
    run = NodeRunner(project, get_engine("spark")).run(key, inputs={},
                                                       context=RunContext(run_id=run_id))
    assert run.succeeded, run.result.error
    return run


def target_rows(root: Path, path: str) -> list[dict[str, Any]]:
    table = pa.table(DeltaTable(str(root / "lake" / path)).to_pyarrow_table())
    return table.to_pylist()


APPEND_NODE = f"""\
- name: events
  read:
    connection: landing
    format: json
    path: events
    streaming: true
    schema_ddl: "{EVENTS_DDL}"
  transform:
    steps:
      - "SELECT event_id, customer, amount * 2 AS doubled, event_time FROM df"
  validation:
    tests:
      - {{type: range, column: doubled, min: 0, on_fail: quarantine}}
    quarantine: {{connection: lake, path: _quarantine/events}}
  write:
    connection: lake
    format: delta
    path: silver/events
    streaming: {{output_mode: append}}
"""


def test_each_arrival_is_written_once_and_the_run_reports_its_batches(tmp_path: Path) -> None:
    path = write_project(tmp_path, APPEND_NODE)
    arrive(tmp_path, "a", [event(1, "00"), event(2, "01", -5.0), event(3, "02")])
    first = run_node(path, "live.events", "r1")
    stream = first.result.extra["streaming"]
    assert stream["rows_in"] == 3 and stream["rows_written"] == 2
    assert first.result.quarantine is not None and first.result.quarantine.rows == 1
    assert sorted(r["event_id"] for r in target_rows(tmp_path, "silver/events")) == [1, 3]

    arrive(tmp_path, "b", [event(4, "03"), event(5, "04")])
    second = run_node(path, "live.events", "r2")
    assert second.result.extra["streaming"]["rows_in"] == 2
    assert second.result.rows_written == 2

    nothing_new = run_node(path, "live.events", "r3")
    assert nothing_new.result.extra["streaming"]["rows_in"] == 0
    assert nothing_new.result.rows_written == 0
    assert nothing_new.result.write is not None and nothing_new.result.write.skipped

    ids = sorted(r["event_id"] for r in target_rows(tmp_path, "silver/events"))
    assert ids == [1, 3, 4, 5]
    assert sorted(r["doubled"] for r in target_rows(tmp_path, "silver/events")) == \
        [2.0, 2.0, 2.0, 2.0]
    quarantined = target_rows(tmp_path, "_quarantine/events")
    assert [r["event_id"] for r in quarantined] == [2]


WINDOW_NODE = f"""\
- name: per_window
  read:
    connection: landing
    format: json
    path: events
    streaming: true
    schema_ddl: "{EVENTS_DDL}"
    watermark_column: event_time
    watermark_delay: "10 minutes"
  transform:
    steps:
      - |
        SELECT window(event_time, '5 minutes').start AS window_start,
               count(*) AS events, sum(amount) AS total
        FROM df GROUP BY window(event_time, '5 minutes')
  write:
    connection: lake
    format: delta
    path: gold/per_window
    streaming: {{output_mode: append}}
"""


def test_windows_are_written_once_closed_and_late_events_are_dropped(tmp_path: Path) -> None:
    path = write_project(tmp_path, WINDOW_NODE)
    arrive(tmp_path, "a", [event(1, "00", 1), event(2, "03", 2), event(3, "30", 3)])
    first = run_node(path, "live.per_window", "r1")
    # The max event time is 12:30: the watermark moves to 12:20 and closes 12:00-12:05.
    assert first.result.extra["streaming"]["watermark"].startswith("2026-11-27T12:20")
    windows = {r["window_start"].strftime("%H:%M"): (r["events"], r["total"])
               for r in target_rows(tmp_path, "gold/per_window")}
    assert windows == {"12:00": (2, 3.0)}

    # 12:01 is behind the watermark (12:20): Spark drops it. 12:50 moves it to 12:40.
    arrive(tmp_path, "b", [event(4, "01", 100), event(5, "50", 5)])
    second = run_node(path, "live.per_window", "r2")
    assert second.result.extra["streaming"]["late_rows_dropped"] == 1
    windows = {r["window_start"].strftime("%H:%M"): (r["events"], r["total"])
               for r in target_rows(tmp_path, "gold/per_window")}
    assert windows == {"12:00": (2, 3.0), "12:30": (1, 3.0)}
