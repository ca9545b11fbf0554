"""File-arrival sensors (``sensor: {type: file_arrival, ...}`` on a pipeline): one run of the
pipeline's job per set of new files, never two for the same file.

The cursor is the JSON map of every file seen that still exists to its version (modification
time and size), so a file is requested once, and again only when it is rewritten. The run's tags
list the files; nodes that read the watched path read only them (``reads: new_files``).
Each request's run key is a digest of its files and versions, so Dagster itself would not start
a second run for the same set even if the cursor were lost.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

import dagster as dg

from odibi_core.config.orchestration import FileArrivalSensorConfig
from odibi_core.config.orchestration_checks import pipeline_job_name
from odibi_core.connections import build_connection
from odibi_core.errors import ConfigError, ConfigProblem
from odibi_core.file_arrival import FileArrival, FileVersions, list_files, new_file_sets
from odibi_dagster import metadata as md
from odibi_dagster.cursors import json_object_cursor
from odibi_dagster.schedules import default_status

__all__ = ["arrival_from_tags", "build_file_sensors", "sensor_name_for"]


def sensor_name_for(pipeline: str) -> str:
    """The file-arrival sensor of ``pipeline``."""
    return f"{pipeline}_files_sensor"


def build_file_sensors(project: Any, jobs: Mapping[str, dg.UnresolvedAssetJobDefinition]
                       ) -> list[dg.SensorDefinition]:
    """A sensor per pipeline with a file-arrival ``sensor:`` block, targeting the pipeline's
    job (``source_change`` sensors: :mod:`odibi_dagster.source_change_sensor`)."""
    return [_file_sensor(project, pipeline, jobs[pipeline_job_name(pipeline.pipeline)])
            for pipeline in project.config.pipelines
            if isinstance(pipeline.sensor, FileArrivalSensorConfig)
            and pipeline_job_name(pipeline.pipeline) in jobs]


def _file_sensor(project: Any, pipeline: Any, job: dg.UnresolvedAssetJobDefinition
                 ) -> dg.SensorDefinition:
    config = pipeline.sensor
    watched = f"{config.connection}:{config.path}"

    @dg.sensor(name=sensor_name_for(pipeline.pipeline), job=job,
               minimum_interval_seconds=config.minimum_interval_seconds,
               default_status=default_status(config.default_status, dg.DefaultSensorStatus),
               description=f"Runs {job.name} when new files match {watched}.")
    def _sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult | dg.SkipReason:
        connection = build_connection(config.connection,
                                      project.config.connections[config.connection], project.root)
        now = list_files(connection.resolve(None), config.path)
        seen = _seen(context.cursor)
        sets = new_file_sets(now, seen, config.max_files_per_run)
        if not sets:
            return dg.SkipReason(f"No new files match {watched} ({len(now)} seen before).")
        context.log.info(f"{sum(map(len, sets))} new file(s) match {watched}: "
                         f"{len(sets)} run(s).")
        return dg.SensorResult(
            run_requests=[_run_request(files, now, watched, config.reads) for files in sets],
            cursor=json.dumps(now, sort_keys=True, separators=(",", ":")))

    return _sensor


def _run_request(files: list[str], now: FileVersions, watched: str, reads: str
                 ) -> dg.RunRequest:
    versions = json.dumps([[path, now[path]] for path in files], separators=(",", ":"))
    return dg.RunRequest(
        run_key=f"{watched}#{hashlib.sha256(versions.encode()).hexdigest()[:20]}",
        tags={md.TAG_WATCHED: watched, md.TAG_SENSOR_READS: reads,
              md.TAG_FILES: json.dumps(files, separators=(",", ":")),
              md.TAG_FILE_COUNT: str(len(files))})


def _seen(cursor: str | None) -> FileVersions:
    return {key: str(value) for key, value in json_object_cursor(cursor).items()}


def arrival_from_tags(tags: Mapping[str, str]) -> FileArrival | None:
    """The new files of a run a file-arrival sensor started with ``reads: new_files``."""
    watched, files = tags.get(md.TAG_WATCHED), tags.get(md.TAG_FILES)
    if not watched or files is None or tags.get(md.TAG_SENSOR_READS) != "new_files":
        return None
    connection, _, path = watched.partition(":")
    try:
        listed = json.loads(files)
    except ValueError:
        listed = None
    if not isinstance(listed, list) or not all(isinstance(f, str) for f in listed):
        raise ConfigError(ConfigProblem(
            message=f"The run's tag {md.TAG_FILES} is not a JSON list of file paths: {files!r}.",
            key_path="sensor",
            fix="Launch the run again from the sensor, or fix the tag to a list such as "
                '["orders/a.csv"].'))
    return FileArrival(connection=connection, path=path, files=tuple(listed))
