"""Streaming nodes on a real local SparkSession with Delta Lake: files arrive in batches, the
node's query runs once per materialization (``availableNow``), and the target holds each record
once; windowed aggregations drop what arrives behind the watermark, as Spark defines."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.streaming.streams import (
    APPEND_NODE,
    EVENTS_DDL,
    arrive,
    event,
    run_node,
    target_rows,
    write_project,
)

pytestmark = pytest.mark.usefixtures("spark_session")


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
