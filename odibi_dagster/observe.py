"""The Dagster run as ``odibi_core.observability`` sees it (:class:`RunInfo`)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from odibi_core.observability import RunInfo
from odibi_dagster import metadata as md

__all__ = ["run_info", "run_trigger"]

# Dagster's own run tags naming what launched a run.
_SCHEDULE_TAG = "dagster/schedule_name"
_SENSOR_TAG = "dagster/sensor_name"
_AUTOMATION_TAG = "dagster/from_automation_condition"


def run_info(project: Any, run: Any, started_at: str | None) -> RunInfo:
    """``run`` (a ``DagsterRun``) of ``project`` for the observers."""
    return RunInfo(project=project.config.project, run_id=run.run_id,
                   environment=project.env, engine=project.config.engine,
                   started_at=started_at, parent_run_id=run.parent_run_id,
                   tags=dict(run.tags))


def run_trigger(tags: Mapping[str, str]) -> dict[str, Any] | None:
    """What started a run, from its tags (None: a person, ``odibi run``, or the UI): a schedule,
    a sensor (a file-arrival sensor adds the files, a source-change sensor the changed sources)
    or declarative automation."""
    if tags.get(_AUTOMATION_TAG) == "true":
        return {"by": "declarative automation"}
    if _SCHEDULE_TAG in tags:
        return {"by": f"schedule {tags[_SCHEDULE_TAG]}"}
    if _SENSOR_TAG not in tags:
        return None
    trigger: dict[str, Any] = {"by": f"sensor {tags[_SENSOR_TAG]}"}
    if md.TAG_FILES in tags:
        trigger["watched"] = tags.get(md.TAG_WATCHED)
        trigger["files"] = json.loads(tags[md.TAG_FILES])
    if md.TAG_CHANGED_SOURCES in tags:
        trigger["changed_nodes"] = json.loads(tags.get(md.TAG_CHANGED_NODES, "[]"))
        trigger["changed_sources"] = json.loads(tags[md.TAG_CHANGED_SOURCES])
    return trigger
