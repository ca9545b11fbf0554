"""A change-feed node in Dagster: its source_change sensor starts it when the source table gets a
new version, each materialization records the versions it consumed, and upserts and deletes on
the source arrive downstream as the right changes."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import pyarrow as pa
from deltalake import DeltaTable, write_deltalake

from odibi_dagster import defs_from_project
from odibi_dagster import metadata as md

PROJECT = """\
project: cdc
connections:
  lake: {type: local, base_path: ./lake}
system: {connection: lake, path: _system}
story: {connection: lake, path: _stories}
pipelines:
  - pipeline: silver
    sensor: {type: source_change}
    nodes:
      - name: customer_changes
        read:
          connection: lake
          format: delta
          path: bronze/customers
          change_feed: {starting_version: 0}
        transform:
          steps:
            - "SELECT id, name, _change_type, _commit_version FROM df
               WHERE _change_type <> 'update_preimage'"
        write: {connection: lake, format: delta, path: silver/customer_changes, mode: append}
"""


def _source(root: Path) -> DeltaTable:
    return DeltaTable(str(root / "lake" / "bronze" / "customers"))


def test_the_sensor_runs_the_feed_and_each_run_records_the_versions_it_consumed(
        tmp_path: Path) -> None:
    (tmp_path / "odibi.yaml").write_text(PROJECT, encoding="utf-8")
    write_deltalake(str(tmp_path / "lake" / "bronze" / "customers"),
                    pa.table({"id": [1, 2], "name": ["ann", "bob"]}),
                    configuration={"delta.enableChangeDataFeed": "true"})
    defs = defs_from_project(tmp_path / "odibi.yaml")
    sensor = next(s for s in defs.sensors if s.name == "silver_source_sensor")
    job = defs.resolve_implicit_global_asset_job_def()

    def tick(instance: dg.DagsterInstance, cursor: str | None):
        data = sensor.evaluate_tick(dg.build_sensor_context(instance=instance, cursor=cursor,
                                                            definitions=defs))
        return list(data.run_requests or []), data.cursor

    def run(instance: dg.DagsterInstance, request: dg.RunRequest) -> dict:
        result = job.execute_in_process(  # as the daemon launches it: with the sensor's tags
            instance=instance, asset_selection=list(request.asset_selection or []),
            tags={**request.tags, "dagster/sensor_name": sensor.name})
        assert result.success
        (event,) = result.get_asset_materialization_events()
        return {k: v.value for k, v in event.materialization.metadata.items()}

    with dg.instance_for_test() as instance:
        requests, cursor = tick(instance, None)
        first = run(instance, requests[0])
        assert md.CHANGE_FEED_AFTER not in first and first[md.CHANGE_FEED_UP_TO] == 0
        assert tick(instance, cursor)[0] == []

        source = _source(tmp_path)  # an upsert (1 changes, 3 is new), then a delete of 2
        source.merge(pa.table({"id": [1, 3], "name": ["ANN", "cy"]}), "s.id = t.id",
                     source_alias="s", target_alias="t") \
            .when_matched_update_all().when_not_matched_insert_all().execute()
        _source(tmp_path).delete("id = 2")
        requests, cursor = tick(instance, cursor)
        assert len(requests) == 1
        second = run(instance, requests[0])
        assert second[md.CHANGE_FEED_AFTER] == 0 and second[md.CHANGE_FEED_UP_TO] == 2
        assert second[md.ROWS_WRITTEN] == 3
        story = json.loads(Path(second[md.STORY].replace(".html", ".json")).read_text())
        assert story["extra"]["trigger"] == {
            "by": "sensor silver_source_sensor", "changed_nodes": ["silver.customer_changes"],
            "changed_sources": ["lake:bronze/customers"]}

    changes = DeltaTable(str(tmp_path / "lake" / "silver" / "customer_changes"))
    rows = sorted((r["_commit_version"], r["id"], r["name"], r["_change_type"])
                  for r in changes.to_pyarrow_table().to_pylist())
    assert rows == [(0, 1, "ann", "insert"), (0, 2, "bob", "insert"),
                    (1, 1, "ANN", "update_postimage"), (1, 3, "cy", "insert"),
                    (2, 2, "bob", "delete")]
