"""The Dagster run as ``odibi_core.observability`` sees it (:class:`RunInfo`)."""

from __future__ import annotations

from typing import Any

from odibi_core.observability import RunInfo

__all__ = ["run_info"]


def run_info(project: Any, run: Any, started_at: str | None) -> RunInfo:
    """``run`` (a ``DagsterRun``) of ``project`` for the observers."""
    return RunInfo(project=project.config.project, run_id=run.run_id,
                   environment=project.env, engine=project.config.engine,
                   started_at=started_at, parent_run_id=run.parent_run_id,
                   tags=dict(run.tags))
