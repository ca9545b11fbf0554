"""Jobs, schedules, file-arrival sensors and declarative automation of a project (SPEC §11),
evaluated with Dagster's own contexts against a real instance and executed for real."""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from pathlib import Path

import dagster as dg
import pytest
from deltalake import DeltaTable

from odibi_core.config import load_project
from odibi_core.errors import ConfigError
from odibi_core.file_arrival import new_file_sets
from odibi_dagster import metadata as md
from odibi_dagster.automation import AUTOMATION_SENSOR
from odibi_dagster.definitions import defs_from_project

PROJECT = """\
project: arrivals
connections:
  landing: {type: local, base_path: ./landing}
  lake: {type: local, base_path: ./lake}
system: {connection: lake, path: _system}
pipelines:
  - pipeline: ingest
    schedule: {cron: "15 6 * * *", timezone: Europe/Berlin}
    sensor: {connection: landing, path: "orders/*.csv", minimum_interval_seconds: 5}
    nodes:
      - name: raw_orders
        tags: [hourly]
        read: {connection: landing, format: csv, path: "orders/*.csv"}
        write: {connection: lake, format: delta, path: bronze/orders, mode: append}
      - name: order_totals
        tags: [daily]
        depends_on: [raw_orders]
        automation: eager
        read: {connection: lake, format: delta, path: bronze/orders}
        transform:
          steps: ["SELECT count(*) AS orders, sum(amount) AS amount FROM df"]
        write: {connection: lake, format: delta, path: gold/order_totals, mode: overwrite}
jobs:
  - job: daily_refresh
    tags: [daily]
    schedule: "0 7 * * *"
"""


def _project(tmp_path: Path, text: str = PROJECT) -> Path:
    (tmp_path / "landing" / "orders").mkdir(parents=True, exist_ok=True)
    (tmp_path / "odibi.yaml").write_text(text, encoding="utf-8")
    return tmp_path / "odibi.yaml"


def _drop(tmp_path: Path, name: str, rows: list[tuple[int, float]], *, age: float = 0) -> None:
    """A new landing file; ``age`` seconds in the past (so arrival order is certain)."""
    path = tmp_path / "landing" / "orders" / name
    path.write_text("order_id,amount\n" + "".join(f"{i},{a}\n" for i, a in rows),
                    encoding="utf-8")
    stamp = time.time() - age
    os.utime(path, (stamp, stamp))


def _orders(tmp_path: Path) -> list[int]:
    table = DeltaTable(str(tmp_path / "lake" / "bronze" / "orders")).to_pyarrow_table()
    return sorted(table.column("order_id").to_pylist())


def test_a_job_per_pipeline_and_per_declared_tag_selection(tmp_path: Path) -> None:
    defs = defs_from_project(_project(tmp_path))
    assert sorted(job.name for job in defs.jobs) == ["daily_refresh", "ingest_job"]
    repo = defs.get_repository_def()
    assert {k.to_user_string() for k in repo.get_job("ingest_job").asset_layer.selected_asset_keys
            } == {"ingest/raw_orders", "ingest/order_totals"}
    assert {k.to_user_string() for k in
            repo.get_job("daily_refresh").asset_layer.selected_asset_keys
            } == {"ingest/order_totals"}


def test_schedules_tick_their_jobs_in_their_time_zone(tmp_path: Path) -> None:
    defs = defs_from_project(_project(tmp_path))
    by_name = {s.name: s for s in defs.schedules}
    assert sorted(by_name) == ["daily_refresh_schedule", "ingest_schedule"]
    ingest = by_name["ingest_schedule"]
    assert (ingest.cron_schedule, ingest.execution_timezone) == ("15 6 * * *", "Europe/Berlin")
    assert ingest.job_name == "ingest_job"
    assert ingest.default_status == dg.DefaultScheduleStatus.STOPPED  # Dagster's default
    assert by_name["daily_refresh_schedule"].job_name == "daily_refresh"
    with dg.instance_for_test() as instance:
        context = dg.build_schedule_context(
            instance=instance, scheduled_execution_time=dt.datetime(
                2026, 11, 27, 6, 15, tzinfo=dt.timezone(dt.timedelta(hours=1))))
        tick = ingest.evaluate_tick(context)
    assert len(tick.run_requests or []) == 1


def test_a_partitioned_pipeline_schedule_runs_the_latest_complete_partition(tmp_path: Path
                                                                            ) -> None:
    text = PROJECT.replace(
        '    sensor: {connection: landing, path: "orders/*.csv", minimum_interval_seconds: 5}\n',
        "    partitions: {type: daily, start: 2026-11-01}\n").replace(
        "automation: eager", "automation: {condition: on_cron, cron: '0 * * * *'}")
    defs = defs_from_project(_project(tmp_path, text))
    schedule = next(s for s in defs.schedules if s.name == "ingest_schedule")
    with dg.instance_for_test() as instance:
        context = dg.build_schedule_context(
            instance=instance, repository_def=defs.get_repository_def(),
            scheduled_execution_time=dt.datetime(2026, 11, 27, 6, 15, tzinfo=dt.timezone.utc))
        tick = schedule.evaluate_tick(context)
    assert [r.partition_key for r in tick.run_requests or []] == ["2026-11-26"]


def test_file_sensor_runs_each_new_file_set_once(tmp_path: Path) -> None:
    defs = defs_from_project(_project(tmp_path))
    sensor = next(s for s in defs.sensors if s.name == "ingest_files_sensor")
    assert sensor.default_status == dg.DefaultSensorStatus.STOPPED
    assert sensor.minimum_interval_seconds == 5
    job = defs.resolve_job_def("ingest_job")
    with dg.instance_for_test() as instance:
        def tick(cursor: str | None) -> tuple[list[dg.RunRequest], str | None, str | None]:
            context = dg.build_sensor_context(instance=instance, cursor=cursor,
                                              definitions=defs)
            data = sensor.evaluate_tick(context)
            return list(data.run_requests or []), data.cursor, data.skip_message

        def run(request: dg.RunRequest) -> None:
            result = job.execute_in_process(instance=instance, tags=request.tags)
            assert result.success

        requests, cursor, skipped = tick(None)
        assert requests == [] and skipped and "No new files match landing:orders/*.csv" in skipped

        _drop(tmp_path, "a.csv", [(1, 10.0), (2, 20.0)], age=20)
        _drop(tmp_path, "b.csv", [(3, 30.0)], age=10)
        requests, cursor, _ = tick(cursor)
        assert len(requests) == 1
        first = requests[0]
        assert json.loads(first.tags[md.TAG_FILES]) == ["orders/a.csv", "orders/b.csv"]
        assert first.tags[md.TAG_FILE_COUNT] == "2"
        assert first.tags[md.TAG_WATCHED] == "landing:orders/*.csv"
        run(first)
        assert _orders(tmp_path) == [1, 2, 3]

        # Nothing new: the sensor skips, and the cursor still knows both files.
        requests, cursor, skipped = tick(cursor)
        assert requests == [] and "2 seen before" in (skipped or "")

        # One more file: the run reads only it, so the append adds only its rows.
        _drop(tmp_path, "c.csv", [(4, 40.0)])
        requests, cursor, _ = tick(cursor)
        assert [json.loads(r.tags[md.TAG_FILES]) for r in requests] == [["orders/c.csv"]]
        run(requests[0])
        assert _orders(tmp_path) == [1, 2, 3, 4]
        totals = DeltaTable(str(tmp_path / "lake" / "gold" / "order_totals"))
        assert totals.to_pyarrow_table().to_pylist() == [{"orders": 4, "amount": 100.0}]

        # A rewritten file is new again (its size changed); the others are not.
        _drop(tmp_path, "b.csv", [(5, 50.0), (6, 60.0)])
        requests, cursor, _ = tick(cursor)
        assert [json.loads(r.tags[md.TAG_FILES]) for r in requests] == [["orders/b.csv"]]
        assert requests[0].run_key != first.run_key


def test_new_files_are_split_into_runs_oldest_first() -> None:
    now = {f"f{i}.csv": f"{100 - i}:10" for i in range(5)}  # f4 is the oldest
    assert new_file_sets(now, {}, 2) == [["f4.csv", "f3.csv"], ["f2.csv", "f1.csv"], ["f0.csv"]]
    assert new_file_sets(now, now, 2) == []
    assert new_file_sets(now, {**now, "f0.csv": "1:1"}, 2) == [["f0.csv"]]


def test_opt_in_automation_materializes_downstream_after_upstream(tmp_path: Path) -> None:
    defs = defs_from_project(_project(tmp_path))
    _drop(tmp_path, "a.csv", [(1, 10.0)])
    sensor = next(s for s in defs.sensors if s.name == AUTOMATION_SENSOR)
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    totals = dg.AssetKey(["ingest", "order_totals"])
    raw = dg.AssetKey(["ingest", "raw_orders"])
    graph = defs.resolve_asset_graph()
    assert graph.get(raw).automation_condition is None
    assert graph.get(totals).automation_condition is not None
    with dg.instance_for_test() as instance:
        first = dg.evaluate_automation_conditions(defs=defs, instance=instance)
        job = defs.resolve_job_def("ingest_job")
        assert job.execute_in_process(instance=instance, asset_selection=[raw]).success
        after = dg.evaluate_automation_conditions(defs=defs, instance=instance,
                                                  cursor=first.cursor)
    assert after.get_num_requested(totals) == 1
    assert after.get_num_requested(raw) == 0


@pytest.mark.parametrize(("edit", "expected"), [
    (("mode: append}", "mode: overwrite}"),
     "[ingest.raw_orders] The sensor gives each run only the new files"),
    (('path: "orders/*.csv"}\n        write', 'path: "orders/*.txt"}\n        write'),
     "no node of the pipeline reads that path"),
    (("tags: [daily]\n    schedule", "tags: [weekly]\n    schedule"),
     "[job daily_refresh] No enabled node carries any of the tags weekly"),
    (("job: daily_refresh", "job: ingest_job"),
     "Job name 'ingest_job' is already taken by pipeline ingest"),
    (('"0 7 * * *"', '"every day"'), "'every day' is not a cron schedule"),
    (("Europe/Berlin", "Mars/Olympus"), "'Mars/Olympus' is not a time zone"),
    (("automation: eager", "automation: {condition: on_cron}"),
     "automation on_cron needs a cron expression"),
    (("automation: eager", "automation: eagerly"), "automation"),
])
def test_bad_orchestration_blocks_are_config_errors(tmp_path: Path, edit: tuple[str, str],
                                                    expected: str) -> None:
    assert edit[0] in PROJECT
    path = _project(tmp_path, PROJECT.replace(*edit))
    with pytest.raises(ConfigError) as raised:
        load_project(path)
    text = str(raised.value)
    assert expected in text
    assert "odibi.yaml" in text  # every problem names the file (and line)


def test_a_sensor_on_a_partitioned_pipeline_is_refused(tmp_path: Path) -> None:
    text = PROJECT.replace("    schedule: {cron:", "    partitions: {type: daily, start: "
                           "2026-11-01}\n    schedule: {cron:")
    with pytest.raises(ConfigError) as raised:
        load_project(_project(tmp_path, text))
    assert "A partitioned pipeline cannot be started by a file sensor" in str(raised.value)


def test_a_hand_edited_files_tag_is_a_clear_error() -> None:
    from odibi_dagster.file_sensor import arrival_from_tags

    tags = {md.TAG_WATCHED: "landing:orders/*.csv", md.TAG_SENSOR_READS: "new_files",
            md.TAG_FILES: "orders/a.csv"}
    with pytest.raises(ConfigError, match="is not a JSON list of file paths"):
        arrival_from_tags(tags)
    tags[md.TAG_FILES] = '["orders/a.csv"]'
    assert arrival_from_tags(tags).files == ("orders/a.csv",)
