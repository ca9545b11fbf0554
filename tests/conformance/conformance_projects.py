"""Small projects run node by node on a given engine object (the conformance suite's way to
test the node lifecycle on every engine without Dagster)."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from odibi_core.config import load_project
from odibi_core.engines.base import Engine
from odibi_core.file_arrival import FileArrival
from odibi_core.node import NodeRun, NodeRunner, RunContext
from odibi_core.runs import RunMeta, RunRecords, system_root

HEADER = """\
project: conformance
engine: {engine}
connections:
  src: {{type: local, base_path: ./src}}
  lake: {{type: local, base_path: ./lake}}
system: {{connection: lake, path: _system}}
pipelines:
  - pipeline: p
    nodes:
"""


def write_project(root: Path, engine: Engine, nodes: str,
                  files: Mapping[str, str] | None = None) -> Path:
    """``root/odibi.yaml`` with the pipeline ``p`` made of ``nodes`` (YAML, indented as list
    items of ``nodes:``), and each of ``files`` written under ``root/src``."""
    (root / "src").mkdir(parents=True, exist_ok=True)
    for name, text in (files or {}).items():
        path = root / "src" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    body = textwrap.indent(textwrap.dedent(nodes), " " * 6)
    (root / "odibi.yaml").write_text(HEADER.format(engine=engine.name) + body, encoding="utf-8")
    return root / "odibi.yaml"


def run_nodes(path: Path, engine: Engine, *, run_id: str = "r1",
              arrival: FileArrival | None = None) -> dict[str, NodeRun]:
    """Run every node of the project in dependency order, passing outputs downstream; stop at
    the first failure (its run is in the result). ``arrival``: as a file-arrival run."""
    project = load_project(path)
    runner = NodeRunner(project, engine)
    # As a Dagster run does: the run's record is where nodes record their batches.
    RunRecords(system_root(project)).start(RunMeta(
        run_id=run_id, project=project.config.project, started_at="2026-01-01T00:00:00Z",
        engine=engine.name))
    outputs: dict[str, Any] = {}
    runs: dict[str, NodeRun] = {}
    for key in project.graph.topological_order():
        ref = project.graph.node(key)
        inputs = {up.alias: outputs[up.key] for up in project.graph.upstream(key)
                  if up.key in outputs}
        run = runner.run(key, inputs=inputs, context=RunContext(run_id=run_id,
                                                               arrival=arrival))
        runs[ref.name] = run
        if not run.succeeded:
            break
        outputs[key] = run.output
    return runs
