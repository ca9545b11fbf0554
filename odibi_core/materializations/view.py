"""``materialized: view``: the output is registered as a view that SQL downstream can name and
that is computed when it is read; nothing is stored (the node has no write)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from odibi_core.materializations.base import Materialization
from odibi_core.storage.requests import Frame

if TYPE_CHECKING:
    from odibi_core.graph import NodeRef
    from odibi_core.node import NodeRunner

__all__ = ["ViewMaterialization"]


class ViewMaterialization(Materialization):
    name = "view"

    def shape(self, runner: NodeRunner, ref: NodeRef, frame: Frame, trace: Any) -> Frame:
        trace.view = ref.config.name
        return runner.engine.create_view(ref.config.name, frame)
