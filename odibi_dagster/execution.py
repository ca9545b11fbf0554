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
from odibi_dagster.instance import open_instance, write_instance_config
from odibi_dagster.launcher import (
    LAUNCHER_ENV,
    fail_runs_of_dead_launchers,
    launcher_tags,
)
from odibi_dagster.partitions import partition_keys_for_run
from odibi_dagster.run_logging import run_config_loggers
from odibi_dagster.specs import OdibiSpecs, build_odibi_specs

__all__ = ["ProjectRun", "dagster_home_for", "project_environment", "run_project"]

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


def dagster_home_for(project: Any) -> Path:
    """``$DAGSTER_HOME`` if set, else ``<project>/.odibi/dagster_home`` (created, with a
    ``dagster.yaml`` that turns telemetry off)."""
    home = Path(os.environ.get("DAGSTER_HOME") or project.root / ".odibi" / "dagster_home")
    write_instance_config(home)
    return home.resolve()


@contextmanager
def project_environment(project: Any) -> Iterator[None]:
    """Point ``ODIBI_PROJECT`` / ``ODIBI_ENV`` / ``DAGSTER_HOME`` at ``project`` for the block, so
    that step processes load the same project and environment, and name this process as their
    launcher (``ODIBI_LAUNCHER_PID``: they die with it)."""
    wanted = {"ODIBI_PROJECT": str(project.file), "ODIBI_ENV": project.env or "",
              "DAGSTER_HOME": str(dagster_home_for(project)), LAUNCHER_ENV: str(os.getpid())}
    saved = {k: os.environ.get(k) for k in wanted}
    os.environ.update(wanted)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


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
        stories, results = _finish_stories(project, specs, result.dagster_run, node_keys)
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
    from odibi_dagster.recovery import rollback, rollback_pipelines, written_by

    if result.success or dry_run or RunRecords(system_root(project)).meta(result.run_id) is None:
        return (), None
    written = tuple(written_by(project, result.run_id))
    pipelines = rollback_pipelines(project, node_keys)
    report = rollback(project, result.run_id, pipelines=pipelines) if pipelines else None
    return written, report


def _finish_stories(project: Any, specs: OdibiSpecs, run: Any,
                    node_keys: Sequence[str]) -> tuple[list[Path], list[NodeResult]]:
    """Publish each pipeline's final story (nodes the run never reached become 'skipped') and
    tell the observers (metrics, tracing) that the pipeline's run ended."""
    from odibi_core.observability import notify_run, observers_for

    from odibi_dagster.observe import run_info

    run_id = run.run_id
    records = RunRecords(system_root(project))
    meta = records.meta(run_id)
    if meta is None:
        return [], []
    observers = observers_for(project)
    by_pipeline: dict[str, list[str]] = {}
    for key in node_keys:
        if key in specs.by_node:
            pipeline, name = key.split(".", 1)
            by_pipeline.setdefault(pipeline, []).append(name)
    stories: list[Path] = []
    results: list[NodeResult] = []
    for pipeline, names in by_pipeline.items():
        paths = publish_story(project, records, run_id, pipeline, expected=names, final=True)
        stories.append(paths.html)
        story = load_story(paths.json)
        by_name = {r.node: r for r in story.nodes}
        results += [by_name[name] for name in names if name in by_name]
        notify_run(observers, run_info(project, run, meta.started_at), pipeline,
                   story.nodes, story.status)
    return stories, results


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
