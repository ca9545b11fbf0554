"""Source-change sensors (``sensor: {type: source_change}``): evaluated with Dagster's own sensor
context against a real instance, over real Delta tables (written with ``deltalake``) and real
files. The nodes are never run here (change-feed and streaming reads have their own tests); only
what the sensor requests is checked."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import dagster as dg
import pyarrow as pa
import pytest
from deltalake import write_deltalake

from odibi_core.config import SourceChangeSensorConfig, load_project
from odibi_core.config.orchestration_checks import source_sensor_interval
from odibi_core.errors import ConfigError
from odibi_dagster.definitions import defs_from_project
from odibi_dagster.source_change_sensor import TAG_CHANGED_NODES, TAG_CHANGED_SOURCES

CDC_PROJECT = """\
project: cdc
connections:
  lake: {type: local, base_path: ./lake}
system: {connection: lake, path: _system}
pipelines:
  - pipeline: silver
    sensor: {type: source_change}
    nodes:
      - name: order_changes
        read:
          connection: lake
          format: delta
          path: bronze/orders
          change_feed: {starting_version: 0}
        write: {connection: lake, format: delta, path: silver/order_changes, mode: append}
      - name: order_totals
        depends_on: [order_changes]
        transform: {steps: ["SELECT count(*) AS n FROM df"]}
        write: {connection: lake, format: delta, path: silver/order_totals}
      - name: customers
        read: {connection: lake, format: csv, path: customers.csv}
        write: {connection: lake, format: delta, path: silver/customers}
  - pipeline: gold
    nodes:
      - name: report
        inputs: {totals: $silver.order_totals}
        transform: {steps: ["SELECT * FROM totals"]}
        write: {connection: lake, format: delta, path: gold/report}
"""

STREAM_PROJECT = """\
project: streams
engine: spark
connections:
  landing: {type: local, base_path: ./landing}
  lake: {type: local, base_path: ./lake}
pipelines:
  - pipeline: events
    sensor: {type: source_change, default_status: running}
    nodes:
      - name: raw_events
        read:
          connection: landing
          format: json
          path: events/
          streaming: true
          schema_ddl: "id BIGINT, kind STRING"
        write:
          connection: lake
          format: delta
          path: bronze/events
          streaming: {trigger: {processing_time: "10 seconds"}}
      - name: event_counts
        depends_on: [raw_events]
        read: {connection: lake, format: delta, path: bronze/events}
        transform: {steps: ["SELECT kind, count(*) AS n FROM df GROUP BY kind"]}
        write: {connection: lake, format: delta, path: silver/event_counts}
"""

ORDERS = pa.table({"order_id": [1, 2], "amount": [10.0, 20.0]})
CDF = {"delta.enableChangeDataFeed": "true"}


def _write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "odibi.yaml").write_text(text, encoding="utf-8")
    return tmp_path / "odibi.yaml"


def _append_orders(tmp_path: Path, rows: pa.Table = ORDERS) -> None:
    write_deltalake(str(tmp_path / "lake" / "bronze" / "orders"), rows, mode="append",
                    configuration=CDF)


def _sensor(defs: dg.Definitions, name: str) -> dg.SensorDefinition:
    return next(s for s in defs.sensors if s.name == name)


def _tick(defs: dg.Definitions, sensor: dg.SensorDefinition, instance: dg.DagsterInstance,
          cursor: str | None) -> tuple[list[dg.RunRequest], str | None, str | None]:
    context = dg.build_sensor_context(instance=instance, cursor=cursor, definitions=defs)
    data = sensor.evaluate_tick(context)
    return list(data.run_requests or []), data.cursor, data.skip_message


def _selected(request: dg.RunRequest) -> list[str]:
    return [key.to_user_string() for key in request.asset_selection or []]


def test_a_change_feed_node_runs_with_its_downstream_after_a_new_source_version(
        tmp_path: Path) -> None:
    defs = defs_from_project(_write(tmp_path, CDC_PROJECT))
    sensor = _sensor(defs, "silver_source_sensor")
    assert sensor.minimum_interval_seconds == 30  # no processing_time: the default
    assert sensor.default_status == dg.DefaultSensorStatus.STOPPED
    assert sensor.job_name == "silver_job"
    assert "silver_files_sensor" not in {s.name for s in defs.sensors}
    with dg.instance_for_test() as instance:
        # No table yet: a skip that says so, not an error.
        requests, cursor, skipped = _tick(defs, sensor, instance, None)
        assert requests == []
        assert "Nothing to read yet" in (skipped or "")
        assert "silver.order_changes (lake:bronze/orders)" in (skipped or "")

        # The table appears (version 0): the CDC node and its downstream node in the pipeline
        # run; the unrelated node and the other pipeline's node do not.
        _append_orders(tmp_path)
        requests, cursor, _ = _tick(defs, sensor, instance, cursor)
        assert len(requests) == 1
        first = requests[0]
        assert _selected(first) == ["silver/order_changes", "silver/order_totals"]
        assert json.loads(first.tags[TAG_CHANGED_NODES]) == ["silver.order_changes"]
        assert json.loads(first.tags[TAG_CHANGED_SOURCES]) == ["lake:bronze/orders"]
        assert json.loads(cursor or "{}") == {"silver.order_changes": {"version": 0}}

        # Nothing new: a skip naming what was checked; the cursor carries over unchanged.
        requests, again, skipped = _tick(defs, sensor, instance, cursor)
        assert requests == [] and again == cursor
        assert skipped == "No source changed: silver.order_changes (lake:bronze/orders, " \
                          "version 0)."

        # A new version of the source: another run, with another run key.
        _append_orders(tmp_path, pa.table({"order_id": [3], "amount": [30.0]}))
        requests, cursor, _ = _tick(defs, sensor, instance, cursor)
        assert [_selected(r) for r in requests] == [["silver/order_changes",
                                                     "silver/order_totals"]]
        assert requests[0].run_key != first.run_key
        assert json.loads(cursor or "{}") == {"silver.order_changes": {"version": 1}}

        # A lost cursor asks again for the same state, under the same run key, so Dagster
        # does not start a second run for it.
        lost, _, _ = _tick(defs, sensor, instance, None)
        assert [r.run_key for r in lost] == [requests[0].run_key]


def test_an_unreadable_source_is_a_skip_with_the_message(tmp_path: Path) -> None:
    defs = defs_from_project(_write(tmp_path, CDC_PROJECT))
    sensor = _sensor(defs, "silver_source_sensor")
    log = tmp_path / "lake" / "bronze" / "orders" / "_delta_log"
    log.mkdir(parents=True)
    (log / "00000000000000000000.json").write_text("not json\n", encoding="utf-8")
    with dg.instance_for_test() as instance:
        requests, cursor, skipped = _tick(
            defs, sensor, instance,
            '{"silver.order_changes": {"version": 4}, "silver.gone": {"version": 1}}')
    assert requests == []
    assert (skipped or "").startswith(
        "Could not read: silver.order_changes (lake:bronze/orders): DeltaError: ")
    assert "\n" not in (skipped or "")  # delta-rs's native backtrace is left out
    # What was seen before is kept (the source's return in that state is not a change); a node
    # no longer watched drops out.
    assert json.loads(cursor or "{}") == {"silver.order_changes": {"version": 4}}


def test_validate_counts_and_names_the_sensor_kinds(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    from odibi_dagster.cli.main import main

    text = CDC_PROJECT.replace(
        "  - pipeline: gold\n",
        '  - pipeline: gold\n    sensor: {connection: lake, path: "*.csv", reads: all_files}\n')
    assert main(["validate", str(_write(tmp_path, text))]) == 0
    assert "2 sensor(s) (1 file_arrival, 1 source_change)" in capsys.readouterr().out


def _drop(tmp_path: Path, name: str, lines: list[dict[str, object]], *, age: float = 0) -> None:
    folder = tmp_path / "landing" / "events"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    stamp = time.time() - age
    os.utime(path, (stamp, stamp))


def test_a_streaming_file_node_runs_when_new_files_arrive(tmp_path: Path) -> None:
    defs = defs_from_project(_write(tmp_path, STREAM_PROJECT))
    sensor = _sensor(defs, "events_source_sensor")
    assert sensor.minimum_interval_seconds == 10  # the node's processing_time trigger
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    with dg.instance_for_test() as instance:
        (tmp_path / "landing" / "events").mkdir(parents=True)
        requests, cursor, skipped = _tick(defs, sensor, instance, None)
        assert requests == [] and "events.raw_events (landing:events/)" in (skipped or "")

        _drop(tmp_path, "a.json", [{"id": 1, "kind": "click"}], age=20)
        # A hidden or _-prefixed file is not data (readers skip it): not a change either.
        (tmp_path / "landing" / "events" / "_SUCCESS").write_text("", encoding="utf-8")
        requests, cursor, _ = _tick(defs, sensor, instance, cursor)
        assert [_selected(r) for r in requests] == [["events/raw_events", "events/event_counts"]]
        first = requests[0]
        assert json.loads(first.tags[TAG_CHANGED_SOURCES]) == ["landing:events/"]
        assert json.loads(cursor or "{}")["events.raw_events"]["files"] == 1

        requests, cursor, skipped = _tick(defs, sensor, instance, cursor)
        assert requests == []
        assert skipped == "No source changed: events.raw_events (landing:events/, 1 file(s))."

        _drop(tmp_path, "b.json", [{"id": 2, "kind": "view"}])
        requests, cursor, _ = _tick(defs, sensor, instance, cursor)
        assert len(requests) == 1 and requests[0].run_key != first.run_key
        assert json.loads(cursor or "{}")["events.raw_events"]["files"] == 2

        # The run key depends only on the sources' state: the same files, the same key.
        same, _, _ = _tick(defs, sensor, instance, None)
        assert [r.run_key for r in same] == [requests[0].run_key]


def test_named_nodes_are_watched_and_the_interval_is_the_shortest_trigger(tmp_path: Path
                                                                         ) -> None:
    """``nodes:`` may name a batch node that reads Delta by path; the interval comes from the
    shortest processing_time among the watched nodes, and an explicit one wins."""
    text = STREAM_PROJECT.replace(
        "sensor: {type: source_change, default_status: running}",
        "sensor: {type: source_change, nodes: [raw_events, event_counts]}")
    project = load_project(_write(tmp_path, text))
    pipeline = project.config.pipeline("events")
    assert isinstance(pipeline.sensor, SourceChangeSensorConfig)
    assert source_sensor_interval(pipeline) == 10
    slower = text.replace('"10 seconds"', '"2m"')
    assert source_sensor_interval(load_project(_write(tmp_path, slower)).config
                                  .pipeline("events")) == 120
    fixed = text.replace("nodes: [raw_events, event_counts]}",
                         "nodes: [raw_events], minimum_interval_seconds: 5}")
    defs = defs_from_project(_write(tmp_path, fixed))
    assert _sensor(defs, "events_source_sensor").minimum_interval_seconds == 5

    # The batch node's Delta source changes on its own: it runs, the streaming node does not.
    defs = defs_from_project(_write(tmp_path, text))
    sensor = _sensor(defs, "events_source_sensor")
    _drop(tmp_path, "a.json", [{"id": 1, "kind": "click"}])
    with dg.instance_for_test() as instance:
        requests, cursor, _ = _tick(defs, sensor, instance, None)
        assert [_selected(r) for r in requests] == [["events/raw_events", "events/event_counts"]]
        write_deltalake(str(tmp_path / "lake" / "bronze" / "events"),
                        pa.table({"id": [1], "kind": ["click"]}))
        requests, cursor, _ = _tick(defs, sensor, instance, cursor)
        assert [_selected(r) for r in requests] == [["events/event_counts"]]
        assert json.loads(requests[0].tags[TAG_CHANGED_NODES]) == ["events.event_counts"]


def test_file_arrival_sensors_still_validate_without_a_type(tmp_path: Path) -> None:
    text = CDC_PROJECT.replace(
        "sensor: {type: source_change}",
        'sensor: {connection: lake, path: "*.csv", reads: all_files}')
    defs = defs_from_project(_write(tmp_path, text))
    assert {s.name for s in defs.sensors or []} >= {"silver_files_sensor"}
    assert "silver_source_sensor" not in {s.name for s in defs.sensors or []}


@pytest.mark.parametrize(("edit", "expected"), [
    (("sensor: {type: source_change}", "sensor: {type: source_change, nodes: [order_change]}"),
     "[silver] The source_change sensor names node 'order_change', which the pipeline does not "
     "have. Did you mean 'order_changes'?"),
    (("sensor: {type: source_change}", "sensor: {type: source_change, nodes: [order_totals]}"),
     "[silver.order_totals] The source_change sensor cannot watch this node: it has no read"),
    (("change_feed: {starting_version: 0}", "time_travel: {as_of_version: 0}"),
     "[silver] The source_change sensor has nothing to watch: no enabled node of the pipeline "
     "reads a stream (read.streaming) or a change feed (read.change_feed)."),
    (("sensor: {type: source_change}", "sensor: {type: source_change}\n"
                                       "    partitions: {type: daily, start: 2026-01-01}"),
     "[silver] A partitioned pipeline cannot be started by a source_change sensor"),
    (("sensor: {type: source_change}", "sensor: {type: source_chang}"),
     "Unknown type 'source_chang'. Did you mean 'source_change'?"),
    (("sensor: {type: source_change}", "sensor: {type: source_change, path: x}"),
     "Unknown key 'path'"),
    (("sensor: {type: source_change}",
      "sensor: {type: source_change, minimum_interval_seconds: 0}"),
     "minimum_interval_seconds"),
])
def test_bad_source_change_sensors_are_config_errors(tmp_path: Path, edit: tuple[str, str],
                                                     expected: str) -> None:
    assert edit[0] in CDC_PROJECT
    with pytest.raises(ConfigError) as raised:
        load_project(_write(tmp_path, CDC_PROJECT.replace(*edit)))
    text = str(raised.value)
    assert expected in text
    assert "odibi.yaml:" in text  # every problem names the file and line


def test_a_named_node_reading_a_table_cannot_be_watched(tmp_path: Path) -> None:
    text = CDC_PROJECT.replace(
        "sensor: {type: source_change}", "sensor: {type: source_change, nodes: [customers]}"
    ).replace("format: csv, path: customers.csv", "format: sql, table: customers").replace(
        "  lake: {type: local, base_path: ./lake}",
        "  lake: {type: local, base_path: ./lake}\n"
        "  crm: {type: sql, url: \"sqlite:///crm.db\"}").replace(
        "{connection: lake, format: sql", "{connection: crm, format: sql")
    with pytest.raises(ConfigError) as raised:
        load_project(_write(tmp_path, text))
    assert ("[silver.customers] The source_change sensor cannot watch this node: it reads "
            "format sql") in str(raised.value)


def test_the_component_schema_takes_both_kinds_and_reports_a_typo_at_its_key() -> None:
    from jsonschema import Draft202012Validator

    from odibi_dagster.component_schema import project_json_schema

    validator = Draft202012Validator(project_json_schema())

    def errors(sensor: object) -> list[tuple[list[object], str]]:
        project = {"project": "p", "connections": {}, "pipelines": [
            {"pipeline": "p", "sensor": sensor, "nodes": [{"name": "a"}]}]}
        return [(list(e.absolute_path)[3:], e.message) for e in validator.iter_errors(project)]

    assert errors({"connection": "landing", "path": "*.csv"}) == []  # file_arrival by default
    assert errors({"type": "source_change", "nodes": ["a"], "default_status": "running"}) == []
    assert errors({"type": "source_chang"}) == [
        (["type"], "'source_chang' is not one of ['file_arrival', 'source_change']")]
    assert errors({"type": "source_change", "minimum_interval_seconds": 0}) == [
        (["minimum_interval_seconds"], "0 is less than the minimum of 1")]
    assert errors({"connection": "landing"}) == [([], "'path' is a required property")]


def test_other_problems_are_still_listed_beside_a_source_change_sensor(tmp_path: Path) -> None:
    """A project that does not fully validate is checked on its valid parts; a source_change
    sensor (which has no connection) is one of them."""
    text = CDC_PROJECT.replace("format: csv, path: customers.csv",
                               "format: csv, path: customers.csv, extra: 1").replace(
        "{connection: lake, format: delta, path: gold/report}",
        "{connection: lak, format: delta, path: gold/report}")
    with pytest.raises(ConfigError) as raised:
        load_project(_write(tmp_path, text))
    assert "Unknown key 'extra'" in str(raised.value)
    assert "[gold.report] Unknown connection 'lak'. Did you mean 'lake'?" in str(raised.value)


def test_doctor_checks_only_file_arrival_sensor_paths(tmp_path: Path) -> None:
    from odibi_core.doctor import paths_read

    project = load_project(_write(tmp_path, CDC_PROJECT))
    assert paths_read(project, "lake") == ["bronze/orders", "customers.csv"]
