"""Checks of schedules, sensors and jobs against the rest of the project, before anything runs.

A job must select a node, a file-arrival sensor must be read by a node and must not feed an
overwrite with only the newest files, a source-change sensor must have nodes whose source it can
watch, and one job (one Dagster run) cannot span two partition schemes.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterator

from odibi_core.config.connections import LocalConnectionConfig
from odibi_core.config.node import NodeConfig
from odibi_core.config.orchestration import FileArrivalSensorConfig, SourceChangeSensorConfig
from odibi_core.config.project import PipelineConfig, ProjectConfig
from odibi_core.config.yaml_source import KeyPath, SourceMap
from odibi_core.errors import ConfigProblem
from odibi_core.config.node_plan import plan_write

__all__ = ["DEFAULT_SOURCE_SENSOR_INTERVAL", "WATCHABLE_FORMATS", "job_nodes",
           "orchestration_problems", "pipeline_job_name", "reads_changes", "sensor_readers",
           "source_sensor_interval", "source_sensor_nodes", "unwatchable_reason"]

# The read formats whose source a source_change sensor can look at cheaply: a file listing or a
# Delta table's version.
WATCHABLE_FORMATS = ("csv", "json", "parquet", "delta")
DEFAULT_SOURCE_SENSOR_INTERVAL = 30


def pipeline_job_name(pipeline: str) -> str:
    """The job that materializes every node of ``pipeline``."""
    return f"{pipeline}_job"


def job_nodes(config: ProjectConfig, job_index: int) -> list[str]:
    """``pipeline.node`` keys of the enabled nodes the job at ``job_index`` selects."""
    job = config.jobs[job_index]
    tags = set(job.tags)
    return [f"{pipeline.pipeline}.{node.name}"
            for pipeline in config.pipelines
            if not job.pipelines or pipeline.pipeline in job.pipelines
            for node in pipeline.nodes
            if node.enabled and (not tags or tags & set(node.tags))]


def sensor_readers(pipeline: PipelineConfig) -> Iterator[NodeConfig]:
    """The nodes of ``pipeline`` that read exactly what its file-arrival sensor watches."""
    sensor = pipeline.sensor
    if not isinstance(sensor, FileArrivalSensorConfig):
        return
    for node in pipeline.nodes:
        read = node.read
        if read is not None and read.connection == sensor.connection and read.path == sensor.path:
            yield node


def reads_changes(node: NodeConfig) -> bool:
    """The node reads a stream (``read.streaming``) or a Delta change feed."""
    return node.read is not None and (node.read.streaming or node.read.change_feed is not None)


def unwatchable_reason(node: NodeConfig) -> str | None:
    """Why a source_change sensor cannot watch the node's source (None: it can)."""
    read = node.read
    if read is None:
        return "it has no read (its input is another node's output)"
    if read.format not in WATCHABLE_FORMATS:
        return f"it reads format {read.format}, which has no file listing or Delta version"
    if read.path is None:
        return f"it reads table: {read.table}, not a path"
    return None


def source_sensor_nodes(pipeline: PipelineConfig) -> list[NodeConfig]:
    """The nodes the pipeline's source_change sensor watches: those it names (known ones, each
    once), else every enabled streaming or change-feed node."""
    sensor = pipeline.sensor
    if not isinstance(sensor, SourceChangeSensorConfig):
        return []
    if sensor.nodes is None:
        return [node for node in pipeline.nodes if node.enabled and reads_changes(node)]
    by_name = {node.name: node for node in pipeline.nodes}
    return [by_name[name] for name in dict.fromkeys(sensor.nodes) if name in by_name]


def source_sensor_interval(pipeline: PipelineConfig) -> int:
    """Seconds between the source_change sensor's ticks: its ``minimum_interval_seconds``, else
    the shortest ``write.streaming.trigger.processing_time`` of its nodes, else 30."""
    sensor = pipeline.sensor
    if isinstance(sensor, SourceChangeSensorConfig) and sensor.minimum_interval_seconds:
        return sensor.minimum_interval_seconds
    times = [node.write.streaming.trigger.processing_time for node in source_sensor_nodes(pipeline)
             if node.write is not None and node.write.streaming is not None]
    seconds = [max(1, math.ceil(t.total_seconds())) for t in times if t is not None]
    return min(seconds, default=DEFAULT_SOURCE_SENSOR_INTERVAL)


def orchestration_problems(config: ProjectConfig, source: SourceMap) -> list[ConfigProblem]:
    """Every problem of ``jobs``, ``sensor`` and ``schedule`` blocks, located through ``source``."""
    return [*_sensor_problems(config, source), *_source_sensor_problems(config, source),
            *_job_problems(config, source)]


def _source_sensor_problems(config: ProjectConfig, source: SourceMap
                            ) -> Iterator[ConfigProblem]:
    for i, pipeline in enumerate(config.pipelines):
        sensor = pipeline.sensor
        if not isinstance(sensor, SourceChangeSensorConfig):
            continue
        at: KeyPath = ("pipelines", i, "sensor")
        name = pipeline.pipeline
        if pipeline.partitions is not None:
            yield source.problem(
                at, f"[{name}] A partitioned pipeline cannot be started by a source_change "
                    "sensor: a run of it materializes one partition, and a changed source does "
                    "not name one.",
                fix="Use schedule: (each tick runs the latest partition), or remove partitions:.")
        if sensor.nodes is None:
            yield from _default_node_problems(pipeline, at, source)
            continue
        names = [node.name for node in pipeline.nodes]
        for k, node_name in enumerate(sensor.nodes):
            if node_name not in names:
                close = difflib.get_close_matches(node_name, names, n=1)
                yield source.problem(
                    at + ("nodes", k),
                    f"[{name}] The source_change sensor names node '{node_name}', which the "
                    "pipeline does not have." + (f" Did you mean '{close[0]}'?" if close else ""),
                    fix=f"Use nodes of pipeline {name}: {', '.join(names)}.")
                continue
            reason = unwatchable_reason(pipeline.node(node_name))
            if reason is not None:
                yield source.problem(
                    at + ("nodes", k),
                    f"[{name}.{node_name}] The source_change sensor cannot watch this node: "
                    f"{reason}.", fix=_WATCH_FIX)


_WATCH_FIX = ("Name nodes that read files (csv, json, parquet) or a Delta table by path; remove "
              "the others from nodes:.")


def _default_node_problems(pipeline: PipelineConfig, at: KeyPath, source: SourceMap
                           ) -> Iterator[ConfigProblem]:
    watched = source_sensor_nodes(pipeline)
    if not watched:
        yield source.problem(
            at, f"[{pipeline.pipeline}] The source_change sensor has nothing to watch: no "
                "enabled node of the pipeline reads a stream (read.streaming) or a change feed "
                "(read.change_feed).",
            fix="Name the nodes whose source it should watch (nodes: [...]), or use a "
                "file_arrival sensor or a schedule.")
    for node in watched:
        reason = unwatchable_reason(node)
        if reason is not None:
            yield source.problem(
                at, f"[{pipeline.pipeline}.{node.name}] The source_change sensor cannot watch "
                    f"this node: {reason}.", fix=_WATCH_FIX)


def _sensor_problems(config: ProjectConfig, source: SourceMap) -> Iterator[ConfigProblem]:
    for i, pipeline in enumerate(config.pipelines):
        sensor = pipeline.sensor
        if not isinstance(sensor, FileArrivalSensorConfig):
            continue
        at = ("pipelines", i, "sensor")
        name = pipeline.pipeline
        connection = config.connections.get(sensor.connection)
        if connection is not None and not isinstance(connection, LocalConnectionConfig):
            yield source.problem(
                at + ("connection",),
                f"[{name}] file_arrival sensors watch local folders; connection "
                f"'{sensor.connection}' is {connection.type}.",
                fix="Point the sensor at a local connection, or start the pipeline with a "
                    "schedule.")
        if pipeline.partitions is not None:
            yield source.problem(
                at, f"[{name}] A partitioned pipeline cannot be started by a file sensor: a run "
                    "of it materializes one partition, and new files do not name one.",
                fix="Use schedule: (each tick runs the latest partition), or remove partitions:.")
        if sensor.reads == "all_files":
            continue
        readers = list(sensor_readers(pipeline))
        if not readers:
            yield source.problem(
                at + ("path",),
                f"[{name}] The sensor watches {sensor.connection}:{sensor.path}, but no node of "
                "the pipeline reads that path, so its new files would not be read.",
                fix="Make a node read the same connection and path, or set reads: all_files.")
        for node in readers:
            write = plan_write(node)
            if write is not None and write.mode == "overwrite" and node.materialized == "table":
                yield source.problem(
                    at + ("reads",),
                    f"[{name}.{node.name}] The sensor gives each run only the new files, and "
                    f"this node overwrites {write.display_target} with "
                    "them: the table would hold only the latest files.",
                    fix="Use write.mode: append (or upsert) to add each set of files, or set "
                        "sensor.reads: all_files to read every file on each run.")


def _job_problems(config: ProjectConfig, source: SourceMap) -> Iterator[ConfigProblem]:
    pipelines = {p.pipeline: p for p in config.pipelines}
    taken = {pipeline_job_name(name): f"pipeline {name}" for name in pipelines}
    tags = sorted({tag for p in config.pipelines for n in p.nodes for tag in n.tags})
    for i, job in enumerate(config.jobs):
        at = ("jobs", i)
        if job.job in taken:
            yield source.problem(
                at + ("job",), f"Job name '{job.job}' is already taken by {taken[job.job]}.",
                fix="Choose another name (each pipeline P has a job P_job).")
        taken[job.job] = f"jobs[{i}]"
        unknown = [name for name in job.pipelines if name not in pipelines]
        for name in unknown:
            yield source.problem(
                at + ("pipelines",), f"[job {job.job}] Unknown pipeline '{name}'.",
                fix=f"Use one of: {', '.join(pipelines)}.")
        if unknown:
            continue
        selected = job_nodes(config, i)
        if not selected:
            yield source.problem(
                at + ("tags",),
                f"[job {job.job}] No enabled node carries any of the tags "
                f"{', '.join(job.tags) or '(none)'}"
                + (f" in pipelines {', '.join(job.pipelines)}" if job.pipelines else "") + ".",
                fix=f"Tag the nodes (tags: [...]) or use a known tag: {', '.join(tags) or '-'}.")
            continue
        partitioned = {key.split(".", 1)[0] for key in selected
                       if pipelines[key.split(".", 1)[0]].partitions is not None}
        schemes = {pipelines[name].partitions.model_dump_json() for name in partitioned}
        if len(schemes) > 1:
            yield source.problem(
                at, f"[job {job.job}] The job spans pipelines partitioned differently "
                    f"({', '.join(sorted(partitioned))}); a run materializes one partition of "
                    "one scheme.",
                fix="Narrow the job (pipelines: [...]) or give the pipelines the same "
                    "partitions: block.")
