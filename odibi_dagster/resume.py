"""Resuming a failed run: re-executed from failure through Dagster against the same instance.
Steps that succeeded are not run again and their outputs (and batch ids) are reused; the new
run's parent is the old one, in Dagster and in the story."""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any

import dagster as dg

from odibi_core.engine_capabilities import capabilities_of
from odibi_core.errors import OdibiError

from odibi_dagster.definitions import loading_once
from odibi_dagster.execution import ProjectRun, _after_failure, _asset_job, _step_key
from odibi_dagster.failures import unreported_failures
from odibi_dagster.instance import open_instance
from odibi_dagster.project_env import project_environment
from odibi_dagster.launcher import fail_runs_of_dead_launchers, launcher_tags
from odibi_dagster.run_end import finish_stories
from odibi_dagster.run_logging import run_config_loggers
from odibi_dagster.specs import build_odibi_specs

__all__ = ["resume_run"]


def resume_run(project: Any, run_id: str, *, progress: Any = None,
               verbose: bool = False) -> Any:
    """Re-execute run ``run_id`` from failure; returns the new run's ``ProjectRun``.

    A run whose launching process died (``kill -9``) while it ran is first reported failed
    (:func:`odibi_dagster.launcher.fail_runs_of_dead_launchers`), so it can be resumed.

    ``verbose`` prints Dagster's console log, as for ``run_project``.

    Raises:
        OdibiError: the run is unknown to the instance, or did not fail.
    """
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
        stories, results = finish_stories(project, specs, result.dagster_run, ran or selected)
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
