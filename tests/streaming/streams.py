"""Streaming test helpers: a Spark project whose landing folder receives JSON-lines files."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pyarrow as pa
from deltalake import DeltaTable

from odibi_core.config import load_project
from odibi_core.engines import get_engine
from odibi_core.node import NodeRun, NodeRunner, RunContext

EVENTS_DDL = "event_id BIGINT, customer STRING, amount DOUBLE, event_time TIMESTAMP"


def write_project(root: Path, nodes: str, *, extra: str = "") -> Path:
    (root / "landing" / "events").mkdir(parents=True, exist_ok=True)
    text = textwrap.dedent("""\
        project: streams
        engine: spark
        connections:
          landing: {type: local, base_path: ./landing}
          lake: {type: local, base_path: ./lake}
        system: {connection: lake, path: _system}
        pipelines:
          - pipeline: live
            nodes:
        """) + textwrap.indent(textwrap.dedent(nodes), " " * 6) + extra
    path = root / "odibi.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def arrive(root: Path, name: str, events: list[dict[str, Any]]) -> None:
    """A file of JSON lines lands in the watched folder (written aside, then renamed in)."""
    folder = root / "landing" / "events"
    staging = root / f".{name}.tmp"
    staging.write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    staging.rename(folder / f"{name}.json")


def event(event_id: int, minute: str, amount: float = 1.0, customer: str = "c1") -> dict:
    return {"event_id": event_id, "customer": customer, "amount": amount,
            "event_time": f"2026-11-27T12:{minute}:00"}


def run_node(path: Path, key: str, run_id: str) -> NodeRun:
    project = load_project(path)
    run = NodeRunner(project, get_engine("spark")).run(key, inputs={},
                                                       context=RunContext(run_id=run_id))
    assert run.succeeded, run.result.error
    return run


def target_rows(root: Path, path: str) -> list[dict[str, Any]]:
    table = pa.table(DeltaTable(str(root / "lake" / path)).to_pyarrow_table())
    return table.to_pylist()


APPEND_NODE = f"""\
- name: events
  read:
    connection: landing
    format: json
    path: events
    streaming: true
    schema_ddl: "{EVENTS_DDL}"
  transform:
    steps:
      - "SELECT event_id, customer, amount * 2 AS doubled, event_time FROM df"
  validation:
    tests:
      - {{type: range, column: doubled, min: 0, on_fail: quarantine}}
    quarantine: {{connection: lake, path: _quarantine/events}}
  write:
    connection: lake
    format: delta
    path: silver/events
    streaming: {{output_mode: append}}
"""
