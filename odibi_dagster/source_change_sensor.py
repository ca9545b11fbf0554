"""Source-change sensors (``sensor: {type: source_change}`` on a pipeline): materialize streaming
and change-feed nodes when their source changed.

Each tick looks at every watched node's source, cheaply: a Delta table's latest version (from its
log), or the listing of a file source (paths, sizes, modification times). The cursor is the JSON
map node key -> source state. The nodes whose state changed (on the first tick: every node with
a source) and everything downstream of them in the pipeline go in one run of the pipeline's job.
The run key is a digest of every watched source's state, so a lost cursor never starts a second
run for the same change. A missing source, or one that cannot be read, is a skip, not a failure.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import dagster as dg

from odibi_core.config.orchestration import SourceChangeSensorConfig
from odibi_core.config.orchestration_checks import (
    pipeline_job_name,
    source_sensor_interval,
    source_sensor_nodes,
    unwatchable_reason,
)
from odibi_core.connections import build_connection
from odibi_core.exactly_once.identity import source_state
from odibi_core.storage.locations import ResolvedLocation
from odibi_dagster.cursors import json_object_cursor
from odibi_dagster.metadata import TAG_CHANGED_NODES, TAG_CHANGED_SOURCES
from odibi_dagster.schedules import default_status
from odibi_dagster.specs import OdibiSpecs

__all__ = ["TAG_CHANGED_NODES", "TAG_CHANGED_SOURCES", "build_source_change_sensors",
           "source_sensor_name"]


State = dict[str, Any]  # {"version": n} (Delta) or {"files": count, "digest": hex} (files)


def source_sensor_name(pipeline: str) -> str:
    """The source-change sensor of ``pipeline``."""
    return f"{pipeline}_source_sensor"


@dataclass(frozen=True)
class _Source:
    """What one watched node reads."""

    node_key: str
    connection: str
    path: str
    format: str

    @property
    def display(self) -> str:
        return f"{self.connection}:{self.path}"


def build_source_change_sensors(project: Any, specs: OdibiSpecs,
                                jobs: Mapping[str, dg.UnresolvedAssetJobDefinition]
                                ) -> list[dg.SensorDefinition]:
    """A sensor per pipeline with a ``source_change`` sensor block and an enabled node to watch,
    targeting the pipeline's job."""
    sensors = []
    for pipeline in project.config.pipelines:
        job = jobs.get(pipeline_job_name(pipeline.pipeline))
        if not isinstance(pipeline.sensor, SourceChangeSensorConfig) or job is None:
            continue
        sources = [_Source(key, node.read.connection, node.read.path, node.read.format)
                   for node in source_sensor_nodes(pipeline)
                   if (key := f"{pipeline.pipeline}.{node.name}") in specs.by_node
                   and unwatchable_reason(node) is None]
        if sources:
            sensors.append(_source_sensor(project, specs, pipeline, job, sources))
    return sensors


def _source_sensor(project: Any, specs: OdibiSpecs, pipeline: Any,
                   job: dg.UnresolvedAssetJobDefinition, sources: list[_Source]
                   ) -> dg.SensorDefinition:
    config: SourceChangeSensorConfig = pipeline.sensor
    watched = ", ".join(source.display for source in sources)

    @dg.sensor(name=source_sensor_name(pipeline.pipeline), job=job,
               minimum_interval_seconds=source_sensor_interval(pipeline),
               default_status=default_status(config.default_status, dg.DefaultSensorStatus),
               description=f"Runs the nodes of {pipeline.pipeline} whose source changed "
                           f"({watched}), and their downstream nodes.")
    def _sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        seen = _seen(context.cursor)
        look = _look(project, sources, context.log)
        changed = [s for s in sources
                   if s.node_key in look.now and seen.get(s.node_key) != look.now[s.node_key]]
        # What was seen of a source that is gone or unreadable now is kept (its return in the
        # same state is not a change); nodes no longer watched drop out.
        kept = {s.node_key: state for s in sources
                if (state := look.now.get(s.node_key, seen.get(s.node_key))) is not None}
        cursor = json.dumps(kept, sort_keys=True, separators=(",", ":"))
        if not changed:
            return dg.SensorResult(skip_reason=look.skip_message(sources), cursor=cursor)
        context.log.info("Source changed: " + "; ".join(
            f"{s.node_key} ({s.display}) {_describe(look.now[s.node_key], seen.get(s.node_key))}"
            for s in changed))
        request = _run_request(project, specs, pipeline.pipeline, changed, look.now)
        return dg.SensorResult(run_requests=[request], cursor=cursor)

    return _sensor


@dataclass
class _Look:
    """One tick's look at the sources: their states, the missing ones, the unreadable ones."""

    now: dict[str, State] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def skip_message(self, sources: list[_Source]) -> str:
        """What was checked, when nothing changed."""
        parts = []
        unchanged = [f"{s.node_key} ({s.display}, {_describe(self.now[s.node_key], None)})"
                     for s in sources if s.node_key in self.now]
        if unchanged:
            parts.append("No source changed: " + "; ".join(unchanged) + ".")
        if self.missing:
            parts.append("Nothing to read yet (no table or no files): "
                         + "; ".join(self.missing) + ".")
        if self.failed:
            parts.append("Could not read: " + "; ".join(self.failed))
        return " ".join(parts)


def _look(project: Any, sources: list[_Source], log: Any) -> _Look:
    look = _Look()
    for source in sources:
        state, error = _read_state(project, source)
        where = f"{source.node_key} ({source.display})"
        if error is not None:
            log.warning(f"Cannot read the state of {where}: {error}")
            look.failed.append(f"{where}: {error}")
        elif state is None:
            look.missing.append(where)
        else:
            look.now[source.node_key] = state
    return look


def _read_state(project: Any, source: _Source) -> tuple[State | None, str | None]:
    """The state of ``source`` now (None: no table yet, or no files), or why it is unknown
    (the message with the connection's secrets masked)."""
    connection = None
    try:
        connection = build_connection(source.connection,
                                      project.config.connections[source.connection], project.root)
        return _state(connection.resolve(source.path), source.format), None
    except Exception as exc:  # noqa: BLE001 - a tick reports the error and goes on
        # The first line: delta-rs appends a native backtrace to its messages.
        message = f"{type(exc).__name__}: {(str(exc).strip().splitlines() or [''])[0]}"
        return None, connection.redact(message) if connection is not None else message


def _state(location: ResolvedLocation, fmt: str) -> State | None:
    """A Delta table's version (from its log) or a digest of the file listing."""
    found = source_state(location, fmt)
    if found is None:
        return None
    if fmt == "delta":
        return {"version": found["version"]}
    files = found.get("files")
    if not files:
        return None
    listing = json.dumps(files, separators=(",", ":"))
    return {"files": len(files), "digest": hashlib.sha256(listing.encode()).hexdigest()[:20]}


def _run_request(project: Any, specs: OdibiSpecs, pipeline: str, changed: list[_Source],
                 now: Mapping[str, State]) -> dg.RunRequest:
    """One run: the changed nodes and everything downstream of them in ``pipeline``."""
    graph = project.graph
    selected: set[str] = set()
    todo = [source.node_key for source in changed]
    while todo:
        key = todo.pop()
        if key in selected or key not in specs.by_node:
            continue
        selected.add(key)
        todo.extend(k for k in graph.downstream(key) if k.split(".", 1)[0] == pipeline)
    states = json.dumps(now, sort_keys=True, separators=(",", ":"))
    return dg.RunRequest(
        run_key=f"{pipeline}#{hashlib.sha256(states.encode()).hexdigest()[:20]}",
        asset_selection=[specs.key(key) for key in graph.topological_order(selected)],
        tags={TAG_CHANGED_NODES: json.dumps([s.node_key for s in changed], separators=(",", ":")),
              TAG_CHANGED_SOURCES: json.dumps([s.display for s in changed],
                                              separators=(",", ":"))})


def _describe(state: State, before: State | None) -> str:
    if "version" in state:
        was = f" (was version {before['version']})" if before and "version" in before else ""
        return f"version {state['version']}{was}"
    was = f" (was {before['files']})" if before and "files" in before else ""
    return f"{state['files']} file(s){was}"


def _seen(cursor: str | None) -> dict[str, State]:
    return {key: value for key, value in json_object_cursor(cursor).items()
            if isinstance(value, dict)}
