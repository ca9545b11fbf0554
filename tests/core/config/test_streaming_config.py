"""Streaming nodes in the project file: each mistake is refused at load time with its file, line,
key and fix (SPEC §13)."""

from __future__ import annotations

from pathlib import Path

import pytest

from odibi_core.config import load_project

from tests.core.config.one_node import one_node_project, problem_of

STREAM_READ = ('read: {connection: lake, format: json, path: events, streaming: true, '
               'schema_ddl: "id BIGINT, t TIMESTAMP"}')
DELTA_WRITE = "write: {connection: lake, format: delta, path: silver/events}"


def project(write_files, node: str, *, engine: str | None = "spark") -> Path:
    return one_node_project(write_files, node, pipeline="live", name="events", engine=engine)


def test_a_valid_streaming_node_loads(write_files) -> None:
    path = project(write_files, f"""
        {STREAM_READ}
        write:
          connection: lake
          format: delta
          path: silver/events
          streaming: {{output_mode: append, trigger: {{processing_time: "1 minute"}}}}""")
    node = load_project(path, environ={}).config.node("live.events")
    assert node.is_streaming and node.write.effective_mode == "append"
    assert node.write.streaming.trigger.processing_time.total_seconds() == 60


@pytest.mark.parametrize(("node", "match", "key"), [
    (f"{STREAM_READ}\n{DELTA_WRITE}", r"engine is pandas", "read.streaming"),
])
def test_streaming_needs_spark(write_files, node: str, match: str, key: str) -> None:
    problem = problem_of(project(write_files, node, engine="pandas"), match)
    assert problem.key_path.endswith(key) and "engine: spark" in problem.fix


@pytest.mark.parametrize(("node", "match"), [
    ("read: {connection: lake, format: json, path: e, streaming: true}\n" + DELTA_WRITE,
     r"needs its schema up front"),
    ("read: {connection: lake, format: sql, table: t, streaming: true}\n" + DELTA_WRITE,
     r"format json, csv, parquet or delta"),
    (STREAM_READ, r"writes a Delta table"),
    (STREAM_READ + "\nwrite: {connection: lake, format: parquet, path: out}",
     r"writes a Delta table"),
    (STREAM_READ.replace("}", ", watermark_column: t}") + "\n" + DELTA_WRITE,
     r"needs both watermark_column and watermark_delay"),
    ("read: {connection: lake, format: json, path: e, schema_ddl: 'id INT'}\n" + DELTA_WRITE,
     r"schema_ddl is for streaming reads"),
    ("read: {connection: lake, format: json, path: e}\n"
     "write: {connection: lake, format: delta, path: o, streaming: {}}",
     r"write.streaming needs a streaming read"),
    (STREAM_READ + "\ncontracts: [{type: row_count, min: 1}]\n" + DELTA_WRITE,
     r"streaming node's input never ends"),
    (STREAM_READ + "\n" + DELTA_WRITE.replace("}", ", mode: overwrite, streaming: {}}"),
     r"output_mode: append emits only new rows"),
    (STREAM_READ + "\n" + DELTA_WRITE.replace("}", ", streaming: {output_mode: update}}"),
     r"needs the key columns in options.keys"),
    (STREAM_READ + "\n" + DELTA_WRITE.replace(
        "}", ", streaming: {trigger: {available_now: true, processing_time: 1m}}}"),
     r"exactly one of available_now or processing_time"),
    (STREAM_READ.replace("}", ", incremental: {mode: stateful, column: id}}") + "\n"
     + DELTA_WRITE, r"cannot use incremental"),
])
def test_streaming_mistakes_are_refused(write_files, node: str, match: str) -> None:
    problem_of(project(write_files, node), match)
