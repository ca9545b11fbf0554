"""The dry run, the asset's metadata and the write that happens name the same write mode, for
every write mode x materialization x incremental read (one node per combination)."""

from __future__ import annotations

import itertools

from odibi_core.config import load_project
from odibi_core.node import NodeRunner, RunContext
from odibi_core.runs import RunMeta, RunRecords, system_root
from odibi_dagster import metadata as md
from odibi_dagster.specs import build_odibi_specs

from conformance_projects import write_project

ORDERS = "id,amount,updated_at\n1,10,2026-01-01 10:00:00\n2,20,2026-01-02 10:00:00\n"
MODES = [None, "overwrite", "append", "upsert", "append_once"]


def _node(mode: str | None, materialized: str, incremental: bool) -> str | None:
    if materialized == "incremental" and (not incremental or mode == "overwrite"):
        return None  # refused at load time
    name = f"n_{mode or 'unset'}_{materialized}_{'inc' if incremental else 'full'}"
    read = "{connection: src, format: csv, path: orders.csv"
    read += ", incremental: {mode: stateful, column: updated_at}}" if incremental else "}"
    write = f"{{connection: lake, format: delta, path: {name}, options: {{keys: [id]}}"
    write += f", mode: {mode}}}" if mode else "}"
    return (f"- name: {name}\n  materialized: {materialized}\n  read: {read}\n"
            f"  write: {write}\n")


def test_dry_run_metadata_and_write_agree_on_the_mode(engine, tmp_path) -> None:
    nodes = [n for n in (_node(*c) for c in itertools.product(
        MODES, ["table", "incremental"], [False, True])) if n is not None]
    path = write_project(tmp_path, engine, "".join(nodes), files={"orders.csv": ORDERS})
    project = load_project(path)
    specs = build_odibi_specs(project)
    runner = NodeRunner(project, engine)
    RunRecords(system_root(project)).start(RunMeta(
        run_id="r1", project=project.config.project, started_at="2026-01-01T00:00:00Z",
        engine=engine.name))
    seen = set()
    for key in project.graph.topological_order():
        metadata_mode = specs.by_node[key].metadata[md.WRITE_MODE]
        dry = runner.run(key, inputs={}, context=RunContext(run_id="d1", dry_run=True))
        real = runner.run(key, inputs={}, context=RunContext(run_id="r1"))
        assert dry.succeeded and real.succeeded, (key, dry.result.error, real.result.error)
        assert real.result.write is not None
        modes = (metadata_mode, dry.result.extra["would_write"]["mode"],
                 real.result.write.mode)
        assert len(set(modes)) == 1, f"{key}: metadata, dry run, write = {modes}"
        seen.add(modes[0])
    assert seen == {"overwrite", "append", "upsert", "append_once"}
    assert len(nodes) == 14
