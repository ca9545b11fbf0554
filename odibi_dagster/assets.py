"""One Dagster asset per node; the body runs the node through ``odibi_core``.

The body holds no engine logic: it gathers the upstream frames Dagster loaded, calls
:class:`odibi_core.node.NodeRunner`, records the result for the run's story, and turns the result
into a materialization, a retry (a transient error with attempts left: logged, recorded on the
result and in the story, requested with the retry block's delay) or a failure that is not retried.
"""

# No `from __future__ import annotations` here: Dagster inspects the asset body's annotations.
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import dagster as dg

from odibi_core.engine_capabilities import capabilities_of
from odibi_core.engines.target_types import SKIPPED_NO_ROWS_UNKNOWN_TYPES
from odibi_core.node import NodeRunner, RunContext
from odibi_core.observability import notify_node, observers_for
from odibi_core.results import iso_utc
from odibi_core.runs import (
    RunMeta,
    RunRecords,
    redact_result,
    refresh_story,
    story_secrets,
    system_root,
)
from odibi_core.secret_text import mask_exception_chain, mask_secrets
from odibi_dagster import metadata as md
from odibi_dagster.checks import build_check_results
from odibi_dagster.events import materialization_metadata
from odibi_dagster.file_sensor import arrival_from_tags
from odibi_dagster.io_manager import ODIBI_IO_MANAGER_KEY, NodeOutput
from odibi_dagster.launcher import die_with_launcher
from odibi_dagster.observe import run_info, run_trigger
from odibi_dagster.partitions import PartitionWindow, partitions_def_for
from odibi_dagster.retry import StepAttempt
from odibi_dagster.run_nodes import RunNodes, run_nodes
from odibi_dagster.resources import SPARK_RESOURCE_KEY, OdibiEngineResource
from odibi_dagster.specs import OdibiSpecs
from odibi_dagster.translator import OdibiTranslator

__all__ = ["build_odibi_assets"]

ENGINE_RESOURCE_KEY = "odibi_engine"


def build_odibi_assets(project: Any, specs: OdibiSpecs,
                       translator: OdibiTranslator) -> list[dg.AssetsDefinition]:
    """An asset per enabled node of ``project``, built from ``specs``."""
    observers = _LazyObservers(project)
    return [_build_asset(project, specs, translator, node_key, observers)
            for node_key in specs.by_node]


class _LazyObservers:
    """The project's metrics/tracing observers, built on the first node that runs in this
    process (not when Dagster merely loads the definitions)."""

    def __init__(self, project: Any) -> None:
        self._project = project
        self._observers: list[Any] | None = None

    def get(self) -> list[Any]:
        if self._observers is None:
            self._observers = observers_for(self._project)
        return self._observers


def _build_asset(project: Any, specs: OdibiSpecs, translator: OdibiTranslator,
                 node_key: str, observers: _LazyObservers) -> dg.AssetsDefinition:
    spec = specs.by_node[node_key]
    node_ref = project.graph.node(node_key)
    # Input names are positional (in_0, in_1, ...) so that no alias can clash with `context`.
    aliases: dict[str, str] = {}
    ins: dict[str, dg.AssetIn] = {}
    for index, upstream in enumerate(project.graph.upstream(node_key)):
        name = f"in_{index}"
        aliases[name] = upstream.alias
        ins[name] = dg.AssetIn(key=specs.key(upstream.key))
    loaded = {asset_in.key for asset_in in ins.values()}
    check_specs = translator.get_asset_check_specs(project, node_ref, spec.key)
    declared_checks = {c.name for c in check_specs}
    in_session = capabilities_of(project.config.engine).needs_session
    resource_keys = {ENGINE_RESOURCE_KEY, *([SPARK_RESOURCE_KEY] if in_session else [])}
    partitions_def = partitions_def_for(project.config.pipeline(node_ref.pipeline))

    # Built from the translator's spec itself, so that every override of a subclass (key, deps,
    # owners, tags, kinds, metadata, automation, code version) reaches the definitions; the
    # inputs load the upstream nodes' frames, any other dep only orders the asset. The output
    # carries the node's frame to the IO manager (a spec alone would make it a Nothing output).
    @dg.multi_asset(
        name=spec.key.to_python_identifier(),
        outs={spec.key.to_python_identifier(): dg.AssetOut.from_spec(
            spec.replace_attributes(deps=[]), dagster_type=Any,
            io_manager_key=ODIBI_IO_MANAGER_KEY)},
        ins=ins,
        deps=[dep for dep in spec.deps if dep.asset_key not in loaded] or None,
        retry_policy=translator.get_retry_policy(project, node_ref),
        check_specs=check_specs or None,
        required_resource_keys=resource_keys,
        partitions_def=partitions_def,
    )
    def _node_asset(context: dg.AssetExecutionContext, **upstream: Any) -> Iterator[Any]:
        die_with_launcher()  # a step process never outlives the `odibi run` that started it
        # A run of a partition also runs the unpartitioned assets it selected; only this
        # pipeline's own partitions reach the node.
        partition = _partition(context) if partitions_def is not None else None
        if partitions_def is not None and partition is None:
            what = ("covers a range of partitions" if context.has_partition_key_range
                    else "names no partition")
            raise dg.Failure(
                description=f"Pipeline {node_ref.pipeline} is partitioned, and this run {what}; "
                            "odibi materializes one partition per run. Run one partition "
                            "(odibi run --partition KEY), or a backfill with one run per "
                            "partition (odibi run --partition-range START...END).",
                allow_retries=False)
        engine_resource: OdibiEngineResource = getattr(context.resources, ENGINE_RESOURCE_KEY)
        session = getattr(context.resources, SPARK_RESOURCE_KEY).spark_session \
            if in_session else None
        runner = NodeRunner(project, engine_resource.get_engine(session=session))
        run = context.run
        dry_run = run.tags.get(md.TAG_DRY_RUN) == "true"
        records = RunRecords(system_root(project))
        facts = _run_facts(context, specs)
        started_at = facts.started_at
        records.start(RunMeta(
            run_id=run.run_id, project=project.config.project,
            started_at=started_at, environment=project.env,
            engine=project.config.engine, parent_run_id=run.parent_run_id, dry_run=dry_run,
            trigger=run_trigger(run.tags),
        ))
        inputs = {aliases[name]: frame for name, frame in upstream.items()}
        outcome = runner.run(node_key, inputs=inputs, context=RunContext(
            run_id=run.run_id, environment=project.env, dry_run=dry_run,
            partition_key=partition.key if partition else None,
            partition_start=partition.start if partition else None,
            partition_end=partition.end if partition else None,
            arrival=arrival_from_tags(run.tags),
        ))
        attempt = StepAttempt.of(context, project.config.retry_for(node_ref.config), outcome)
        result = attempt.result_with_retries(records, run.run_id, outcome.result)
        # Records and metadata are masked like the story (secrets, private samples).
        result = redact_result(project, result)
        records.record(run.run_id, result)
        notify_node(observers.get(), run_info(project, run, started_at), result)
        # The story ends here once this record settles its pipeline's part of the run (see
        # odibi_core.runs): however the run was launched, without the daemon.
        story = refresh_story(project, records, run.run_id, result,
                              expected=facts.nodes.selected, to_run=facts.nodes.executed)
        metadata = materialization_metadata(result, target=spec.metadata.get(md.TARGET),
                                            story_html=str(story.html))
        if partition is not None:
            metadata[md.PARTITION] = partition.key
        check_results = [r for r in build_check_results(node_ref.config, spec.key, result)
                         if r.check_name in declared_checks]
        if not outcome.succeeded:
            assert outcome.exception is not None
            # Dagster stores (and prints) the failure and the whole chain of exceptions under
            # it: masked like the story, in every spelling of each secret.
            secrets = story_secrets(project)
            cause = mask_exception_chain(outcome.exception, secrets)
            if attempt.retry_in is not None:
                # Exactly-once writes make the next attempt safe: a batch committed by this
                # one is skipped, not written twice.
                context.log.warning(attempt.retry_message(node_key, result))
                raise dg.RetryRequested(max_retries=attempt.allowed - 1,
                                        seconds_to_wait=attempt.retry_in) from cause
            description = mask_secrets(
                attempt.failure_message(node_key, run.run_id, outcome.exception, project), secrets)
            context.log.error(description)
            if attempt.verdict is not None and not attempt.verdict.transient \
                    and attempt.allowed > 1:
                context.log.info(f"{node_key} is not retried: {attempt.verdict} is not a "
                                 "transient error.")
            # Failing checks are recorded even though nothing was materialized.
            yield from check_results
            raise dg.Failure(description=description, metadata=metadata,
                             allow_retries=False) from cause
        yield dg.MaterializeResult(
            asset_key=spec.key,
            metadata=metadata,
            check_results=check_results,
            # A write that created no table (no rows of unknown types) left nothing to read
            # back: the frame is handed on like a node without a write.
            value=NodeOutput(frame=outcome.output, written=result.write is not None
                             and result.write.skipped != SKIPPED_NO_ROWS_UNKNOWN_TYPES),
        )

    return _node_asset


def _partition(context: dg.AssetExecutionContext) -> PartitionWindow | None:
    """The partition this step materializes, or None in a run without one."""
    if not context.has_partition_key:
        return None
    window = context.partition_time_window
    return PartitionWindow(key=context.partition_key, start=window.start, end=window.end)


@dataclass(frozen=True)
class _RunFacts:
    """What every step of a run needs to know of the run, and no step changes."""

    started_at: str  # when the run was created (ISO-8601 UTC)
    nodes: RunNodes  # the nodes it selected and executes


# Run id -> its facts, found by the first step of the run in this process rather than by every
# step (queries of the run storage, and scans of the selection). Run ids are unique.
_RUN_FACTS: dict[str, _RunFacts] = {}
_REMEMBERED_RUNS = 256


def _run_facts(context: dg.AssetExecutionContext, specs: OdibiSpecs) -> _RunFacts:
    run = context.run
    known = _RUN_FACTS.get(run.run_id)
    if known is not None:
        return known
    record = context.instance.get_run_record_by_id(run.run_id)
    facts = _RunFacts(
        started_at=iso_utc(record.create_timestamp if record is not None
                           else datetime.now(timezone.utc)),
        nodes=run_nodes(context.instance, run, specs))
    if record is not None:  # not stored (yet): nothing to remember
        if len(_RUN_FACTS) >= _REMEMBERED_RUNS:
            _RUN_FACTS.pop(next(iter(_RUN_FACTS)))
        _RUN_FACTS[run.run_id] = facts
    return facts
