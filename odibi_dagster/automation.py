"""Declarative automation (opt-in per node, ``automation:``): the node's ``AutomationCondition``,
and the sensor that evaluates them.

Dagster adds a default automation sensor that starts *stopped*; a node that opts in means it, so
odibi declares its own sensor over those assets, running by default.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import dagster as dg

from odibi_core.config.orchestration import AutomationConfig

if TYPE_CHECKING:
    from odibi_dagster.specs import OdibiSpecs

__all__ = ["AUTOMATION_SENSOR", "automation_condition_for", "build_automation_sensor"]

AUTOMATION_SENSOR = "odibi_automation"


def automation_condition_for(config: AutomationConfig | None) -> dg.AutomationCondition | None:
    """The Dagster condition of an ``automation:`` block (None without one)."""
    if config is None:
        return None
    if config.condition == "eager":
        return dg.AutomationCondition.eager()
    if config.condition == "on_missing":
        return dg.AutomationCondition.on_missing()
    assert config.cron is not None  # the config model requires it for on_cron
    return dg.AutomationCondition.on_cron(config.cron, cron_timezone=config.timezone)


def build_automation_sensor(specs: OdibiSpecs, minimum_interval_seconds: int = 30
                            ) -> dg.AutomationConditionSensorDefinition | None:
    """A running sensor over the assets that declare a condition (None when none does)."""
    keys = [spec.key for spec in specs.by_node.values() if spec.automation_condition is not None]
    if not keys:
        return None
    return dg.AutomationConditionSensorDefinition(
        AUTOMATION_SENSOR, target=dg.AssetSelection.assets(*keys),
        default_status=dg.DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=minimum_interval_seconds,
        description="Evaluates the automation conditions of the nodes that declare one.")
