"""After a failed run (SPEC §8): what it wrote, rolling it back, resuming it from failure.

- :func:`written_by` lists the targets a run committed (from the write ledger), for the failure
  message whether or not the pipeline rolls back.
- :func:`rollback` restores them (``odibi_core.exactly_once.rollback``) for the nodes the run
  ran; ``odibi run`` calls it when a pipeline of a failed run says ``on_failure: rollback``, and
  ``odibi rollback RUN_ID`` on demand.
- :func:`resume_run` re-executes the run from failure through Dagster against the same instance:
  steps that succeeded are not run again and their outputs (and batch ids) are reused; the new
  run's parent is the old one, in Dagster and in the story.
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

__all__ = ["fail_dead_runs", "resume_run", "rollback", "rollback_pipelines", "written_by"]


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
    from odibi_dagster.execution import project_environment
    from odibi_dagster.instance import open_instance
    from odibi_dagster.launcher import fail_runs_of_dead_launchers

    with project_environment(project), open_instance() as instance:
        return fail_runs_of_dead_launchers(instance, project)


def resume_run(project: Any, run_id: str, *, progress: Any = None,
               verbose: bool = False) -> Any:
    """Re-execute run ``run_id`` from failure; returns the new run's ``ProjectRun``.

    A run whose launching process died (``kill -9``) while it ran is first reported failed
    (:func:`odibi_dagster.launcher.fail_runs_of_dead_launchers`), so it can be resumed.

    ``verbose`` prints Dagster's console log, as for ``run_project``.

    Raises:
        OdibiError: the run is unknown to the instance, or did not fail.
    """
    from contextlib import nullcontext

    from odibi_dagster.execution import (
        ProjectRun,
        _asset_job,
        _after_failure,
        _finish_stories,
        _step_key,
        project_environment,
    )
    from odibi_dagster.definitions import loading_once
    from odibi_dagster.failures import unreported_failures
    from odibi_dagster.instance import open_instance
    from odibi_dagster.launcher import fail_runs_of_dead_launchers, launcher_tags
    from odibi_dagster.run_logging import run_config_loggers
    from odibi_dagster.specs import build_odibi_specs

    specs = build_odibi_specs(project)
    with project_environment(project), open_instance() as instance:
        fail_runs_of_dead_launchers(instance, project)  # a killed run becomes resumable
        parent = instance.get_run_by_id(run_id)
        if parent is None:
            raise OdibiError(
                f"Run {run_id} is not in the Dagster instance at {instance.root_directory}.",
                fix="Resume against the instance the run used (same project, same "
                    "DAGSTER_HOME), with the run id `odibi run` printed.")
        if parent.status != dg.DagsterRunStatus.FAILURE:
            raise OdibiError(
                f"Run {run_id} is {parent.status.value.lower()}, not failed: there is "
                "nothing to resume.",
                fix="Resume a failed run, or start a new one: odibi run.")
        node_by_step = {_step_key(spec.key): node for node, spec in specs.by_node.items()}
        failed_steps = {e.step_key for e in instance.all_logs(
            run_id, of_type=dg.DagsterEventType.STEP_FAILURE)}
        selected = [node_by_step[s] for s in failed_steps if s in node_by_step]
        tag = ("odibi/resume_of", run_id)
        watcher = progress(instance, tag, node_by_step) if progress else nullcontext()
        run_config: dict[str, Any] = {"loggers": run_config_loggers(verbose)}
        if not capabilities_of(project.config.engine).runs_in_one_process:
            run_config["execution"] = {"config": {"in_process": {}}}
        with watcher, loading_once():
            result = dg.execute_job(
                _asset_job(), instance=instance, run_config=run_config,
                tags={**_carried_tags(parent.tags), **launcher_tags(), tag[0]: tag[1]},
                reexecution_options=dg.ReexecutionOptions.from_failure(run_id, instance))
        ran = [node_by_step[e.step_key] for e in result.all_events
               if e.event_type_value == "STEP_START" and e.step_key in node_by_step]
        written, report = _after_failure(project, result, ran or selected, dry_run=False)
        stories, results = _finish_stories(project, specs, result.dagster_run, ran or selected)
        failures = () if result.success else unreported_failures(
            instance, result.run_id, node_by_step, results)
        return ProjectRun(run_id=result.run_id, success=result.success, results=tuple(results),
                          stories=tuple(stories), partition_key=parent.tags.get(
                              "dagster/partition"), written=written, rollback=report,
                          failures=failures)


def _carried_tags(tags: dict[str, str]) -> dict[str, str]:
    """The parent run's tags a resumed run keeps: odibi's and the partition (Dagster sets its
    own lineage tags)."""
    return {k: v for k, v in tags.items()
            if not k.startswith("dagster/") or k == "dagster/partition"}
