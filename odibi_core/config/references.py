"""Checks across blocks, run before anything executes: connection names and kinds (and the kinds
the project's engine cannot use: Spark has no Azure filesystem yet), paths leaving their
connection and malformed account keys (:mod:`odibi_core.config.connection_checks`), ``sql_file``
paths, and the graph checks of :func:`odibi_core.graph.find_graph_problems`.

They also run when the project did not fully validate, on a *partial* config
(:func:`partial_config`) made of the parts that did, so one ``odibi validate`` lists every problem.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError

# odibi_core.graph imports the config models and may still be initialising when this module is
# imported: bind the module, not its names.
from odibi_core import graph as graph_module
from odibi_core.engine_capabilities import CAPABILITIES, capabilities_of
from odibi_core.config.connection_checks import connection_setting_problems
from odibi_core.config.connections import (
    AzureBlobConnectionConfig,
    ConnectionConfig,
    HttpConnectionConfig,
    SqlConnectionConfig,
)
from odibi_core.config.node import NodeConfig, SqlFileStep
from odibi_core.config.orchestration import FileArrivalSensorConfig, Sensor
from odibi_core.config.project import (
    PipelineConfig,
    ProjectConfig,
    StoryConfig,
    SystemConfig,
)
from odibi_core.config.yaml_source import KeyPath, SourceMap, parse_key_path
from odibi_core.errors import ConfigProblem

__all__ = ["check_references", "partial_config"]

_CONNECTION_ADAPTER: TypeAdapter[Any] = TypeAdapter(ConnectionConfig)
_SENSOR_ADAPTER: TypeAdapter[Any] = TypeAdapter(Sensor)


def check_references(
    config: ProjectConfig, source: SourceMap, *, root: Path, skip: Collection[tuple[int, int]] = ()
) -> list[ConfigProblem]:
    """Every cross-reference problem of ``config``, located through ``source``.

    Args:
        config: a validated project, or a :func:`partial_config`.
        source: the marks of the merged project data.
        root: the project file's folder (``sql_file`` paths are relative to it).
        skip: positions ``(pipeline index, node index)`` of stand-in nodes (see
            :func:`partial_config`).
    """
    problems = _connection_problems(config, source, skip)
    problems += connection_setting_problems(config, source, root,
                                            _connection_uses(config, skip))
    problems += _engine_problems(config, source, skip)
    problems += _streaming_problems(config, source, skip)
    problems += _sql_file_problems(config, source, root, skip)
    for found in graph_module.find_graph_problems(config, base_dir=root, skip=skip):
        message = found.message
        if found.related:
            file, line = source.locate(parse_key_path(found.related))
            message += f" First declared at {file}{f':{line}' if line else ''}."
        problems.append(source.problem(parse_key_path(found.key_path), message, fix=found.fix))
    return problems


def _connection_uses(
    config: ProjectConfig, skip: Collection[tuple[int, int]]
) -> Iterator[tuple[KeyPath, str, str | None, str]]:
    """(path of the ``connection`` key, connection name, owner label, the kind of use)."""
    if config.story is not None:
        yield ("story", "connection"), config.story.connection, None, "story"
    if config.system is not None:
        yield ("system", "connection"), config.system.connection, None, "system"
    for i, pipeline in enumerate(config.pipelines):
        if isinstance(pipeline.sensor, FileArrivalSensorConfig):  # source_change: no connection
            yield (("pipelines", i, "sensor", "connection"), pipeline.sensor.connection,
                   pipeline.pipeline, "sensor")
        for j, node in enumerate(pipeline.nodes):
            key = f"{pipeline.pipeline}.{node.name}"
            if (i, j) in skip:
                continue
            at: KeyPath = ("pipelines", i, "nodes", j)
            read, validation = node.read, node.validation
            if read is not None:
                yield at + ("read", "connection"), read.connection, key, f"read:{read.format}"
                if read.dead_letter is not None:
                    yield (at + ("read", "dead_letter", "connection"), read.dead_letter.connection,
                           key, "file")
            if validation is not None and validation.quarantine is not None:
                yield (at + ("validation", "quarantine", "connection"),
                       validation.quarantine.connection, key, "file")
            if node.write is not None:
                yield at + ("write", "connection"), node.write.connection, key, "write"


def _connection_problems(
    config: ProjectConfig, source: SourceMap, skip: Collection[tuple[int, int]]
) -> list[ConfigProblem]:
    known = list(config.connections)
    problems = []
    for path, name, owner, use in _connection_uses(config, skip):
        prefix = f"[{owner}] " if owner else ""
        if name not in config.connections:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            listed = ", ".join(known) or "(none)"
            problems.append(source.problem(
                path, f"{prefix}Unknown connection '{name}'.{hint} Known connections: {listed}.",
                fix="Use one of the connections declared under connections:, or declare "
                f"'{name}' there."))
            continue
        problem = _kind_problem(config.connections[name], name, use)
        if problem:
            problems.append(source.problem(path, prefix + problem[0], fix=problem[1]))
    return problems


def _engine_problems(
    config: ProjectConfig, source: SourceMap, skip: Collection[tuple[int, int]]
) -> list[ConfigProblem]:
    """Reads and writes the project's engine cannot do: nothing on an azure_blob connection
    for an engine without Azure storage (Spark: hadoop-azure is not set up by odibi yet),
    refused here rather than at run time."""
    engine = getattr(config, "engine", None)
    if engine not in CAPABILITIES or capabilities_of(engine).azure_storage:
        return []
    problems = []
    for path, name, owner, use in _connection_uses(config, skip):
        connection = config.connections.get(name)
        if not isinstance(connection, AzureBlobConnectionConfig) or use in (
                "story", "system", "sensor"):
            continue
        what = "read from" if use.startswith("read:") else "write to"
        prefix = f"[{owner}] " if owner else ""
        problems.append(source.problem(
            path,
            f"{prefix}The {engine} engine cannot {what} connection '{name}' (type "
            f"{connection.type}): Azure Blob / ADLS storage is not supported on this engine yet "
            f"(it is on {_engines_with('azure_storage', word='and')}).",
            fix=f"Run this project (or this environment) with "
                f"{_engines_with('azure_storage', '`engine: {}`')}, or point this block at a "
                f"local connection for {engine}."))
    return problems


def _engines_with(capability: str, form: str = "{}", word: str = "or") -> str:
    """The engines that have ``capability``, each written as ``form``: "a, b or c"."""
    names = [form.format(c.name) for c in CAPABILITIES.values() if getattr(c, capability)]
    return f" {word} ".join([", ".join(names[:-1]), names[-1]] if len(names) > 1 else names)


def _streaming_problems(
    config: ProjectConfig, source: SourceMap, skip: Collection[tuple[int, int]]
) -> list[ConfigProblem]:
    """Streaming reads are Spark Structured Streaming: refused on the other engines."""
    engine = getattr(config, "engine", None)
    if engine not in CAPABILITIES or capabilities_of(engine).streaming:
        return []
    problems = []
    for i, pipeline in enumerate(config.pipelines):
        for j, node in enumerate(pipeline.nodes):
            if (i, j) in skip or node.read is None or not node.read.streaming:
                continue
            problems.append(source.problem(
                ("pipelines", i, "nodes", j, "read", "streaming"),
                f"[{pipeline.pipeline}.{node.name}] read.streaming runs a Spark Structured "
                f"Streaming query; this project's engine is {engine}.",
                fix=f"Set {_engines_with('streaming', '`engine: {}`')} (in the project or the "
                    "environment), or read the "
                    "files in batches: remove streaming and use a file-arrival sensor with "
                    "reads: new_files."))
    return problems


def _kind_problem(connection: Any, name: str, use: str) -> tuple[str, str] | None:
    """A read or write that the connection's type cannot serve (sql reads need a sql connection,
    api reads an http one, and files need storage)."""
    if connection is None:  # did not validate: already reported
        return None
    kind = connection.type
    if use == "read:sql" and not isinstance(connection, SqlConnectionConfig):
        return (f"format: sql reads need a connection of type sql; '{name}' is {kind}.",
                "Point read.connection at a type: sql connection, or change the format.")
    if use == "read:api" and not isinstance(connection, HttpConnectionConfig):
        return (f"format: api reads need a connection of type http; '{name}' is {kind}.",
                "Point read.connection at a type: http connection, or change the format.")
    not_storage = isinstance(connection, (SqlConnectionConfig, HttpConnectionConfig))
    if use not in ("read:sql", "read:api") and not_storage:
        what = "read" if use.startswith("read:") else use
        return (f"Connection '{name}' is of type {kind}, which cannot hold files or tables for "
                f"{what}.", "Use a local, azure_blob or delta connection here.")
    return None


def _sql_file_problems(
    config: ProjectConfig, source: SourceMap, root: Path, skip: Collection[tuple[int, int]]
) -> list[ConfigProblem]:
    problems = []
    for i, pipeline in enumerate(config.pipelines):
        for j, node in enumerate(pipeline.nodes):
            if (i, j) in skip:
                continue
            for k, step in enumerate(node.steps):
                if isinstance(step, SqlFileStep) and not (root / step.sql_file).is_file():
                    problems.append(source.problem(
                        ("pipelines", i, "nodes", j, "transform", "steps", k, "sql_file"),
                        f"[{pipeline.pipeline}.{node.name}] SQL file not found: "
                        f"{root / step.sql_file}.",
                        fix="sql_file paths are relative to the project file's folder; check "
                        "the name."))
    return problems


# --- partial configs -------------------------------------------------------------------------


def _try(model: type[BaseModel], value: Any) -> Any:
    if value is None:
        return None
    try:
        return model.model_validate(value)
    except ValidationError:
        return None


def _try_sensor(value: Any) -> Any:
    if value is None:
        return None
    try:
        return _SENSOR_ADAPTER.validate_python(value)
    except ValidationError:
        return None


def partial_config(data: Any) -> tuple[ProjectConfig | None, set[tuple[int, int]]]:
    """The parts of ``data`` that validate, for reference checks when the whole does not.

    Nodes that fail validation become stand-ins that keep their name (so references to them
    resolve) and whose own checks are skipped; their positions ``(pipeline index, node index)``
    come back as the second value.
    Connections that fail validation keep their name with the value ``None``.
    """
    if not isinstance(data, dict):
        return None, set()
    stand_ins: set[tuple[int, int]] = set()
    pipelines = []
    for i, raw in enumerate(_list(data.get("pipelines"))):
        raw = raw if isinstance(raw, dict) else {}
        name = raw.get("pipeline") if isinstance(raw.get("pipeline"), str) else f"<pipelines[{i}]>"
        nodes = []
        for j, raw_node in enumerate(_list(raw.get("nodes"))):
            node = _try(NodeConfig, raw_node)
            if node is None:
                node_name = raw_node.get("name") if isinstance(raw_node, dict) else None
                if not isinstance(node_name, str):
                    node_name = f"<nodes[{j}]>"
                node = NodeConfig.model_construct(name=node_name)
                stand_ins.add((i, j))
            nodes.append(node)
        pipelines.append(PipelineConfig.model_construct(
            pipeline=name, nodes=nodes, sensor=_try_sensor(raw.get("sensor"))))
    raw_connections = data.get("connections")
    connections = {}
    if isinstance(raw_connections, dict):
        for name, raw in raw_connections.items():
            try:
                connections[str(name)] = _CONNECTION_ADAPTER.validate_python(raw)
            except ValidationError:
                connections[str(name)] = None
    engine = data.get("engine")
    config = ProjectConfig.model_construct(
        project=str(data.get("project")),
        engine=engine if engine in CAPABILITIES else "pandas",
        connections=connections,
        story=_try(StoryConfig, data.get("story")),
        system=_try(SystemConfig, data.get("system")),
        pipelines=pipelines,
    )
    return config, stand_ins


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
