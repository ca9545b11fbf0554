"""How a node's output reaches the nodes downstream of it, in whichever process they run.

A node that writes a target is read back from that target (the written table *is* the asset);
a node without a write, and every node of a dry run, hands its frame over as an intermediate
parquet file under ``<system>/intermediate/<run_id>/``. Re-execution (``odibi resume``) finds the
parent run's intermediates through the upstream output's run id. A ``materialized: view`` node
stores nothing: it is computed again, from its own upstream outputs, when a downstream node
reads it (a view is computed on read).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg

from odibi_core.errors import DataError
from odibi_core.node import NodeRunner, RunContext
from odibi_core.runs import system_root
from odibi_dagster.resources import OdibiEngineResource

__all__ = ["NodeOutput", "OdibiIOManager"]


@dataclass(frozen=True)
class NodeOutput:
    """What an asset body hands to the IO manager."""

    frame: Any
    written: bool


class OdibiIOManager(dg.IOManager):
    """Stores nothing for written nodes; intermediate parquet for the rest."""

    def __init__(self, project: Any, node_by_key: dict[dg.AssetKey, str],
                 engine_resource: OdibiEngineResource) -> None:
        self.project = project
        self.node_by_key = node_by_key
        self.engine_resource = engine_resource

    def _intermediate(self, run_id: str, node_key: str) -> Path:
        pipeline, node = node_key.split(".", 1)
        return system_root(self.project) / "intermediate" / run_id / pipeline / f"{node}.parquet"

    def handle_output(self, context: dg.OutputContext, obj: NodeOutput | None) -> None:
        node_key = self.node_by_key[context.asset_key]
        if obj is None or obj.written or self._is_view(node_key):
            return
        path = self._intermediate(context.run_id, node_key)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.engine_resource.get_engine().write_intermediate(obj.frame, str(path))

    def load_input(self, context: dg.InputContext) -> Any:
        upstream = context.upstream_output
        run_id = getattr(upstream, "run_id", None) if upstream is not None else None
        return self._load(self.node_by_key[context.asset_key], run_id)

    def _load(self, node_key: str, run_id: str | None) -> Any:
        engine = self.engine_resource.get_engine()
        if self._is_view(node_key):
            return self._compute_view(node_key, run_id)
        if run_id:
            path = self._intermediate(run_id, node_key)
            if path.exists():
                return engine.read_intermediate(str(path))
        if self.project.graph.node(node_key).config.write is None:
            raise DataError(
                f"Upstream node {node_key} has no write target, and its output from this run is "
                "not available.",
                fix=f"Run {node_key} in the same run (drop --only), or give it a `write` block.",
                node=node_key,
            )
        return NodeRunner(self.project, engine).read_target(node_key)

    def _compute_view(self, node_key: str, run_id: str | None) -> Any:
        inputs = {up.alias: self._load(up.key, run_id)
                  for up in self.project.graph.upstream(node_key)}
        run = NodeRunner(self.project, self.engine_resource.get_engine()).run(
            node_key, inputs=inputs, context=RunContext(run_id=run_id or "view-read"))
        if run.exception is not None:
            raise run.exception
        return run.output

    def _is_view(self, node_key: str) -> bool:
        return self.project.graph.node(node_key).config.materialized == "view"
