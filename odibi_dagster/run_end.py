"""Ending the stories of a run that is over, from outside the run: what the run-end sensors and
``odibi story last`` do for a story the run could not end itself.

A run ends its own stories (see ``odibi_core.runs``) unless a step failed or died before its
node recorded a result: a resource that did not start, an input that did not load, a step
process killed, a run canceled. :func:`record_lost_steps` records those nodes as failed from the
run's event log; :func:`end_stories` then publishes each pipeline's final story.
"""

from __future__ import annotations

from datetime import datetime, timezone
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import dagster as dg

from odibi_core.observability import notify_run, observers_for
from odibi_core.results import ErrorInfo, NodeResult, iso_utc
from odibi_core.runs import RunRecords, publish_story, redact_result, system_root
from odibi_core.story import load_story
from odibi_dagster.instance import open_instance
from odibi_dagster.project_env import project_environment
from odibi_dagster.observe import run_info
from odibi_dagster.run_nodes import run_nodes
from odibi_dagster.specs import OdibiSpecs, build_odibi_specs

__all__ = ["end_stories", "end_stories_of_ended_run", "finish_stories", "record_lost_steps"]

_ENDED = (dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE)


def record_lost_steps(project: Any, specs: OdibiSpecs, instance: dg.DagsterInstance,
                      run: Any) -> list[str]:
    """Record as failed each node of the ended ``run`` whose step failed, or started and never
    ended, without its node recording a result; returns their ``pipeline.node`` keys."""
    records = RunRecords(system_root(project))
    meta = records.meta(run.run_id)
    if meta is None:  # no node got as far as recording anything: there is no story
        return []
    node_by_step = {key.to_python_identifier(): node for key, node in specs.node_by_key.items()}
    started = {e.step_key: e.timestamp for e in instance.all_logs(
        run.run_id, of_type=dg.DagsterEventType.STEP_START) if e.step_key}
    ended = {e.step_key: e for e in instance.all_logs(run.run_id, of_type=set(_ENDED))
             if e.step_key}
    lost: list[str] = []
    for step, at in started.items():
        node = node_by_step.get(step)
        event = ended.get(step)
        if node is None or (event is not None and event.dagster_event is not None
                            and event.dagster_event.event_type == dg.DagsterEventType.STEP_SUCCESS):
            continue
        pipeline, name = node.split(".", 1)
        if name in records.recorded_nodes(run.run_id, pipeline):
            continue
        if event is not None:
            data = event.dagster_event.step_failure_data if event.dagster_event else None
            error = data.error if data is not None else None
            kind = error.cls_name if error is not None and error.cls_name else "StepFailed"
            why = (f"The step of {node} failed before the node recorded a result: "
                   f"{error.message.strip() if error else 'see the Dagster run'}")
            until = event.timestamp
        else:
            kind = "StepLost"
            why = (f"The step of {node} started but never ended: the run ended "
                   f"{run.status.value.lower()} while it ran")
            until = at
        records.record(run.run_id, redact_result(project, NodeResult(
            pipeline=pipeline, node=name, status="failed", engine=meta.engine,
            started_at=iso_utc(datetime.fromtimestamp(at, tz=timezone.utc)),
            duration_seconds=max(0.0, until - at),
            error=ErrorInfo(type=kind, message=f"{why} (Dagster run {run.run_id})."))))
        lost.append(node)
    return lost


def end_stories(project: Any, specs: OdibiSpecs, instance: dg.DagsterInstance,
                run: Any) -> list[Path]:
    """Record the ended ``run``'s lost steps and publish each of its pipelines' final story
    (nodes never reached: "skipped"); the JSON paths. The observers are not told."""
    records = RunRecords(system_root(project))
    if records.meta(run.run_id) is None:
        return []
    record_lost_steps(project, specs, instance, run)
    return [publish_story(project, records, run.run_id, pipeline, expected=names,
                          final=True).json
            for pipeline, names in run_nodes(instance, run, specs).to_run.items()]


def end_stories_of_ended_run(project: Any, run_id: str) -> list[Path]:
    """For ``odibi story last``: when run ``run_id`` of ``project``'s Dagster instance is over
    (succeeded, failed or canceled), end its stories (:func:`end_stories`); else nothing."""
    with project_environment(project), open_instance() as instance:
        run = instance.get_run_by_id(run_id)
        if run is None or not run.is_finished:
            return []
        return end_stories(project, build_odibi_specs(project), instance, run)


def finish_stories(project: Any, specs: OdibiSpecs, run: Any,
                    node_keys: Sequence[str]) -> tuple[list[Path], list[NodeResult]]:
    """Publish each pipeline's final story (nodes the run never reached become 'skipped') and
    tell the observers (metrics, tracing) that the pipeline's run ended."""
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
