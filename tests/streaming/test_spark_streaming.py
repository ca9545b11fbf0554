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


def _delta_source(root: Path, rows: list[dict], mode: str = "append") -> None:
    from deltalake import write_deltalake
    import pyarrow as pa

    write_deltalake(str(root / "lake" / "bronze" / "totals"), pa.Table.from_pylist(rows),
                    mode=mode)


UPDATE_NODE = """\
- name: totals
  read: {connection: lake, format: delta, path: bronze/totals, streaming: true}
  transform:
    steps:
      - "SELECT customer, sum(amount) AS total, count(*) AS orders FROM df GROUP BY customer"
  write:
    connection: lake
    format: delta
    path: gold/totals
    options: {keys: [customer]}
    streaming: {output_mode: update}
"""


def test_update_mode_upserts_running_aggregates_from_a_delta_stream(tmp_path: Path) -> None:
    path = write_project(tmp_path, UPDATE_NODE)
    _delta_source(tmp_path, [{"customer": "a", "amount": 1.0}, {"customer": "b", "amount": 2.0}])
    run_node(path, "live.totals", "r1")
    _delta_source(tmp_path, [{"customer": "a", "amount": 10.0}])
    second = run_node(path, "live.totals", "r2")
    assert second.result.write is not None and second.result.write.mode == "upsert"
    totals = {r["customer"]: (r["total"], r["orders"])
              for r in target_rows(tmp_path, "gold/totals")}
    assert totals == {"a": (11.0, 2), "b": (2.0, 1)}  # one row per key, kept current


COMPLETE_NODE = UPDATE_NODE.replace("name: totals", "name: all_totals") \
    .replace("gold/totals", "gold/all_totals") \
    .replace("    options: {keys: [customer]}\n", "") \
    .replace("output_mode: update", "output_mode: complete")


def test_complete_mode_overwrites_the_target_with_the_whole_result(tmp_path: Path) -> None:
    path = write_project(tmp_path, COMPLETE_NODE)
    _delta_source(tmp_path, [{"customer": "a", "amount": 1.0}])
    run_node(path, "live.all_totals", "r1")
    _delta_source(tmp_path, [{"customer": "b", "amount": 5.0}, {"customer": "a", "amount": 1.0}])
    second = run_node(path, "live.all_totals", "r2")
    assert second.result.write is not None and second.result.write.mode == "overwrite"
    totals = {r["customer"]: r["total"] for r in target_rows(tmp_path, "gold/all_totals")}
    assert totals == {"a": 2.0, "b": 5.0}


def test_a_dry_run_checks_the_query_and_writes_nothing(tmp_path: Path) -> None:
    from odibi_core.config import load_project
    from odibi_core.engines import get_engine
    from odibi_core.node import NodeRunner, RunContext

    path = write_project(tmp_path, APPEND_NODE)
    arrive(tmp_path, "a", [event(1, "00")])
    run = NodeRunner(load_project(path), get_engine("spark")).run(
        "live.events", inputs={}, context=RunContext(run_id="d1", dry_run=True))
    assert run.succeeded, run.result.error
    assert run.result.extra["would_write"]["streaming"] is True
    assert not (tmp_path / "lake" / "silver" / "events").exists()
    assert not (tmp_path / "lake" / "_system" / "checkpoints").exists()


def test_an_operation_streams_do_not_support_fails_with_the_node_and_a_fix(
        tmp_path: Path) -> None:
    from odibi_core.config import load_project
    from odibi_core.engines import get_engine
    from odibi_core.node import NodeRunner, RunContext

    sorted_node = APPEND_NODE.replace(
        "SELECT event_id, customer, amount * 2 AS doubled, event_time FROM df",
        "SELECT event_id, customer, amount * 2 AS doubled, event_time FROM df ORDER BY event_id")
    path = write_project(tmp_path, sorted_node)
    arrive(tmp_path, "a", [event(1, "00")])
    run = NodeRunner(load_project(path), get_engine("spark")).run(
        "live.events", inputs={}, context=RunContext(run_id="e1"))
    assert not run.succeeded
    error = run.result.error
    assert error is not None and "live.events" in str(run.exception)
    assert "Sorting is not supported" in error.message or "sort" in error.message.lower()
    assert "Structured Streaming" in (error.fix or "")
    assert not (tmp_path / "lake" / "silver" / "events").exists()


def test_source_limits_split_a_run_into_micro_batches_each_committed_once(
        tmp_path: Path) -> None:
    limited = APPEND_NODE.replace("    streaming: true\n",
                                  "    streaming: true\n    options: {maxFilesPerTrigger: 1}\n")
    path = write_project(tmp_path, limited)
    for name, first in (("a", 1), ("b", 3), ("c", 5)):
        arrive(tmp_path, name, [event(first, "00"), event(first + 1, "01")])
    run = run_node(path, "live.events", "r1")
    stream = run.result.extra["streaming"]
    assert stream["batches"] == 3 and stream["batch_ids"] == [0, 2]
    assert stream["rows_in"] == 6 and run.result.rows_written == 6
    from deltalake import DeltaTable

    history = DeltaTable(str(tmp_path / "lake" / "silver" / "events")).history()
    assert sorted(h["version"] for h in history) == [0, 1, 2]  # one commit per micro-batch


def test_a_stream_joins_a_static_input(tmp_path: Path) -> None:
    from odibi_core.config import load_project
    from odibi_core.engines import get_engine
    from odibi_core.node import NodeRunner, RunContext
    from odibi_core.testing import frame_from_rows

    joined = APPEND_NODE.replace(
        "SELECT event_id, customer, amount * 2 AS doubled, event_time FROM df",
        "SELECT df.event_id, tiers.tier, df.amount * 2 AS doubled FROM df "
        "JOIN tiers ON df.customer = tiers.customer")
    path = write_project(tmp_path, joined)
    arrive(tmp_path, "a", [event(1, "00", customer="c1"), event(2, "01", customer="c2")])
    engine = get_engine("spark")
    tiers = frame_from_rows(engine, [{"customer": "c1", "tier": "gold"},
                                     {"customer": "c2", "tier": "silver"}],
                            schema={"customer": "string", "tier": "string"})
    run = NodeRunner(load_project(path), engine).run(
        "live.events", inputs={"tiers": tiers}, context=RunContext(run_id="j1"))
    assert run.succeeded, run.result.error
    rows = {r["event_id"]: r["tier"] for r in target_rows(tmp_path, "silver/events")}
    assert rows == {1: "gold", 2: "silver"}


@pytest.mark.parametrize(("node", "message"), [
    (APPEND_NODE, "The folder landing:events the stream watches does not exist"),
    (UPDATE_NODE, "There is no Delta table at lake:bronze/totals to stream from yet"),
])
def test_a_missing_source_fails_with_what_to_create(tmp_path: Path, node: str,
                                                    message: str) -> None:
    import shutil

    from odibi_core.config import load_project
    from odibi_core.engines import get_engine
    from odibi_core.node import NodeRunner, RunContext

    path = write_project(tmp_path, node)
    shutil.rmtree(tmp_path / "landing" / "events")
    key = "live.events" if node is APPEND_NODE else "live.totals"
    run = NodeRunner(load_project(path), get_engine("spark")).run(
        key, inputs={}, context=RunContext(run_id="m1"))
    assert run.result.error is not None and run.result.error.phase == "read"
    assert message in run.result.error.message and run.result.error.fix
