"""Which nodes a Dagster run selected and which it executes, however it was launched.

A run's ``asset_selection`` is set when assets were picked (``odibi run``, the UI's "Materialize",
``dagster asset materialize``) but not when a job was launched as a whole (a job of the ``jobs:``
block from the UI, a schedule, ``dagster job execute -j finance_reports``): then the job's own
assets are the selection. The run's execution plan holds a step per selected asset in both cases;
its ``step_keys_to_execute`` are the steps a re-execution from failure runs again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from odibi_dagster.specs import OdibiSpecs

__all__ = ["RunNodes", "run_nodes"]


@dataclass(frozen=True)
class RunNodes:
    """A run's nodes by pipeline (node names, in the project's order)."""

    selected: dict[str, list[str]]  # what the run selected
    executed: dict[str, list[str]] | None  # ... whose steps it executes; None: all selected

    @property
    def to_run(self) -> dict[str, list[str]]:
        """What the run executes: the nodes its story ends with."""
        return self.selected if self.executed is None else self.executed

    def keys(self) -> list[str]:
        """``pipeline.node`` keys of what the run executes."""
        return [f"{pipeline}.{name}" for pipeline, names in self.to_run.items()
                for name in names]


def run_nodes(instance: Any, run: Any, specs: OdibiSpecs) -> RunNodes:
    """The nodes of ``run`` (a ``DagsterRun``) of the project ``specs`` describes."""
    steps: set[str] | None = None
    if run.execution_plan_snapshot_id:
        plan = instance.get_execution_plan_snapshot(run.execution_plan_snapshot_id)
        steps = {step.key for step in plan.steps}
    if steps is not None:
        selected = _by_pipeline(specs, steps)
    else:  # no plan stored (an old run): the asset selection, else every asset
        keys = run.asset_selection or specs.node_by_key.keys()
        selected = _by_pipeline(specs, {key.to_python_identifier() for key in keys
                                        if key in specs.node_by_key})
    executed = None if run.step_keys_to_execute is None \
        else _by_pipeline(specs, set(run.step_keys_to_execute))
    return RunNodes(selected=selected, executed=executed)


def _by_pipeline(specs: OdibiSpecs, step_keys: set[str]) -> dict[str, list[str]]:
    names: dict[str, list[str]] = {}
    for key, node in specs.node_by_key.items():
        if key.to_python_identifier() in step_keys:
            pipeline, name = node.split(".", 1)
            names.setdefault(pipeline, []).append(name)
    return names
