"""Running a selection of a project through Dagster against a persistent instance.

This is what ``odibi run`` does: the same assets the UI shows, executed with ``execute_job`` and
recorded under ``DAGSTER_HOME`` (default ``<project>/.odibi/dagster_home``), so that runs show up in
``dagster dev`` and can be re-executed from failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import dagster as dg

from odibi_core.engine_capabilities import capabilities_of
from odibi_core.errors import ConfigError, ConfigProblem
from odibi_core.observability import run_tags_for
from odibi_core.results import NodeResult
from odibi_core.runs import RunRecords, publish_story, system_root
from odibi_core.story import load_story
from odibi_dagster import metadata as md
from odibi_dagster.definitions import loading_once
from odibi_dagster.failures import RunFailure, unreported_failures
from odibi_dagster.instance import open_instance
from odibi_dagster.project_env import project_environment
from odibi_dagster.launcher import (
    LAUNCHER_ENV,
    fail_runs_of_dead_launchers,
    launcher_tags,
)
from odibi_dagster.partitions import partition_keys_for_run
from odibi_dagster.recovery import rollback, rollback_pipelines, written_by
from odibi_dagster.run_end import finish_stories
from odibi_dagster.run_logging import run_config_loggers
from odibi_dagster.specs import OdibiSpecs, build_odibi_specs

__all__ = ["ProjectRun", "run_project"]

Executor = Literal["in_process", "multiprocess"]

@dataclass(frozen=True)
class ProjectRun:
    """The outcome of ``run_project``: the Dagster run, each node's result and the stories."""

    run_id: str
    success: bool
    results: tuple[NodeResult, ...]
    stories: tuple[Path, ...]  # one HTML story per pipeline of the run
    partition_key: str | None = None  # the partition the run materialized
    written: tuple[str, ...] = ()  # a failed run: the targets it committed (see recovery)
    rollback: Any = None  # a failed run of an ``on_failure: rollback`` pipeline: the report
    failures: tuple[RunFailure, ...] = ()  # failures the results do not show (see failures)


def run_project(project: Any, node_keys: Sequence[str], *, dry_run: bool = False,
                executor: Executor = "in_process", progress: Any = None,
                partition_key: str | None = None, verbose: bool = False) -> ProjectRun:
    """Materialize ``node_keys`` (``pipeline.node``) of ``project`` in one Dagster run.

    Args:
        progress: a callable ``(instance, run_tag, node_by_step) -> context manager`` that
            reports progress while the run executes (the CLI's printer), or None.
        partition_key: the partition to materialize; required when the selection holds a
            partitioned pipeline, an error when it holds none. Unpartitioned nodes of the
            selection run too.
        verbose: print Dagster's console log (DEBUG); else ``$ODIBI_LOG_LEVEL`` decides, and
            unset it prints nothing (see :mod:`odibi_dagster.run_logging`).

    Raises:
        ConfigError: a missing, unneeded or unknown partition key (the message lists the
            valid range).
    """
    partition_keys_for_run(project, node_keys, partition=partition_key)
    specs = build_odibi_specs(project)
    keys = [specs.key(k) for k in node_keys if k in specs.by_node]
    invocation = uuid.uuid4().hex
    tags = {md.TAG_PROJECT: project.config.project, md.TAG_ENV: project.env or "default",
            md.TAG_DRY_RUN: "true" if dry_run else "false", "odibi/invocation": invocation,
            **run_tags_for(project), **launcher_tags()}
    if partition_key is not None:
        tags[md.TAG_PARTITION] = partition_key
    # odibi prints its own progress and each failure once; Dagster's console log is opt-in.
    run_config: dict[str, Any] = {"loggers": run_config_loggers(verbose)}
    if capabilities_of(project.config.engine).runs_in_one_process:
        # e.g. Spark: every step in one process, sharing one SparkSession.
        if executor != "in_process":
            raise ConfigError(ConfigProblem(
                message="A Spark project runs its assets in one process, sharing one "
                        "SparkSession; the multiprocess executor would start one per step.",
                file=project.file, key_path="engine",
                fix="Drop --executor multiprocess (Spark parallelises inside each step)."))
    else:
        run_config["execution"] = {"config": {executor: {}}}
    with project_environment(project), open_instance() as instance:
        fail_runs_of_dead_launchers(instance, project)
        step_names = {_step_key(spec.key): node for node, spec in specs.by_node.items()}
        watcher = progress(instance, ("odibi/invocation", invocation), step_names) \
            if progress else nullcontext()
        with watcher, loading_once():
            result = dg.execute_job(_asset_job(), instance=instance,
                                    run_config=run_config, tags=tags, asset_selection=keys)
        written, report = _after_failure(project, result, node_keys, dry_run=dry_run)
        stories, results = finish_stories(project, specs, result.dagster_run, node_keys)
        failures = () if result.success else unreported_failures(
            instance, result.run_id, step_names, results)
        return ProjectRun(run_id=result.run_id, success=result.success,
                          results=tuple(results), stories=tuple(stories),
                          partition_key=partition_key, written=written, rollback=report,
                          failures=failures)


def _after_failure(project: Any, result: Any, node_keys: Sequence[str], *,
                   dry_run: bool) -> tuple[tuple[str, ...], Any]:
    """For a failed run: what it wrote and, for ``on_failure: rollback`` pipelines, the
    rollback of it (before the final story, which lists it)."""
    if result.success or dry_run or RunRecords(system_root(project)).meta(result.run_id) is None:
        return (), None
    written = tuple(written_by(project, result.run_id))
    pipelines = rollback_pipelines(project, node_keys)
    report = rollback(project, result.run_id, pipelines=pipelines) if pipelines else None
    return written, report


def _asset_job() -> Any:
    """Dagster's job over every asset of ``odibi_dagster.definitions``, rebuilt by module name in
    each step process (so a multiprocess run loads the same ODIBI_PROJECT)."""
    from dagster._core.definitions.reconstruct import (
        ReconstructableJob,
        ReconstructableRepository,
    )

    # Dagster caches loaded definitions per reconstructable target; ODIBI_PROJECT may name
    # another project than the last run in this process did, so load afresh.
    ReconstructableJob.get_repository_definition.cache_clear()
    ReconstructableJob.get_definition.cache_clear()
    repository = ReconstructableRepository.for_module("odibi_dagster.definitions", "defs")
    return repository.get_reconstructable_job("__ASSET_JOB")


def _step_key(key: dg.AssetKey) -> str:
    return "__".join(key.path)
