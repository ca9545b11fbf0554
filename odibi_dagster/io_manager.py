"""How a node's output reaches the nodes downstream of it, in whichever process they run.

A node that writes a target is read back from that target (the written table *is* the asset);
a node without a write, and every node of a dry run, hands its frame over as an intermediate
parquet file under ``<system>/intermediate/<run_id>/`` (one file per partition of a partitioned
asset). Re-execution (``odibi resume``) finds the parent run's intermediates through the upstream
output's run id. A ``materialized: view`` node stores nothing: it is computed again, from its own
upstream outputs, when a downstream node reads it (a view is computed on read).

Partitions: a partitioned downstream asset loads only its partition of a partitioned upstream
(the mapped time window, on the upstream pipeline's ``partitions.column``); an unpartitioned
downstream loads the whole upstream.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg

from odibi_core.errors import DataError
from odibi_core.node import NodeRunner, RunContext
from odibi_core.partitions import partition_rows
from odibi_core.runs import system_root
from odibi_dagster.partitions import PartitionWindow
from odibi_dagster.resources import OdibiEngineResource

__all__ = ["ODIBI_IO_MANAGER_KEY", "NodeOutput", "OdibiIOManager"]

# The resource key of odibi's IO manager. Odibi's assets name it (``io_manager_key``); the
# definitions leave Dagster's default ``io_manager`` alone, so a user's own asset in the same
# Definitions stores its value the usual Dagster way and still receives an odibi node's output
# as a frame (its input is loaded by the IO manager of the upstream asset's output).
ODIBI_IO_MANAGER_KEY = "odibi_io_manager"


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
        # An asset's op is named after its key; the op tells which asset is loading an input.
        self._node_by_op = {key.to_python_identifier(): node for key, node in node_by_key.items()}

    def _intermediate(self, run_id: str, node_key: str, partition: str | None = None) -> Path:
        pipeline, node = node_key.split(".", 1)
        folder = system_root(self.project) / "intermediate" / run_id / pipeline
        if partition is None:
            return folder / f"{node}.parquet"
        return folder / node / f"{_safe_name(partition)}.parquet"

    def handle_output(self, context: dg.OutputContext, obj: NodeOutput | None) -> None:
        node_key = self.node_by_key[context.asset_key]
        if obj is None or obj.written or self._is_view(node_key):
            return
        partition = context.asset_partition_key if context.has_asset_partitions else None
        path = self._intermediate(context.run_id, node_key, partition)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.engine_resource.get_engine().write_intermediate(obj.frame, str(path))

    def load_input(self, context: dg.InputContext) -> Any:
        upstream = context.upstream_output
        run_id = getattr(upstream, "run_id", None) if upstream is not None else None
        return self._load(self.node_by_key[context.asset_key], run_id,
                          self._input_partition(context))

    def _input_partition(self, context: dg.InputContext) -> PartitionWindow | None:
        """The upstream partition(s) a partitioned downstream step reads, as one window; None
        when the upstream is unpartitioned or the downstream is not partitioned (it reads all
        of the upstream)."""
        if not context.has_asset_partitions:
            return None
        downstream = self._node_by_op.get(context.op_def.name)
        if downstream is None or self.project.config.pipeline(
                downstream.split(".", 1)[0]).partitions is None:
            return None
        keys = context.asset_partition_keys
        window = context.asset_partitions_time_window
        # Several keys: a coarser downstream partition (a day of hourly partitions).
        key = keys[0] if len(keys) == 1 else f"{keys[0]}...{keys[-1]}"
        return PartitionWindow(key=key, start=window.start, end=window.end)

    def _load(self, node_key: str, run_id: str | None,
              partition: PartitionWindow | None = None) -> Any:
        engine = self.engine_resource.get_engine()
        if self._is_view(node_key):
            return self._compute_view(node_key, run_id, partition)
        if run_id:
            path = self._intermediate(run_id, node_key, partition.key if partition else None)
            if path.exists():
                return engine.read_intermediate(str(path))
        if self.project.graph.node(node_key).config.write is None:
            raise DataError(
                f"Upstream node {node_key} has no write target, and its output from this run is "
                "not available.",
                fix=f"Run {node_key} in the same run (drop --only), or give it a `write` block.",
                node=node_key,
            )
        frame = NodeRunner(self.project, engine).read_target(node_key)
        return self._partition_rows(node_key, frame, partition)

    def _partition_rows(self, node_key: str, frame: Any, partition: PartitionWindow | None
                        ) -> Any:
        """The rows of ``partition`` in a read-back target that holds every partition.

        Without a ``partitions.column`` the rows cannot be told apart: the whole target is read.
        """
        config = self.project.config.pipeline(node_key.split(".", 1)[0]).partitions
        if partition is None or config is None or config.column is None:
            return frame
        return partition_rows(self.engine_resource.get_engine(), frame, config.column,
                              partition.start, partition.end, node=node_key)

    def _compute_view(self, node_key: str, run_id: str | None,
                      partition: PartitionWindow | None) -> Any:
        inputs = {up.alias: self._load(up.key, run_id, partition)
                  for up in self.project.graph.upstream(node_key)}
        run = NodeRunner(self.project, self.engine_resource.get_engine()).run(
            node_key, inputs=inputs, context=RunContext(
                run_id=run_id or "view-read",
                partition_key=partition.key if partition else None,
                partition_start=partition.start if partition else None,
                partition_end=partition.end if partition else None))
        if run.exception is not None:
            raise run.exception
        return run.output

    def _is_view(self, node_key: str) -> bool:
        return self.project.graph.node(node_key).config.materialized == "view"


def _safe_name(partition_key: str) -> str:
    """A partition key as a file name (hourly keys hold ``:``)."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", partition_key)
