"""The end of a run launched from the Dagster UI, a schedule, a sensor or the ``dagster`` CLI.

A run's stories end inside the run, without these sensors: the node whose record settles its
pipeline's part of the run publishes the final story (see ``odibi_core.runs``). ``odibi run`` and
``odibi resume`` also tell the observers (the pipeline's metrics push and its run span) that the
pipeline's run ended. For any other run, these two run-status sensors do that once it ended, and
they are the safety net for stories a run could not end itself: a step that failed before it
recorded its node (a resource that did not start, an input that did not load, a killed step
process) is recorded as failed from the run's event log, and each pipeline's story is published
final (nodes never reached become "skipped"). They exist in every project and start running by
default; like every sensor, they need the Dagster daemon. Runs that ``odibi run`` or ``odibi
resume`` launched carry the tag ``odibi/invocation`` and are left to them.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import dagster as dg

from odibi_dagster.specs import OdibiSpecs

__all__ = ["RUN_FAILED_SENSOR", "RUN_SUCCEEDED_SENSOR", "build_run_end_sensors"]

INVOCATION_TAG = "odibi/invocation"
RUN_SUCCEEDED_SENSOR = "odibi_run_succeeded"
RUN_FAILED_SENSOR = "odibi_run_failed"


def build_run_end_sensors(project: Any, specs: OdibiSpecs) -> list[dg.SensorDefinition]:
    def finish(instance: dg.DagsterInstance, run: Any, *, failed: bool) -> None:
        from odibi_dagster.execution import _finish_stories
        from odibi_dagster.run_nodes import run_nodes

        if INVOCATION_TAG in run.tags:
            return
        nodes = run_nodes(instance, run, specs)
        if failed:
            record_failed_steps(project, specs, instance, run)
        _finish_stories(project, specs, run, nodes.keys())

    @dg.run_status_sensor(run_status=dg.DagsterRunStatus.SUCCESS, name=RUN_SUCCEEDED_SENSOR,
                          default_status=dg.DefaultSensorStatus.RUNNING,
                          description="Final story, metrics and run span of a run that "
                                      "succeeded outside `odibi run`.")
    def _succeeded(context: dg.RunStatusSensorContext) -> None:
        finish(context.instance, context.dagster_run, failed=False)

    @dg.run_failure_sensor(name=RUN_FAILED_SENSOR, default_status=dg.DefaultSensorStatus.RUNNING,
                           description="Final story, metrics and run span of a run that "
                                       "failed outside `odibi run`.")
    def _failed(context: dg.RunFailureSensorContext) -> None:
        finish(context.instance, context.dagster_run, failed=True)

    return [_succeeded, _failed]


def record_failed_steps(project: Any, specs: OdibiSpecs, instance: dg.DagsterInstance,
                        run: Any) -> list[str]:
    """Record as failed each node whose step failed in ``run`` without recording its result
    (the failure came before or outside the node: a resource, an input, a killed process);
    returns their ``pipeline.node`` keys."""
    from odibi_core.results import ErrorInfo, NodeResult, iso_utc
    from odibi_core.runs import RunRecords, redact_result, system_root

    records = RunRecords(system_root(project))
    meta = records.meta(run.run_id)
    if meta is None:  # no node got as far as recording anything: there is no story
        return []
    node_by_step = {key.to_python_identifier(): node for key, node in specs.node_by_key.items()}
    started = {e.step_key: e.timestamp for e in instance.all_logs(
        run.run_id, of_type=dg.DagsterEventType.STEP_START) if e.step_key}
    recorded: list[str] = []
    for event in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.STEP_FAILURE):
        node = node_by_step.get(event.step_key or "")
        if node is None:
            continue
        pipeline, name = node.split(".", 1)
        if name in records.recorded_nodes(run.run_id, pipeline):
            continue
        data = event.dagster_event.step_failure_data if event.dagster_event else None
        error = data.error if data is not None else None
        at = started.get(event.step_key, event.timestamp)
        records.record(run.run_id, redact_result(project, NodeResult(
            pipeline=pipeline, node=name, status="failed", engine=meta.engine,
            started_at=iso_utc(datetime.fromtimestamp(at, tz=timezone.utc)),
            duration_seconds=max(0.0, event.timestamp - at),
            error=ErrorInfo(type=error.cls_name if error and error.cls_name else "StepFailed",
                            message=(f"The step of {node} failed before the node recorded a "
                                     f"result: {error.message.strip() if error else 'see the run'}"
                                     f" (Dagster run {run.run_id}).")))))
        recorded.append(node)
    return recorded
