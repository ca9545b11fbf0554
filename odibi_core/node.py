"""The node lifecycle: read -> contracts -> transform -> privacy -> validate -> write.

`NodeRunner.run` reads top to bottom as that lifecycle and returns a :class:`NodeRun`: the
:class:`~odibi_core.results.NodeResult` (always, also on failure) and the output frame for the
nodes downstream. It never raises for a failing node: the caller decides what a failure means
(Dagster fails the step and retries it only when ``result.error.transient``).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from odibi_core.change_feed import change_feed_read, change_feed_window, last_consumed
from odibi_core.config.node_plan import WritePlan, materialization, plan_write
from odibi_core.connections import Connection, build_connection
from odibi_core.dead_letters import read_with_dead_letter_queue
from odibi_core.engines.base import Engine
from odibi_core.error_taxonomy import INTERNAL_ERROR_FIX, is_internal, is_transient
from odibi_core.errors import ConfigError, ConfigProblem, DataError, NodeError, OdibiError
from odibi_core.exactly_once import (
    BatchLedger,
    BatchPlan,
    content_identity,
    explicit_identity,
    input_identity,
    partition_identity,
    recover,
    source_state,
    target_lock,
    upstream_identity,
    write_batch,
)
from odibi_core.faults import pause_point
from odibi_core.file_arrival import FileArrival, absolute_files
from odibi_core.incremental import (
    HighWaterMark,
    HwmStore,
    apply_read_incremental,
    lower_bound,
)
from odibi_core.materializations import strategy_for
from odibi_core.partitions import partition_bounds, partition_predicate, partition_rows
from odibi_core.privacy import apply_privacy
from odibi_core.profiling import profile_output
from odibi_core.results import (
    DeadLetterResult,
    iso_utc,
    ErrorInfo,
    GateResult,
    NodeResult,
    PhaseTiming,
    QuarantineResult,
    ValidationResult,
    WriteResult,
)
from odibi_core.runs import RunRecords, system_root
from odibi_core.schema_policy import harmonize_schema
from odibi_core.sources import SOURCE_FORMATS, read_source
from odibi_core.storage.locations import ResolvedLocation
from odibi_core.storage.requests import BatchReplace, Frame, LowerBound, ReadRequest, WriteRequest
from odibi_core.transforms.builtins.sql_text import quote_identifier
from odibi_core.transforms.registry import apply_transform
from odibi_core.validation import (
    EvaluationContext,
    RunHistory,
    decide_gate,
    evaluate_tests,
    failure_error,
    gate_error,
    split_rows,
    write_quarantine,
)
from odibi_core.window_lock import holds_window, window_lock

if TYPE_CHECKING:
    from odibi_core.config.loader import Project
    from odibi_core.exactly_once import BatchIdentity
    from odibi_core.graph import NodeRef
    from odibi_core.incremental import IncrementalWindow
    from odibi_core.schema_policy import SchemaHarmony
    from odibi_core.streaming import StreamSummary
    from odibi_core.validation import Split

__all__ = ["NodeRun", "NodeRunner", "RunContext"]

DEFAULT_SAMPLE_ROWS = 10


@dataclass(frozen=True)
class RunContext:
    """Who is running: the run id, the environment and whether anything may be written.

    ``batch_id`` identifies the batch being processed; without it the partition key does, and
    without either a node's batch is a fingerprint of its input (SPEC §7). ``partition_start``
    and ``partition_end`` are the partition's time window ``[start, end)``. ``arrival`` holds
    the new files of a file-arrival run: the nodes reading the watched path read only them.
    """

    run_id: str
    environment: str | None = None
    dry_run: bool = False
    partition_key: str | None = None
    batch_id: str | None = None
    partition_start: datetime | None = None
    partition_end: datetime | None = None
    arrival: FileArrival | None = None


@dataclass
class NodeRun:
    """A node's result, its output frame (None when it failed) and the exception, if any."""

    result: NodeResult
    output: Frame | None = None
    exception: BaseException | None = None

    @property
    def succeeded(self) -> bool:
        return self.result.status == "success"


@dataclass
class _Trace:
    """What the lifecycle observed, gathered as it goes so a failure still reports it."""

    timings: list[PhaseTiming] = field(default_factory=list)
    sql: list[str] = field(default_factory=list)
    phase: str = "plan"
    contracts: ValidationResult | None = None
    validation: ValidationResult | None = None
    quarantine: QuarantineResult | None = None
    gate: GateResult | None = None
    dead_letters: DeadLetterResult | None = None
    incremental: IncrementalWindow | None = None
    schema_policy: SchemaHarmony | None = None
    view: str | None = None
    incremental_target_max: Any = None
    source_state: dict[str, Any] | None = None
    batch: BatchIdentity | None = None
    recovered: list[str] = field(default_factory=list)
    would_write: dict[str, Any] | None = None  # a dry run: the write it did not do
    profile: dict[str, Any] | None = None  # the output's profile (profiling.enabled)
    rows_out: int | None = None  # the output's rows, when validation counted them already
    rows_in: int | None = None  # the input's rows, when known without a frame (a stream)
    streaming: StreamSummary | None = None  # a streaming node's run of its query

    def timed(self, phase: str, call: Callable[[], Any]) -> Any:
        self.phase = phase
        start = time.perf_counter()
        try:
            return call()
        finally:
            self.timings.append(PhaseTiming(phase, round(time.perf_counter() - start, 6)))


class NodeRunner:
    """Runs one node of a loaded project on one engine.

    Args:
        project: the loaded project (``odibi_core.config.Project``).
        engine: the engine to run on.
    """

    def __init__(self, project: Project, engine: Engine) -> None:
        self.project = project
        self.engine = engine
        self._connections: dict[str, Connection] = {}

    # ---- public ----------------------------------------------------------------------------
    def run(self, key: str, *, inputs: Mapping[str, Frame], context: RunContext,
            source: Frame | None = None, write_mode: str | None = None) -> NodeRun:
        """Run node ``key`` (``pipeline.node``) with its upstream frames by alias.

        ``source`` replaces what the node's ``read`` would read (a replay of fixed dead letters);
        ``write_mode`` overrides ``write.mode`` (a replay appends).
        """
        ref = self.project.graph.node(key)
        node = ref.config
        plan = plan_write(node, mode_override=write_mode)
        strategy = strategy_for(materialization(node))
        started = datetime.now(timezone.utc)
        clock = time.perf_counter()
        trace = _Trace()
        frame_in: Frame | None = None
        frame_out: Frame | None = None
        write: WriteResult | None = None
        window = ExitStack()  # the node's window lock, when it keeps an incremental state
        try:
            if strategy.runs_node:
                frame_out, write = strategy.run_node(self, ref, inputs, context, trace)
                result = self._result(ref, "success", started, clock, trace, None, frame_out,
                                      write, context)
                return NodeRun(result, frame_out)
            if node.write is not None and not context.dry_run:
                if holds_window(node):  # held until the new mark is saved (or the run failed)
                    window.enter_context(window_lock(self._system_root(), ref.pipeline,
                                                     ref.name, run_id=context.run_id))
                trace.recovered = self._recover(ref)
            frame_in = source if source is not None else trace.timed(
                "read", lambda: self._read_input(ref, inputs, context, trace))
            pause_point("after_read")
            if node.contracts:
                trace.timed("contracts",
                            lambda: self._check_contracts(ref, frame_in, started, context, trace))
            frame_out = trace.timed(
                "transform", lambda: self._transform(ref, frame_in, inputs, trace.sql)
            )
            if node.privacy is not None:
                frame_out = trace.timed("privacy", lambda: apply_privacy(
                    self.engine, frame_out, node.privacy, node=key))
            frame_out = strategy.shape(self, ref, frame_out, trace)
            if node.cache:
                frame_out = self.engine.cache(frame_out)
            if node.validation is not None:
                checked = trace.timed("validate", lambda: self._validate(
                    ref, frame_out, started, context, trace))
                frame_out = checked.output
                trace.rows_out = checked.output_rows
                if node.validation.quarantine is not None:
                    if not context.dry_run:  # the quarantined rows belong to the node's batch
                        trace.batch = self._batch_identity(ref, context, trace, frame_in,
                                                           source)
                    trace.timed("quarantine", lambda: self._quarantine(
                        ref, checked, frame_in, context, trace))
            if self.project.config.profiling.enabled:  # after validation, before the write
                trace.profile = trace.timed("profile", lambda: profile_output(
                    self.engine, frame_out, self.project.config.profiling, node=key))
            if not context.dry_run:
                if trace.batch is None:  # (derived already when there is a quarantine)
                    trace.batch = self._batch_identity(ref, context, trace, frame_in, source)
            elif node.write is not None:
                location = self.target_location(ref.key)
                assert location is not None
                trace.would_write = {"target": location.display, "format": node.write.format,
                                     "mode": plan.mode}
            if plan is not None and not context.dry_run:
                prepared, merge_schema = self._prepare_write(ref, frame_out, plan, trace)
                if prepared is not frame_out:  # rows were left out: the count is not known
                    frame_out, trace.rows_out = prepared, None
                pause_point("before_write")
                write = trace.timed("write", lambda: strategy.write(
                    self, ref, frame_out, plan, merge_schema=merge_schema, context=context,
                    trace=trace))
            result = self._result(ref, "success", started, clock, trace, frame_in, frame_out,
                                  write, context)
            return NodeRun(result, frame_out)
        except Exception as exc:  # noqa: BLE001 - every failure becomes a NodeResult
            error = self._error_info(exc, trace.phase)
            result = self._result(ref, "failed", started, clock, trace, frame_in, None, write,
                                  context, error=error)
            wrapped = NodeError(error.message, node=key, phase=trace.phase, fix=error.fix,
                                transient=error.transient)
            wrapped.__cause__ = exc
            return NodeRun(result, None, wrapped)
        finally:
            window.close()

    def connection(self, name: str) -> Connection:
        if name not in self._connections:
            cfg = self.project.config.connections[name]
            self._connections[name] = build_connection(name, cfg, self.project.root)
        return self._connections[name]

    def target_location(self, key: str) -> ResolvedLocation | None:
        """Where node ``key`` writes, or None when it has no write."""
        write = self.project.graph.node(key).config.write
        if write is None:
            return None
        return self.connection(write.connection).resolve(write.path, table=write.table)

    def read_target(self, key: str) -> Frame:
        """Read back what node ``key`` wrote: how downstream nodes in other processes get it."""
        ref = self.project.graph.node(key)
        write = ref.config.write
        if write is None:
            raise DataError(f"Node {key} has no write target to read back.", node=key)
        location = self.target_location(key)
        assert location is not None
        request = ReadRequest(location=location, format=write.format, node=key)
        try:
            return self.engine.read(request)
        except DataError as exc:
            if self.engine.read_schema(request) is not None:
                raise
            raise DataError(
                f"Node {key} has written no rows to {location.display} yet: the target does "
                "not exist. (A write of no rows whose column types are unknown, such as a csv "
                "file with a header only, creates no table.)",
                fix=f"Run {key} on input with rows first, or declare its column types "
                    "(read.options.schema, or a cast_columns step) so that an empty output "
                    "creates the table.", node=key) from exc

    # ---- lifecycle phases ------------------------------------------------------------------
    def _read_input(self, ref: NodeRef, inputs: Mapping[str, Frame], context: RunContext,
                    trace: _Trace) -> Frame | None:
        node = ref.config
        if node.read is not None and node.read.format in SOURCE_FORMATS:
            frame = self._read_source(ref, node.read)
            return self._partition_rows(ref, self._incremental(ref, frame, trace), context)
        if node.read is not None:
            read = node.read
            location = self.connection(read.connection).resolve(read.path, table=read.table)
            arrival = context.arrival
            if arrival is not None and arrival.applies_to(read.connection, read.path):
                base = self.connection(read.connection).resolve(None)
                location = replace(location, only_files=absolute_files(base, arrival.files))
            travel = read.time_travel
            if not context.dry_run:
                trace.source_state = source_state(location, read.format, as_of=(
                    str(travel.as_of_version if travel.as_of_version is not None
                        else travel.as_of_timestamp) if travel else None))
            consumed = last_consumed(self._hwm_store(), ref.pipeline, ref.name) \
                if read.change_feed is not None else None
            request = ReadRequest(
                location=location, format=read.format, options=dict(read.options or {}),
                as_of_version=travel.as_of_version if travel else None,
                as_of_timestamp=travel.as_of_timestamp if travel else None,
                node=ref.key, lower_bound=self._lower_bound(ref, read),
                change_feed=change_feed_read(  # up to the version the batch identity names
                    read.change_feed, consumed,
                    ending_version=(trace.source_state or {}).get("version"))
                if read.change_feed is not None else None,
            )
            if read.dead_letter is None:
                frame = self.engine.read(request)
            else:
                frame, trace.dead_letters = read_with_dead_letter_queue(
                    self.engine, request, read.dead_letter,
                    self.connection(read.dead_letter.connection),
                    batch_id=context.batch_id, dry_run=context.dry_run)
            if read.change_feed is not None:  # (excludes read.incremental)
                trace.incremental = change_feed_window(self.engine, frame, consumed)
            return self._partition_rows(ref, self._incremental(ref, frame, trace), context)
        source = self.project.graph.input_source(ref.key)
        if source is None:
            return None  # a node over `inputs` aliases only: its SQL names them
        alias = self.project.graph.node(source).name
        if alias not in inputs:
            raise DataError(f"The output of upstream node {source} was not provided.",
                            fix="Run the upstream node first.", node=ref.key)
        return inputs[alias]

    def _read_source(self, ref: NodeRef, read: Any) -> Frame:
        """An api or sql read, as Arrow handed to the engine; a stateful incremental read's mark
        goes to the source as a lower bound (the rows are filtered here again all the same)."""
        table = read_source(self.connection(read.connection), read, node=ref.key,
                            lower_bound=self._lower_bound(ref, read))
        return self.engine.from_arrow(table)

    def _lower_bound(self, ref: NodeRef, read: Any) -> LowerBound | None:
        """A stateful incremental read's mark, for the source or the engine to filter at the
        read (the node filters the rows read by it again)."""
        if read.incremental is None:
            return None
        mark = lower_bound(read.incremental, store=self._hwm_store(), pipeline=ref.pipeline,
                           node=ref.name)
        return LowerBound(read.incremental.column, mark) if mark is not None else None

    def _incremental(self, ref: NodeRef, frame: Frame, trace: _Trace) -> Frame:
        incremental = ref.config.read.incremental
        if incremental is None:
            return frame
        frame, trace.incremental = apply_read_incremental(
            self.engine, frame, incremental, store=self._hwm_store(), pipeline=ref.pipeline,
            node=ref.name, now=datetime.now(timezone.utc), key=ref.key)
        return frame

    def _transform(self, ref: NodeRef, frame: Frame | None, inputs: Mapping[str, Frame],
                   sql_log: list[str]) -> Frame:
        node = ref.config
        tables: dict[str, Frame] = dict(inputs)
        if node.transformer:
            frame = apply_transform(self.engine, node.transformer, frame, dict(node.params or {}),
                                    tables, node=ref.key)
        for step in (node.transform.steps if node.transform else ()):
            kind, body, params = _step_parts(step)
            if kind in ("sql", "sql_file"):
                query = body if kind == "sql" else self._sql_file(ref, body)
                sql_log.append(query.strip())
                visible = dict(tables)
                if frame is not None:
                    visible["df"] = frame
                frame = self.engine.sql(query, visible, node=ref.key)
            else:
                frame = apply_transform(self.engine, body, frame, params, tables, node=ref.key)
        if frame is None:
            raise DataError(
                "The node produced no data: it has no read, no depends_on input and no step "
                "that creates a frame.",
                fix="Add a `read` block, a `depends_on`, or a SQL step over its `inputs`.",
                node=ref.key,
            )
        return frame

    def _sql_file(self, ref: NodeRef, relative: str) -> str:
        path = (self.project.root / relative).resolve()
        try:
            return path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(ConfigProblem(
                message=f"Node {ref.key}: cannot read sql_file '{relative}' ({exc.strerror}).",
                file=self.project.file, fix=f"Create {path} or fix the path (relative to the "
                "project file).",
            )) from exc

    def _check_contracts(self, ref: NodeRef, frame: Frame | None, now: datetime,
                         context: RunContext, trace: _Trace) -> None:
        """Contracts: tests on the input, before the transform; any failure fails the node."""
        if frame is None:
            raise DataError(
                "The node declares contracts, but it has no input frame to check (no read and "
                "no depends_on).",
                fix="Move the tests to validation.tests (they check the output), or give the "
                    "node a read / depends_on.", node=ref.key)
        evaluation = evaluate_tests(self.engine, frame, ref.config.contracts,
                                    self._evaluation_context(ref, "contract", now, context))
        trace.contracts = evaluation.result
        if not evaluation.result.passed:
            raise failure_error(evaluation.result, node=ref.key)

    def _validate(self, ref: NodeRef, frame: Frame, now: datetime, context: RunContext,
                  trace: _Trace) -> Split:
        """Validation: tests on the output; blocking failures, then the gate, then the split of
        the rows that go on from the rows that go to quarantine."""
        config = ref.config.validation
        evaluation = evaluate_tests(
            self.engine, frame, config.tests,
            self._evaluation_context(ref, "validation", now, context),
            mode=config.mode, fail_fast=config.fail_fast, cache=config.cache_df)
        result = evaluation.result
        trace.validation = result
        blocking = [t for t in result.failed_tests if t.on_fail == "fail"]
        if blocking:
            raise failure_error(result, node=ref.key, tests=blocking)
        gate = decide_gate(result, config.gate) if config.gate is not None else None
        if gate is not None and gate.action == "abort":
            trace.gate = gate
            raise gate_error(gate, node=ref.key)
        split = split_rows(self.engine, evaluation,
                           valid_only=gate is not None and gate.action == "write_valid_only")
        if gate is not None:
            gate = replace(gate, rows_dropped=split.dropped_rows)
        trace.gate = gate
        return split

    def _quarantine(self, ref: NodeRef, split: Split, frame_in: Frame | None, context: RunContext,
                    trace: _Trace) -> None:
        config = ref.config.validation.quarantine
        location = self.connection(config.connection).resolve(config.path, table=config.table)
        trace.quarantine = write_quarantine(
            self.engine, split, config=config, location=location,
            batch_id=context.batch_id or context.partition_key
            or (trace.batch.batch_id if trace.batch is not None else None),
            node=ref.key, source=frame_in,
            dry_run=context.dry_run)

    def _evaluation_context(self, ref: NodeRef, kind: str, now: datetime,
                            context: RunContext) -> Any:
        history = RunHistory(lambda: RunRecords(system_root(self.project)).root, ref.pipeline,
                             ref.name, current_run_id=context.run_id)
        return EvaluationContext(node=ref.key, kind=kind, now=now,  # type: ignore[arg-type]
                                 history=history)

    def _prepare_write(self, ref: NodeRef, frame: Frame, plan: WritePlan,
                       trace: _Trace) -> tuple[Frame, bool]:
        """The frame and schema merging the write gets after ``schema_policy`` and the
        node's materialization had their say."""
        node = ref.config
        write = node.write
        location = self.target_location(ref.key)
        assert location is not None
        merge_schema = bool(write.merge_schema)
        if node.schema_policy is not None:
            trace.schema_policy = trace.timed("schema_policy", lambda: harmonize_schema(
                self.engine, frame, node.schema_policy, location=location,
                format=write.format, node=ref.key))
            frame = trace.schema_policy.frame
            merge_schema = merge_schema or trace.schema_policy.merge_schema
        strategy = strategy_for(materialization(node))
        return strategy.prepare(self, ref, frame, plan, trace), merge_schema

    def _hwm_store(self) -> HwmStore:
        return HwmStore(self._system_root())

    def _write(self, ref: NodeRef, frame: Frame, mode: str, *,
               merge_schema: bool | None = None, context: RunContext | None = None,
               trace: _Trace | None = None) -> WriteResult:
        """Write the node's output, once per batch (see ``odibi_core.exactly_once``)."""
        write = ref.config.write
        location = self.target_location(ref.key)
        assert location is not None
        request = WriteRequest(
            location=location, format=write.format, mode=mode,
            options=dict(write.options or {}), partition_by=tuple(write.partition_by or ()),
            merge_schema=bool(write.merge_schema) if merge_schema is None else merge_schema,
            node=ref.key, table_properties=dict(write.table_properties or {}),
        )
        if context is None or trace is None or trace.batch is None:
            return self.engine.write(frame, request)
        frame, request = self._partition_write(ref, frame, request, context)
        window = trace.incremental
        mark = window.pending.to_json() if window is not None and window.pending is not None \
            and window.pending.value is not None else None
        plan = BatchPlan(
            project=self.project.config.project, node_key=ref.key, identity=trace.batch,
            run_id=context.run_id, system_root=self._system_root(),
            ledger=self._ledger(ref), save_mark=self._mark_saver(ref), hwm=mark,
            load_mark=self._mark_loader(ref),
            is_empty=lambda: (trace.rows_out == 0 if trace.rows_out is not None
                              else self.engine.count(self.engine.head(frame, 1)) == 0),
            skip_if_unchanged=write.skip_if_unchanged,
            config_hash=_config_hash(ref.config))
        # The guard's own reads of the target get the engine's error translation too.
        return self.engine._guard("write", ref.key, location, lambda: write_batch(
            lambda req: self.engine.write(frame, req), request, plan))

    # ---- exactly-once: batches, recovery, partitions ----------------------------------------
    def _recover(self, ref: NodeRef) -> list[str]:
        """Resolve what a crashed writer of this node left (before the incremental read, so a
        committed batch's high-water mark is in place)."""
        write = ref.config.write
        location = self.target_location(ref.key)
        assert location is not None
        ledger = self._ledger(ref)
        if not ledger.path.exists():
            return []
        with target_lock(self._system_root(), location):
            return recover(ledger, location, write.format, self._mark_saver(ref))

    def _batch_identity(self, ref: NodeRef, context: RunContext, trace: _Trace,
                        frame_in: Frame | None, source: Frame | None) -> BatchIdentity | None:
        """The node's batch (SPEC §7), recorded in the run so that nodes downstream — also in a
        run that resumes this one — derive theirs from it."""
        records = RunRecords(self._system_root())
        identity = self._derive_identity(ref, context, trace, frame_in, source, records)
        if identity is not None and records.meta(context.run_id) is not None:
            records.record_batch(context.run_id, ref.key, identity.to_json())
        return identity

    def _derive_identity(self, ref: NodeRef, context: RunContext, trace: _Trace,
                         frame_in: Frame | None, source: Frame | None,
                         records: Any) -> BatchIdentity | None:
        if context.partition_key is not None:
            return partition_identity(context.partition_key)
        if context.batch_id is not None:
            return explicit_identity(context.batch_id)
        if source is None and ref.config.read is not None and trace.source_state is not None:
            return input_identity(ref.key, trace.source_state, _window_identity(ref, trace))
        if source is None and ref.config.read is None:
            upstream = {}
            for edge in self.project.graph.upstream(ref.key):
                known = records.batch_of(context.run_id, edge.key)
                state = known["batch_id"] if known else self._target_state(edge.key)
                if state is None:
                    break
                upstream[edge.key] = state
            else:
                if upstream:
                    return upstream_identity(ref.key, upstream)
        if ref.config.write is None or frame_in is None:
            return None
        return content_identity(ref.key, self.engine.fingerprint(frame_in))

    def _target_state(self, key: str) -> str | None:
        """What node ``key`` last wrote, as text (for a batch id), or None."""
        write = self.project.graph.node(key).config.write
        location = self.target_location(key)
        if write is None or location is None:
            return None
        state = source_state(location, write.format)
        return json.dumps(state, sort_keys=True) if state is not None else None

    def _partitions(self, ref: NodeRef) -> Any:
        return self.project.config.pipeline(ref.pipeline).partitions

    def _partition_rows(self, ref: NodeRef, frame: Frame, context: RunContext) -> Frame:
        """A read's rows within the run's partition (when the pipeline's partitions name a
        column the read has)."""
        config = self._partitions(ref)
        if config is None or config.column is None or context.partition_start is None \
                or context.partition_end is None:
            return frame
        if config.column not in self.engine.columns(frame):
            return frame
        return partition_rows(self.engine, frame, config.column, context.partition_start,
                              context.partition_end, node=ref.key)

    def _partition_write(self, ref: NodeRef, frame: Frame, request: WriteRequest,
                         context: RunContext) -> tuple[Frame, WriteRequest]:
        """An ``overwrite`` of a partitioned node replaces exactly the partition's rows."""
        config = self._partitions(ref)
        if config is None or config.column is None or context.partition_start is None \
                or context.partition_end is None or request.mode != "overwrite":
            return frame, request
        column = config.column
        low, high = partition_bounds(self.engine, frame, column, context.partition_start,
                                     context.partition_end, node=ref.key)
        frame = self.engine.rows_between(frame, column, low, high)
        if request.format != "delta":
            return frame, replace(request, mode="append", replace_batch=BatchReplace(
                column, str(context.partition_key)))
        return frame, replace(request, replace_where=partition_predicate(
            quote_identifier(column), low, high))

    def _ledger(self, ref: NodeRef) -> BatchLedger:
        return BatchLedger(self._system_root(), ref.pipeline, ref.name)

    def _mark_saver(self, ref: NodeRef) -> Callable[[dict[str, Any]], None]:
        store = self._hwm_store()
        return lambda mark: store.save(ref.pipeline, ref.name, HighWaterMark.from_json(mark))

    def _mark_loader(self, ref: NodeRef) -> Callable[[], dict[str, Any] | None]:
        store = self._hwm_store()

        def load() -> dict[str, Any] | None:
            mark = store.load(ref.pipeline, ref.name)
            return mark.to_json() if mark is not None else None
        return load

    def _system_root(self) -> Path:
        return system_root(self.project)

    # ---- result ----------------------------------------------------------------------------
    def _result(self, ref: NodeRef, status: str, started: datetime, clock: float, trace: _Trace,
                frame_in: Frame | None, frame_out: Frame | None, write: WriteResult | None,
                context: RunContext, *, error: ErrorInfo | None = None) -> NodeResult:
        engine = self.engine
        sample_rows = self._max_sample_rows()
        return NodeResult(
            pipeline=ref.pipeline,
            node=ref.name,
            status=status,  # type: ignore[arg-type]
            started_at=iso_utc(started),
            duration_seconds=round(time.perf_counter() - clock, 6),
            engine=engine.name,
            timings=tuple(trace.timings),
            rows_in=trace.rows_in if trace.rows_in is not None else
            _safe(lambda: engine.count(frame_in)) if frame_in is not None else None,
            rows_out=(trace.rows_out if trace.rows_out is not None
                      else _safe(lambda: engine.count(frame_out)))
            if frame_out is not None else None,
            rows_written=write.rows_written if write else (0 if status == "success" else None),
            schema_in=_safe(lambda: engine.schema(frame_in), ()) if frame_in is not None else (),
            schema_out=_safe(lambda: engine.schema(frame_out), ()) if frame_out is not None else (),
            sample_rows=tuple(_safe(lambda: engine.sample(frame_out, sample_rows), []))
            if frame_out is not None and sample_rows else (),
            sql_executed=tuple(trace.sql),
            write=write,
            error=error,
            dry_run=context.dry_run,
            contracts=trace.contracts,
            validation=trace.validation,
            quarantine=trace.quarantine,
            gate=trace.gate,
            extra=_quality_summary(trace),
        )

    def _max_sample_rows(self) -> int:
        story = self.project.config.story
        value = getattr(story, "max_sample_rows", None) if story is not None else None
        return DEFAULT_SAMPLE_ROWS if value is None else int(value)

    @staticmethod
    def _error_info(exc: BaseException, phase: str) -> ErrorInfo:
        if isinstance(exc, OdibiError):
            return ErrorInfo(type=type(exc).__name__, message=exc.message, phase=phase,
                             fix=exc.fix, transient=is_transient(exc))
        internal = is_internal(exc)
        return ErrorInfo(
            type=type(exc).__name__, message=f"{type(exc).__name__}: {exc}", phase=phase,
            fix=INTERNAL_ERROR_FIX if internal else
            "This error came from inside the node; see the message above and the node's "
            "transform code.",
            transient=is_transient(exc), internal=internal,
        )


def _step_parts(step: Any) -> tuple[str, str, dict[str, Any]]:
    """(kind, body, params) of a transform step, whichever YAML form it was written in."""
    if isinstance(step, str):
        return "sql", step, {}
    for kind in ("sql", "sql_file"):
        body = getattr(step, kind, None)
        if body is not None:
            return kind, body, {}
    for kind in ("function", "operation"):
        name = getattr(step, kind, None)
        if name is not None:
            return kind, name, dict(getattr(step, "params", None) or {})
    raise DataError(f"Unrecognised transform step: {step!r}")


def _quality_summary(trace: _Trace) -> dict[str, Any]:
    """The data-quality and materialization results as JSON-friendly ``extra`` entries, for
    the story."""
    extra: dict[str, Any] = {}
    for key in ("dead_letters", "contracts", "validation", "quarantine", "gate", "incremental",
                "schema_policy"):
        value = getattr(trace, key)
        if value is not None:
            extra[key] = value.summary()
    if trace.streaming is not None:
        extra["streaming"] = trace.streaming.summary()
    if trace.view is not None:
        extra["view"] = trace.view
    if trace.batch is not None:
        extra["batch"] = trace.batch.to_json()
    if trace.recovered:
        extra["recovered"] = list(trace.recovered)
    if trace.would_write is not None:
        extra["would_write"] = dict(trace.would_write)
    if trace.profile is not None:
        extra["profile"] = trace.profile
    if trace.incremental_target_max is not None:
        value = trace.incremental_target_max
        extra["incremental_target_max"] = value.isoformat() if hasattr(value, "isoformat") \
            else value
    return extra


def _window_identity(ref: NodeRef, trace: _Trace) -> dict[str, Any] | None:
    """The part of an incremental window that names the batch: the mark a stateful read
    starts from; a rolling window's start to its unit (a rerun within the same day of a
    "last 3 days" window is the same batch)."""
    if trace.incremental is None:
        return None
    window = trace.incremental.summary()
    window.pop("new_high_water_mark", None)
    if window["mode"] == "rolling_window" and window.get("lower_bound") is not None:
        width = {"minute": 16, "hour": 13}.get(ref.config.read.incremental.unit, 10)
        window["lower_bound"] = str(window["lower_bound"])[:width]
    return window


def _config_hash(node: Any) -> str:
    """A digest of the node's definition: ``skip_if_unchanged`` redoes an overwrite whose node
    changed even when its input did not."""
    text = json.dumps(node.model_dump(mode="json"), sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


def _safe(call: Callable[[], Any], default: Any = None) -> Any:
    """Describing a frame must never hide the node's real error."""
    try:
        return call()
    except Exception:  # noqa: BLE001
        return default

