"""The end of a run launched from the Dagster UI, a schedule or a sensor.

``odibi run`` and ``odibi resume`` finish their runs themselves: the final story of each pipeline
(nodes never reached become "skipped") and the observers' run end (the pipeline's metrics push
and its run span). For any other run, these two run-status sensors do the same once it ended
(they need the Dagster daemon, as every sensor does). They exist only when the project turns
metrics or tracing on.
"""

from __future__ import annotations

from typing import Any

import dagster as dg

from odibi_dagster.specs import OdibiSpecs

__all__ = ["build_run_end_sensors"]

INVOCATION_TAG = "odibi/invocation"


def build_run_end_sensors(project: Any, specs: OdibiSpecs) -> list[dg.SensorDefinition]:
    observability = project.config.observability
    wanted = [c for c in (observability.metrics, observability.tracing)
              if c is not None and c.enabled]
    if not wanted:
        return []

    def finish(run: Any) -> None:
        from odibi_dagster.execution import _finish_stories

        if INVOCATION_TAG in run.tags:
            return
        selection = run.asset_selection or set(specs.node_by_key)
        nodes = [specs.node_by_key[key] for key in selection if key in specs.node_by_key]
        _finish_stories(project, specs, run, nodes)

    @dg.run_status_sensor(run_status=dg.DagsterRunStatus.SUCCESS, name="odibi_run_succeeded",
                          default_status=dg.DefaultSensorStatus.RUNNING,
                          description="Final story, metrics and run span of a run that "
                                      "succeeded outside `odibi run`.")
    def _succeeded(context: dg.RunStatusSensorContext) -> None:
        finish(context.dagster_run)

    @dg.run_failure_sensor(name="odibi_run_failed", default_status=dg.DefaultSensorStatus.RUNNING,
                           description="Final story, metrics and run span of a run that "
                                       "failed outside `odibi run`.")
    def _failed(context: dg.RunFailureSensorContext) -> None:
        finish(context.dagster_run)

    return [_succeeded, _failed]
