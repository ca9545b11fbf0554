"""Materializations as strategies: each way a node's output becomes data (a table, a view, an
incremental table, a stream) is one module behind :class:`Materialization`, chosen once from
the node plan. A new way of materializing is a new module and a line in ``STRATEGIES``."""

from __future__ import annotations

from odibi_core.config.node_plan import Materialization as MaterializationName
from odibi_core.materializations.base import Materialization
from odibi_core.materializations.incremental import IncrementalMaterialization
from odibi_core.materializations.streaming import StreamingMaterialization
from odibi_core.materializations.table import TableMaterialization
from odibi_core.materializations.view import ViewMaterialization

__all__ = ["STRATEGIES", "Materialization", "strategy_for"]

STRATEGIES: dict[str, Materialization] = {
    strategy.name: strategy for strategy in (
        TableMaterialization(), ViewMaterialization(), IncrementalMaterialization(),
        StreamingMaterialization())
}


def strategy_for(name: MaterializationName) -> Materialization:
    """The strategy of a node whose plan says ``name``."""
    return STRATEGIES[name]
