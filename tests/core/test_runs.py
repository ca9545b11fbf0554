"""Run records and the story a run publishes as its nodes finish, possibly in other processes."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

from odibi_core.config import load_project
from odibi_core.results import ErrorInfo, NodeResult
from odibi_core.runs import RunMeta, RunRecords, publish_story, story_root, system_root

PROJECT = """\
project: runs
connections:
  lake: {type: local, base_path: ./lake}
story: {connection: lake, path: _stories}
system: {connection: lake, path: _system}
pipelines:
  - pipeline: p
    nodes:
      - {name: a, read: {connection: lake, format: csv, path: a.csv}}
      - {name: b, depends_on: [a]}
      - {name: c, depends_on: [b]}
"""


def result(node: str, status: str = "success", second: int = 1) -> NodeResult:
    return NodeResult(pipeline="p", node=node, status=status,  # type: ignore[arg-type]
                      started_at=f"2026-11-27T10:00:0{second}.000Z", duration_seconds=0.5,
                      engine="pandas", rows_out=3,
                      error=ErrorInfo("DataError", "bad", "transform", "fix it")
                      if status == "failed" else None)


RECORD = """
import sys
from pathlib import Path
sys.path.insert(0, sys.argv[4])
from test_runs import result
from odibi_core.config import load_project
from odibi_core.runs import RunRecords, publish_story, system_root
project = load_project(Path(sys.argv[1]) / "odibi.yaml")
records = RunRecords(system_root(project))
records.record(sys.argv[2], result(sys.argv[3]))
publish_story(project, records, sys.argv[2], "p", expected=["a", "b", "c"])
"""


def test_story_grows_as_nodes_finish_and_is_final_at_the_end(tmp_path: Path) -> None:
    (tmp_path / "odibi.yaml").write_text(PROJECT, encoding="utf-8")
    project = load_project(tmp_path / "odibi.yaml")
    records = RunRecords(system_root(project))
    meta = records.start(RunMeta(run_id="run-1", project="runs",
                                 started_at="2026-11-27T10:00:00.000Z", environment="dev"))
    # A second process starting the same run gets the first record, not its own.
    again = records.start(RunMeta(run_id="run-1", project="runs",
                                  started_at="2026-11-27T11:11:11.000Z"))
    assert again == meta

    records.record("run-1", result("a"))
    paths = publish_story(project, records, "run-1", "p", expected=["a", "b", "c"])
    assert paths.json == story_root(project) / "p" / "2026-11-27" / "run_100000.json"
    story = json.loads(paths.json.read_text())
    assert story["status"] == "running" and story["environment"] == "dev"

    records.record("run-1", result("b", "failed", second=2))
    paths = publish_story(project, records, "run-1", "p", expected=["a", "b", "c"], final=True)
    story = json.loads(paths.json.read_text())
    assert story["status"] == "failed"
    assert [(n["node"], n["status"]) for n in story["nodes"]] == [
        ("a", "success"), ("b", "failed"), ("c", "skipped")]
    assert story["finished_at"] == "2026-11-27T10:00:02.500Z"
    assert paths.html.exists() and paths.md.exists()


def test_nodes_finishing_in_parallel_processes_all_reach_the_story(tmp_path: Path) -> None:
    (tmp_path / "odibi.yaml").write_text(PROJECT, encoding="utf-8")
    project = load_project(tmp_path / "odibi.yaml")
    records = RunRecords(system_root(project))
    records.start(RunMeta(run_id="run-2", project="runs", started_at="2026-11-27T10:00:00.000Z"))
    here = str(Path(__file__).parent)
    workers = [subprocess.Popen([sys.executable, "-c", RECORD, str(tmp_path), "run-2", n, here])
               for n in ("a", "b", "c")]
    assert [w.wait(timeout=120) for w in workers] == [0, 0, 0]
    story = json.loads(next((story_root(project) / "p").rglob("*.json")).read_text())
    assert story["status"] == "success"
    assert sorted(n["node"] for n in story["nodes"]) == ["a", "b", "c"]


TWO_PIPELINES = PROJECT + """\
  - pipeline: q
    nodes:
      - {name: x, inputs: {b: $p.b}, transform: {steps: ["SELECT * FROM b"]}}
      - {name: y, read: {connection: lake, format: csv, path: y.csv}}
"""


def _two_pipeline_run(tmp_path: Path) -> tuple[object, RunRecords]:
    from odibi_core.runs import RunMeta

    (tmp_path / "odibi.yaml").write_text(TWO_PIPELINES, encoding="utf-8")
    project = load_project(tmp_path / "odibi.yaml")
    records = RunRecords(system_root(project))
    records.start(RunMeta(run_id="r", project="runs", started_at="2026-11-27T10:00:00.000Z"))
    return project, records


def test_a_failure_settles_the_pipelines_whose_remaining_nodes_can_never_run(
        tmp_path: Path) -> None:
    from odibi_core.runs import never_run, settled_pipelines

    project, records = _two_pipeline_run(tmp_path)
    run = {"p": ["a", "b", "c"], "q": ["x", "y"]}
    # Downstream within the run only, across pipelines.
    assert never_run(project, run, {"p.a"}) == {"p.b", "p.c", "q.x"}
    assert never_run(project, {"p": ["a", "c"]}, {"p.a"}) == set()  # b is not run: c reads it
    records.record("r", result("a"))
    assert settled_pipelines(project, records, "r", run) == set()
    records.record("r", result("b", "failed"))
    assert settled_pipelines(project, records, "r", run) == {"p"}  # c never runs
    assert settled_pipelines(project, records, "r", {"q": ["x"]}) == {"q"}
    assert settled_pipelines(project, records, "r", run) == {"p"}  # q.y may still run
    records.record("r", dataclasses.replace(result("y"), pipeline="q"))
    assert settled_pipelines(project, records, "r", run) == {"p", "q"}


def test_a_failure_that_will_be_retried_settles_nothing(tmp_path: Path) -> None:
    from odibi_core.results import RetryAttempt
    from odibi_core.runs import settled_pipelines

    project, records = _two_pipeline_run(tmp_path)
    run = {"p": ["a", "b"]}
    records.record("r", result("a"))
    retry = RetryAttempt(attempt=1, error_type="HTTPError", error="503", category="unavailable",
                         delay_seconds=0.5, failed_at="2026-11-27T10:00:02.000Z")
    first = dataclasses.replace(result("b", "failed"), attempt=1, max_attempts=2, retries=(retry,))
    assert first.retry_pending
    records.record("r", first)
    assert settled_pipelines(project, records, "r", run) == set()  # b runs again
    records.record("r", dataclasses.replace(result("b"), attempt=2, max_attempts=2,
                                            retries=(retry,)))
    assert settled_pipelines(project, records, "r", run) == {"p"}
    assert records.unsettled("r") == (set(), set())


def test_a_lock_on_the_run_can_be_taken_again_by_its_holder(tmp_path: Path) -> None:
    (tmp_path / "odibi.yaml").write_text(PROJECT, encoding="utf-8")
    project = load_project(tmp_path / "odibi.yaml")
    records = RunRecords(system_root(project))
    records.start(RunMeta(run_id="r", project="runs", started_at="2026-11-27T10:00:00.000Z"))
    records.record("r", result("a"))
    with records.lock("r"):  # publishing locks again: no deadlock
        paths = publish_story(project, records, "r", "p", expected=["a"], final=True)
    assert json.loads(paths.json.read_text())["status"] == "success"
