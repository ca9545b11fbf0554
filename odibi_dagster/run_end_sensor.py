"""The end of a run launched from the Dagster UI, a schedule, a sensor or the ``dagster`` CLI.

A run's stories end inside the run, without these sensors: the node whose record settles its
pipeline's part of the run publishes the final story (see ``odibi_core.runs``). ``odibi run`` and
``odibi resume`` also tell the observers (the pipeline's metrics push and its run span) that the
pipeline's run ended. For any other run, these two run-status sensors do that once it ended, and
they are the safety net for stories a run could not end itself: a step that failed before it
recorded its node (a resource that did not start, an input that did not load, a killed step
process) is recorded as failed from the run's event log (``odibi_dagster.run_end``), and each
pipeline's story is published final (nodes never reached become "skipped"). A canceled run has
no sensor: ``odibi story last`` ends its story when it finds it still running.

They exist in every project and start running by default; like every sensor, they need the
Dagster daemon. Runs that ``odibi run`` or ``odibi resume`` launched carry the tag
``odibi/invocation`` and are left to them.
"""

from __future__ import annotations

from typing import Any

import dagster as dg

from odibi_dagster.run_end import finish_stories, record_lost_steps
from odibi_dagster.run_nodes import run_nodes
from odibi_dagster.specs import OdibiSpecs

__all__ = ["RUN_FAILED_SENSOR", "RUN_SUCCEEDED_SENSOR", "build_run_end_sensors"]

INVOCATION_TAG = "odibi/invocation"
RUN_SUCCEEDED_SENSOR = "odibi_run_succeeded"
RUN_FAILED_SENSOR = "odibi_run_failed"


def build_run_end_sensors(project: Any, specs: OdibiSpecs) -> list[dg.SensorDefinition]:
    def finish(instance: dg.DagsterInstance, run: Any, *, failed: bool) -> None:
        if INVOCATION_TAG in run.tags:
            return
        nodes = run_nodes(instance, run, specs)
        if failed:
            record_lost_steps(project, specs, instance, run)
        finish_stories(project, specs, run, nodes.keys())

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

