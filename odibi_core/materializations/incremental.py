"""``materialized: incremental``: only rows newer than the target's newest (by the column of
``read.incremental``, on the node or the node it takes its rows from) are written, appended or
upserted on ``options.keys`` (see :mod:`odibi_core.config.node_plan`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from odibi_core.errors import ConfigError
from odibi_core.config.node_plan import incremental_column, missing_incremental_column
from odibi_core.incremental import newer_than_target
from odibi_core.materializations.base import Materialization
from odibi_core.storage.requests import Frame, ReadRequest

if TYPE_CHECKING:
    from odibi_core.config.node_plan import WritePlan
    from odibi_core.graph import NodeRef
    from odibi_core.node import NodeRunner

__all__ = ["IncrementalMaterialization"]


class IncrementalMaterialization(Materialization):
    name = "incremental"

    def prepare(self, runner: NodeRunner, ref: NodeRef, frame: Frame, plan: WritePlan,
                trace: Any) -> Frame:
        if not plan.only_newer_than_target:  # e.g. a replay of dead letters: rows as given
            return frame
        column = incremental_column(runner.project, ref.key)
        if column is None:
            raise ConfigError(missing_incremental_column(runner.project, ref.key))
        location = runner.target_location(ref.key)
        assert location is not None
        exists = runner.engine.read_schema(ReadRequest(
            location=location, format=plan.format, node=ref.key)) is not None
        target = runner.read_target(ref.key) if exists else None
        frame, trace.incremental_target_max = trace.timed("incremental", lambda: (
            newer_than_target(runner.engine, frame, target, column, key=ref.key)))
        return frame
