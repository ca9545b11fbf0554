"""After a failed run: what it wrote, and rolling it back.

- :func:`written_by` lists the targets a run committed (from the write ledger), for the failure
  message whether or not the pipeline rolls back.
- :func:`rollback` restores them (``odibi_core.exactly_once.rollback``) for the nodes the run
  ran; ``odibi run`` calls it when a pipeline of a failed run says ``on_failure: rollback``, and
  ``odibi rollback RUN_ID`` on demand.

Resuming a failed run is :mod:`odibi_dagster.resume`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import dagster as dg

from odibi_core.connections import build_connection
from odibi_core.engine_capabilities import capabilities_of
from odibi_core.errors import OdibiError
from odibi_core.exactly_once.rollback import RollbackReport, rollback_run, written_by_run
from odibi_core.runs import RunRecords, system_root

from odibi_dagster.instance import open_instance
from odibi_dagster.project_env import project_environment
from odibi_dagster.launcher import fail_runs_of_dead_launchers

__all__ = ["fail_dead_runs", "rollback", "rollback_pipelines", "written_by"]


def _ran_nodes(project: Any, run_id: str) -> list[tuple[str, str]]:
    """(pipeline, node) of every node the run recorded a result for, in graph order."""
    records = RunRecords(system_root(project))
    if records.meta(run_id) is None:
        raise OdibiError(
            f"No run {run_id} is recorded for project {project.config.project} "
            f"(looked in {records.run_dir(run_id)}).",
            fix="Take the run id from `odibi run`'s output, the story, or the Dagster UI; "
                "and pass the same project and --env as the run had.")
    recorded = {(p.pipeline, r.node) for p in project.config.pipelines
                for r in records.results(run_id, p.pipeline)}
    order = project.graph.topological_order()
    return [tuple(k.split(".", 1)) for k in order  # type: ignore[misc]
            if tuple(k.split(".", 1)) in recorded]


def written_by(project: Any, run_id: str) -> list[str]:
    """One line per target run ``run_id`` committed: ``node → target (version N)``."""
    found = written_by_run(system_root(project), _ran_nodes(project, run_id), run_id)
    lines = []
    for key, entries in found.items():
        last = entries[-1]
        version = f", version {last.delta_version}" if last.delta_version is not None else ""
        lines.append(f"{key} → {last.target} ({last.format} {last.mode}{version})")
    return lines


def rollback(project: Any, run_id: str, *, pipelines: Sequence[str] | None = None
             ) -> RollbackReport:
    """Roll back what run ``run_id`` wrote (only in ``pipelines`` when given), newest first."""
    targets = []
    for pipeline, node in reversed(_ran_nodes(project, run_id)):
        if pipelines is not None and pipeline not in pipelines:
            continue
        write = project.graph.node(f"{pipeline}.{node}").config.write
        location = None
        if write is not None:
            connection = build_connection(write.connection,
                                          project.config.connections[write.connection],
                                          project.root)
            location = connection.resolve(write.path, table=write.table)
        targets.append((pipeline, node, location, write.format if write else None))
    streaming = {f"{pipeline}.{node}" for pipeline, node, _, _ in targets
                 if project.graph.node(f"{pipeline}.{node}").config.is_streaming}
    return rollback_run(system_root(project), run_id, targets, streaming=streaming)


def rollback_pipelines(project: Any, node_keys: Sequence[str]) -> list[str]:
    """The pipelines among ``node_keys`` that say ``on_failure: rollback``."""
    names = {key.split(".", 1)[0] for key in node_keys}
    return [p.pipeline for p in project.config.pipelines
            if p.pipeline in names and p.on_failure == "rollback"]


def fail_dead_runs(project: Any) -> list[str]:
    """Report failed the runs of ``project``'s instance whose launching odibi process died
    (what ``odibi rollback`` does first); returns their run ids."""

    with project_environment(project), open_instance() as instance:
        return fail_runs_of_dead_launchers(instance, project)
