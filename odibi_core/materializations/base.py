"""The interface every materialization implements: how a node's output is shaped, prepared and
written once its rows are computed (read, contracts, transform, validation and quarantine are
the same for all of them and stay in :class:`odibi_core.node.NodeRunner`)."""

from __future__ import annotations

from abc import ABC
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from odibi_core.storage.requests import Frame

if TYPE_CHECKING:
    from odibi_core.config.node_plan import WritePlan
    from odibi_core.graph import NodeRef
    from odibi_core.node import NodeRunner, RunContext
    from odibi_core.results import WriteResult

__all__ = ["Materialization"]


class Materialization(ABC):
    """One way of materializing a node, chosen once from its plan.

    The defaults are a table's: the output is computed in full (``shape``), written as it is
    (``prepare``) with the plan's mode (``write``). A materialization that runs the node in a
    way of its own (a stream) sets ``runs_node`` and implements ``run_node``.
    """

    name: str = ""
    runs_node: bool = False  # True: run_node replaces the whole batch lifecycle

    def shape(self, runner: NodeRunner, ref: NodeRef, frame: Frame, trace: Any) -> Frame:
        """The transformed output as the node hands it on (before validation)."""
        return runner.engine.collect(frame)

    def prepare(self, runner: NodeRunner, ref: NodeRef, frame: Frame, plan: WritePlan,
                trace: Any) -> Frame:
        """The rows the write gets (after ``schema_policy``)."""
        return frame

    def write(self, runner: NodeRunner, ref: NodeRef, frame: Frame, plan: WritePlan, *,
              merge_schema: bool, context: RunContext, trace: Any) -> WriteResult:
        """Write ``frame`` to the node's target, exactly once per batch."""
        return runner._write(ref, frame, plan.mode, merge_schema=merge_schema,  # noqa: SLF001
                             context=context, trace=trace)

    def run_node(self, runner: NodeRunner, ref: NodeRef, inputs: Mapping[str, Frame],
                 context: RunContext, trace: Any) -> tuple[Frame | None, WriteResult | None]:
        """Run the whole node (only when ``runs_node``): its output and what it wrote."""
        raise NotImplementedError(f"{type(self).__name__} runs within the batch lifecycle.")
