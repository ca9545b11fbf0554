"""A streaming node's lifecycle (``read.streaming``): open the stream, transform it, and run the
query once (``availableNow``), validating, quarantining and writing each micro-batch.

Part of :class:`~odibi_core.node.NodeRunner`'s lifecycle, kept in its own module: it calls the
runner's phases (transform, validate, quarantine, prepare-write) on each micro-batch.

Exactly once: each micro-batch is committed to the Delta target with the transaction identifier
``(app_id, batch_id)``, ``app_id`` naming the node and its checkpoint. Spark replays a batch
whose offsets it logged but whose commit it did not (a crash between the Delta commit and the
checkpoint's); the replay finds its transaction in the table and writes nothing. The query runs
under the target's lock, so two runs of the node never stream into it at once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from odibi_core.config.node_plan import plan_write
from odibi_core.errors import ConfigError, ConfigProblem
from odibi_core.exactly_once import target_lock
from odibi_core.exactly_once.guard import committed_delta_version
from odibi_core.faults import crash_point
from odibi_core.privacy import apply_privacy
from odibi_core.results import WriteResult
from odibi_core.storage.requests import BatchMarker, Frame, ReadRequest, WriteRequest
from odibi_core.streaming.summary import (
    MicroBatch,
    StreamSummary,
    merge_quarantine,
    merge_validation,
    nothing_to_validate,
)

if TYPE_CHECKING:
    from odibi_core.graph import NodeRef
    from odibi_core.node import NodeRunner, RunContext
    from odibi_core.storage.locations import ResolvedLocation

__all__ = ["checkpoint_location", "run_streaming_node", "stream_app_id"]


def checkpoint_location(runner: NodeRunner, ref: NodeRef) -> str:
    """Where the node's query keeps its checkpoint: ``write.streaming.checkpoint_location``
    on the write connection, or ``<system>/checkpoints/<pipeline>/<node>``."""
    write = ref.config.write
    given = write.streaming.checkpoint_location if write.streaming is not None else None
    if given is not None:
        return runner.connection(write.connection).resolve(given).uri
    return str(Path(runner._system_root()) / "checkpoints" / ref.pipeline / ref.name)


def stream_app_id(project: str, key: str, checkpoint: str) -> str:
    """The Delta transaction app id of a node's query: a new checkpoint numbers its micro-batches
    from 0 again, so it is a new app id."""
    digest = hashlib.sha256(checkpoint.rstrip("/").encode("utf-8")).hexdigest()[:12]
    return f"odibi-stream:{project}:{key}:{digest}"


def run_streaming_node(runner: NodeRunner, ref: NodeRef, inputs: Mapping[str, Frame],
                       context: RunContext, trace: Any) -> tuple[Frame | None, WriteResult | None]:
    """Run node ``ref``'s streaming query once; the target read back (for nodes downstream)
    and what was written."""
    engine = runner.engine
    node = ref.config
    if not engine.supports_streaming:
        raise ConfigError(ConfigProblem(
            message=f"Node {ref.key} reads a stream (read.streaming), which needs the spark "
                    f"engine; this run uses {engine.name}.",
            key_path="read.streaming", fix="Set `engine: spark` for this project."))
    read = node.read
    location = runner.connection(read.connection).resolve(read.path, table=read.table)
    stream = trace.timed("read", lambda: engine.read_stream(
        ReadRequest(location=location, format=read.format, options=dict(read.options or {}),
                    node=ref.key),
        schema_ddl=read.schema_ddl, watermark_column=read.watermark_column,
        watermark_delay=read.watermark_delay))
    frame = trace.timed("transform", lambda: runner._transform(ref, stream, inputs, trace.sql))
    if node.privacy is not None:
        frame = trace.timed("privacy", lambda: apply_privacy(engine, frame, node.privacy,
                                                             node=ref.key))
    target = runner.target_location(ref.key)
    assert target is not None
    write = node.write
    plan = plan_write(node)
    assert plan is not None
    if context.dry_run:
        trace.would_write = {"target": target.display, "format": "delta",
                             "mode": plan.mode, "streaming": True}
        return None, None
    checkpoint = checkpoint_location(runner, ref)
    output_mode = _output_mode(write)
    batches = _MicroBatches(runner, ref, context, trace, target=target,
                            app_id=stream_app_id(runner.project.config.project, ref.key,
                                                 checkpoint))
    name = f"odibi_{ref.pipeline}_{ref.name}"
    with target_lock(runner._system_root(), target):
        progress = trace.timed("stream", lambda: engine.run_stream(
            frame, batches, output_mode=output_mode, checkpoint=checkpoint, name=name))
    validation = node.validation
    if validation is not None and trace.validation is None:
        trace.validation = nothing_to_validate(validation.tests, validation.mode)
    summary = StreamSummary.from_progress(query=name, checkpoint=target.redact(checkpoint),
                                          output_mode=output_mode, batches=batches.done,
                                          progress=progress)
    trace.streaming = summary
    trace.rows_in, trace.rows_out = summary.rows_in, summary.rows_out
    written = WriteResult(
        connection=target.connection, format="delta", mode=plan.mode,
        location=target.redact(target.uri), rows_written=summary.rows_written,
        delta_version=summary.last_version,
        skipped=None if summary.rows_written else "no new rows in the stream")
    return (runner.read_target(ref.key) if _table_exists(target) else None), written


class _MicroBatches:
    """The ``foreachBatch`` function of a node's query: each micro-batch goes through validation,
    quarantine and the Delta write, once."""

    def __init__(self, runner: NodeRunner, ref: NodeRef, context: RunContext, trace: Any, *,
                 target: ResolvedLocation, app_id: str) -> None:
        self.runner, self.ref, self.context, self.trace = runner, ref, context, trace
        self.target, self.app_id = target, app_id
        self.done: list[MicroBatch] = []
        self._validation: Any = None  # every micro-batch's so far (trace has the last one's)
        self._quarantine: Any = None

    def __call__(self, batch: Any, batch_id: int) -> None:
        batch = batch.persist()
        try:
            self.done.append(self._handle(batch, int(batch_id)))
        finally:
            batch.unpersist()

    def _handle(self, batch: Any, batch_id: int) -> MicroBatch:
        runner, ref, trace = self.runner, self.ref, self.trace
        write = ref.config.write
        rows = runner.engine.count(batch)
        if rows == 0 and _output_mode(write) != "complete":
            return MicroBatch(batch_id, 0)  # e.g. the batch that only moves the watermark
        committed = committed_delta_version(self.target, self.app_id)
        if committed is not None and committed >= batch_id:
            return MicroBatch(batch_id, rows, replayed=True)
        marker = BatchMarker(batch_id=f"{self.app_id}@{batch_id}", app_id=self.app_id,
                             version=batch_id)
        frame = batch
        if ref.config.validation is not None:
            trace.phase = "validate"
            now = datetime.now(timezone.utc)
            split = runner._validate(ref, frame, now, self.context, trace)
            trace.validation = merge_validation(self._validation, trace.validation)
            self._validation = trace.validation
            frame = split.output
            if ref.config.validation.quarantine is not None:
                trace.phase = "quarantine"
                context = replace(self.context, batch_id=marker.batch_id)
                runner._quarantine(ref, split, batch, context, trace)
                trace.quarantine = merge_quarantine(self._quarantine, trace.quarantine)
                self._quarantine = trace.quarantine
        trace.phase = "write"
        plan = plan_write(ref.config)
        assert plan is not None
        frame, merge_schema = runner._prepare_write(ref, frame, plan, trace)
        crash_point("before_commit")
        result = runner.engine.write(frame, WriteRequest(
            location=self.target, format="delta", mode=plan.mode,
            options=dict(write.options or {}), partition_by=tuple(write.partition_by or ()),
            merge_schema=merge_schema, node=ref.key, marker=marker,
            table_properties=dict(write.table_properties)))
        crash_point("after_commit")
        trace.phase = "stream"
        return MicroBatch(batch_id, rows, result.rows_written, result.delta_version)


def _output_mode(write: Any) -> str:
    return write.streaming.output_mode if write.streaming is not None else "append"


def _table_exists(location: ResolvedLocation) -> bool:
    from deltalake import DeltaTable

    return DeltaTable.is_deltatable(location.uri,
                                    storage_options=dict(location.storage_options) or None)
