"""odibi's own per-asset costs in a Dagster run stay small: the project is loaded once per
``execute_job``, each step asks the run storage nothing it already knows, and a pipeline's story
is re-published at most every few seconds for successful nodes — yet at once for the first node,
for a failure and every node after it, and for the node that completes the run's part of the
pipeline, so that whatever a run ends with is in its story, also without ``odibi run``."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

import odibi_core.runs as runs
import odibi_dagster.definitions as definitions
from odibi_core.config import load_project
from odibi_dagster.definitions import defs_from_project
from odibi_dagster.execution import _asset_job, run_project
from odibi_dagster.project_env import project_environment

PROJECT = """\
project: overhead
connections:
  src: {type: local, base_path: ./src}
  lake: {type: local, base_path: ./lake}
system: {connection: lake, path: _system}
story: {connection: lake, path: _stories}
pipelines:
  - pipeline: p
    nodes:
      - name: a
        read: {connection: src, format: csv, path: rows.csv}
      - {name: b, depends_on: [a], transform: {steps: ["SELECT id, value + 1 AS value FROM a"]}}
      - {name: c, depends_on: [b], transform: {steps: ["SELECT id, value + 1 AS value FROM b"]}}
      - {name: d, depends_on: [a], transform: {steps: ["SELECT id, value * 2 AS value FROM a"]}}
      - name: e
        depends_on: [c]
        transform: {steps: ["SELECT id, value FROM c"]}
        write: {connection: lake, format: parquet, path: e.parquet}
"""
NODES = ["p.a", "p.b", "p.c", "p.d", "p.e"]


@pytest.fixture
def project_file(tmp_path: Path, dagster_home: Path) -> Path:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "rows.csv").write_text("id,value\n1,1.0\n2,2.0\n", encoding="utf-8")
    (tmp_path / "odibi.yaml").write_text(PROJECT, encoding="utf-8")
    return tmp_path / "odibi.yaml"


@pytest.fixture
def publishes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Node count of each story written by a node (not by a run's end), with the refresh
    interval so long that only the writes that must happen happen."""
    monkeypatch.setattr(runs, "STORY_REFRESH_SECONDS", 3600.0)
    written: list[str] = []
    publish = runs.publish_story

    def spy(*args: Any, **kwargs: Any) -> Any:
        paths = publish(*args, **kwargs)
        written.append(json.loads(paths.json.read_text())["status"])
        return paths

    monkeypatch.setattr(runs, "publish_story", spy)
    return written


def _story(root: Path, run_id: str) -> dict[str, Any]:
    found = [json.loads(p.read_text()) for p in (root / "lake" / "_stories" / "p").rglob("*.json")]
    return next(s for s in found if s["run_id"] == run_id)


def _statuses(story: dict[str, Any]) -> dict[str, str]:
    return {n["node"]: n["status"] for n in story["nodes"]}


def _materialize(defs: dg.Definitions) -> dg.ExecuteInProcessResult:
    """A run as the UI starts it: no final story from ``odibi run``."""
    job = defs.resolve_implicit_global_asset_job_def()
    with dg.DagsterInstance.get() as instance:
        return job.execute_in_process(instance=instance, raise_on_error=False)


def test_a_run_loads_its_project_once(project_file: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    loads: list[Path] = []
    load = definitions.load_project

    def counting(path: Any, **kwargs: Any) -> Any:
        loads.append(Path(path))
        return load(path, **kwargs)

    monkeypatch.setattr(definitions, "load_project", counting)
    run = run_project(load_project(project_file), NODES)
    assert run.success and len(run.results) == len(NODES)
    assert loads == [project_file]


def test_a_story_is_written_for_the_first_and_the_last_node_and_is_complete(
        project_file: Path, publishes: list[str]) -> None:
    result = _materialize(defs_from_project(project_file))
    assert result.success
    assert publishes == ["running", "success"]  # not once per node
    story = _story(project_file.parent, result.run_id)
    assert story["status"] == "success" and story["finished_at"] is not None
    assert _statuses(story) == dict.fromkeys("abcde", "success")
    # Every materialization links the story, written or not by its own node.
    links = {str(e.materialization.metadata["odibi/story"].value)
             for e in result.get_asset_materialization_events()}
    assert len(links) == 1 and Path(links.pop()).exists()


def test_a_failure_and_every_node_after_it_reach_the_story(
        project_file: Path, publishes: list[str]) -> None:
    project_file.write_text(PROJECT.replace("value + 1 AS value FROM b", "nope FROM b"),
                            encoding="utf-8")
    result = _materialize(defs_from_project(project_file))
    assert not result.success
    story = _story(project_file.parent, result.run_id)
    # e, downstream of c, never runs: the run's last record ends the story without a run end.
    assert _statuses(story) == {"a": "success", "b": "success", "c": "failed", "d": "success",
                                "e": "skipped"}
    assert story["status"] == "failed" and story["finished_at"] is not None


def test_a_story_written_by_a_time_gap_holds_every_node_so_far(
        project_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runs, "STORY_REFRESH_SECONDS", 0.0)
    monkeypatch.setattr(runs, "_REFRESH_COST_FACTOR", 0)
    counts: list[int] = []
    publish = runs.publish_story

    def spy(*args: Any, **kwargs: Any) -> Any:
        paths = publish(*args, **kwargs)
        counts.append(len(json.loads(paths.json.read_text())["nodes"]))
        return paths

    monkeypatch.setattr(runs, "publish_story", spy)
    assert _materialize(defs_from_project(project_file)).success
    assert counts == [1, 2, 3, 4, 5]  # no gap asked for: after every node, as it always was


def test_a_re_execution_from_failure_completes_the_story_of_what_it_ran(
        project_file: Path, publishes: list[str]) -> None:
    project_file.write_text(PROJECT.replace("value + 1 AS value FROM b", "nope FROM b"),
                            encoding="utf-8")
    failed = run_project(load_project(project_file), NODES)
    assert not failed.success
    project_file.write_text(PROJECT, encoding="utf-8")
    project = load_project(project_file)
    publishes.clear()
    with project_environment(project), dg.DagsterInstance.get() as instance:
        # As the UI re-executes: no final story from `odibi resume`.
        result = dg.execute_job(
            _asset_job(), instance=instance,
            run_config={"execution": {"config": {"in_process": {}}}},
            reexecution_options=dg.ReexecutionOptions.from_failure(failed.run_id, instance))
    assert result.success
    story = _story(project_file.parent, result.run_id)
    assert _statuses(story) == {"c": "success", "e": "success"}
    assert story["status"] == "success" and story["finished_at"] is not None
    assert len(publishes) == 2  # c (the first) and e (the last of the steps it executes)


def test_the_index_page_follows_a_story_that_is_rewritten(tmp_path: Path) -> None:
    from odibi_core.results import NodeResult
    from odibi_core.story import RunStory, write_story

    node = NodeResult(pipeline="p", node="a", status="success",
                      started_at="2026-11-27T10:00:00Z", duration_seconds=1.0, engine="pandas")
    running = RunStory(project="overhead", pipeline="p", run_id="r1", environment=None,
                       engine="pandas", started_at="2026-11-27T10:00:00Z", finished_at=None,
                       status="running", nodes=(node,))
    write_story(running, tmp_path)
    index = tmp_path / "p" / "index.html"
    assert "latest running" in index.read_text()
    final = dataclasses.replace(running, status="success", finished_at="2026-11-27T10:00:01Z")
    write_story(final, tmp_path)  # the same story file, replaced
    assert "latest success" in index.read_text()
