"""Jobs: one per pipeline (``<pipeline>_job``) and one per ``jobs:`` entry of the project (a
selection of nodes by tag and pipeline). Dagster infers a job's partitions from its assets."""

from __future__ import annotations

from typing import Any

import dagster as dg

from odibi_core.config.orchestration_checks import job_nodes, pipeline_job_name
from odibi_dagster.partitions import partitions_def_for
from odibi_dagster.specs import OdibiSpecs

__all__ = ["build_jobs", "job_partitions"]


def build_jobs(project: Any, specs: OdibiSpecs) -> dict[str, dg.UnresolvedAssetJobDefinition]:
    """Every job of ``project`` by name: the pipeline jobs, then the declared ``jobs:``."""
    config = project.config
    jobs: dict[str, dg.UnresolvedAssetJobDefinition] = {}
    for pipeline in config.pipelines:
        name = pipeline_job_name(pipeline.pipeline)
        keys = _enabled(specs, _job_node_keys(project, name))
        if keys:  # not every node disabled
            jobs[name] = _asset_job(name, specs, keys, pipeline.description
                                    or f"Materialize every node of pipeline {pipeline.pipeline}.")
    for job in config.jobs:
        described = " and ".join(filter(None, [
            f"tagged {' or '.join(job.tags)}" if job.tags else "",
            f"in {', '.join(job.pipelines)}" if job.pipelines else ""]))
        keys = _enabled(specs, _job_node_keys(project, job.job))
        jobs[job.job] = _asset_job(job.job, specs, keys,
                                   job.description or f"Materialize the nodes {described}.")
    return jobs


def job_partitions(project: Any, job_name: str) -> dg.TimeWindowPartitionsDefinition | None:
    """The partitions of the job ``job_name`` (the configuration forbids two kinds in one)."""
    pipelines = {key.split(".", 1)[0] for key in _job_node_keys(project, job_name)}
    found = (partitions_def_for(project.config.pipeline(p)) for p in sorted(pipelines))
    return next((d for d in found if d is not None), None)


def _job_node_keys(project: Any, job_name: str) -> list[str]:
    config = project.config
    for index, job in enumerate(config.jobs):
        if job.job == job_name:
            return job_nodes(config, index)
    pipeline = next(p for p in config.pipelines if pipeline_job_name(p.pipeline) == job_name)
    return [f"{pipeline.pipeline}.{node.name}" for node in pipeline.nodes]


def _enabled(specs: OdibiSpecs, node_keys: list[str]) -> list[str]:
    return [key for key in node_keys if key in specs.by_node]


def _asset_job(name: str, specs: OdibiSpecs, node_keys: list[str],
               description: str) -> dg.UnresolvedAssetJobDefinition:
    return dg.define_asset_job(
        name, selection=dg.AssetSelection.assets(*(specs.key(key) for key in node_keys)),
        description=description)
