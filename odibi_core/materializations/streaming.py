"""A streaming node (``read.streaming``): the node's Spark Structured Streaming query runs once
per materialization (see :mod:`odibi_core.streaming`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from odibi_core.materializations.base import Materialization
from odibi_core.storage.requests import Frame
from odibi_core.streaming import run_streaming_node

if TYPE_CHECKING:
    from odibi_core.graph import NodeRef
    from odibi_core.node import NodeRunner, RunContext
    from odibi_core.results import WriteResult

__all__ = ["StreamingMaterialization"]


class StreamingMaterialization(Materialization):
    name = "streaming"
    runs_node = True

    def run_node(self, runner: NodeRunner, ref: NodeRef, inputs: Mapping[str, Frame],
                 context: RunContext, trace: Any) -> tuple[Frame | None, WriteResult | None]:
        return run_streaming_node(runner, ref, inputs, context, trace)
