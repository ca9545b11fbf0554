"""Schedules: one per ``schedule:`` of a pipeline (``<pipeline>_schedule``) or of a declared job
(``<job>_schedule``). A partitioned job's schedule runs the latest complete partition."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dagster as dg

from odibi_core.config.orchestration import ScheduleConfig
from odibi_core.config.orchestration_checks import pipeline_job_name
from odibi_dagster.jobs import job_partitions

__all__ = ["build_schedules", "default_status"]


def build_schedules(project: Any, jobs: Mapping[str, dg.UnresolvedAssetJobDefinition]
                    ) -> list[dg.ScheduleDefinition]:
    """The schedules of ``project``, each targeting its job in ``jobs``."""
    wanted = [(pipeline_job_name(p.pipeline), p.schedule) for p in project.config.pipelines
              if p.schedule is not None]
    wanted += [(job.job, job.schedule) for job in project.config.jobs if job.schedule is not None]
    return [_schedule(jobs[job], config, job_partitions(project, job))
            for job, config in wanted if job in jobs]


def _schedule(job: dg.UnresolvedAssetJobDefinition, config: ScheduleConfig,
              partitions: dg.TimeWindowPartitionsDefinition | None) -> dg.ScheduleDefinition:
    name = job.name.removesuffix("_job") + "_schedule"
    status = default_status(config.default_status, dg.DefaultScheduleStatus)
    description = f"Runs {job.name} on {config.cron} ({config.timezone})"
    if partitions is None:
        return dg.ScheduleDefinition(
            name=name, job=job, cron_schedule=config.cron, execution_timezone=config.timezone,
            default_status=status, description=description + ".")

    # Dagster's build_schedule_from_partitioned_job derives the cron from the partitions;
    # odibi keeps the user's cron and time zone and asks for the latest complete partition.
    @dg.schedule(name=name, job=job, cron_schedule=config.cron,
                 execution_timezone=config.timezone, default_status=status,
                 description=description + ": the latest complete partition.")
    def _latest_partition(context: dg.ScheduleEvaluationContext
                          ) -> dg.RunRequest | dg.SkipReason:
        keys = partitions.get_partition_keys(current_time=context.scheduled_execution_time)
        if not keys:
            return dg.SkipReason("No partition is complete yet.")
        key = keys[-1]
        return dg.RunRequest(run_key=key, partition_key=key)

    return _latest_partition


def default_status(value: str, kind: Any) -> Any:
    """``running`` / ``stopped`` as Dagster's ``DefaultScheduleStatus`` or ``DefaultSensorStatus``."""
    return kind.RUNNING if value == "running" else kind.STOPPED
