"""``on_failure: rollback`` for runs launched from the Dagster UI, a schedule or a sensor.

``odibi run`` rolls a failed run back itself; a run launched elsewhere is rolled back by this
run-failure sensor (it needs the Dagster daemon, as every sensor does). Runs that ``odibi run``
or ``odibi resume`` launched carry the tag ``odibi/invocation`` and are left to them.
"""

from __future__ import annotations

from typing import Any

import dagster as dg

from odibi_dagster import metadata as md
from odibi_dagster.specs import OdibiSpecs

__all__ = ["ROLLBACK_SENSOR_NAME", "build_rollback_sensor"]

ROLLBACK_SENSOR_NAME = "odibi_rollback_on_failure"
INVOCATION_TAG = "odibi/invocation"


def build_rollback_sensor(project: Any, specs: OdibiSpecs) -> dg.SensorDefinition | None:
    """The sensor, when some pipeline of ``project`` says ``on_failure: rollback``."""
    if not any(p.on_failure == "rollback" for p in project.config.pipelines):
        return None

    @dg.run_failure_sensor(name=ROLLBACK_SENSOR_NAME, default_status=dg.DefaultSensorStatus.RUNNING,
                           description="Restores what a failed run wrote, for pipelines with "
                                       "on_failure: rollback.")
    def _rollback_on_failure(context: dg.RunFailureSensorContext) -> None:
        from odibi_dagster.recovery import rollback, rollback_pipelines

        run = context.dagster_run
        if INVOCATION_TAG in run.tags or run.tags.get(md.TAG_DRY_RUN) == "true":
            return
        selection = run.asset_selection or set(specs.node_by_key)
        nodes = [specs.node_by_key[key] for key in selection if key in specs.node_by_key]
        pipelines = rollback_pipelines(project, nodes)
        if not pipelines:
            return
        report = rollback(project, run.run_id, pipelines=pipelines)
        for line in report.lines():
            context.log.info(f"rollback of run {run.run_id}: {line}")
        if not report.complete:
            context.log.error(f"The rollback of run {run.run_id} is INCOMPLETE; see above.")

    return _rollback_on_failure
