"""``materialized: table`` (the default): the output computed in full, written with the
node's write mode."""

from __future__ import annotations

from odibi_core.materializations.base import Materialization

__all__ = ["TableMaterialization"]


class TableMaterialization(Materialization):
    name = "table"
