"""A run launched outside ``odibi run`` ends its stories itself, with nothing switched on in the
project file and no daemon: a job of part of a pipeline (whose run has no asset selection), a
failed node whose downstream nodes never run; and, for a step that failed before its node
recorded anything, the run-end sensors (the safety net) and ``odibi story last``."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import pytest

from odibi_core.config import load_project
from odibi_dagster.cli.main import main
from odibi_dagster.definitions import defs_from_loaded_project
from odibi_dagster.execution import _asset_job
from odibi_dagster.project_env import project_environment
from odibi_dagster.run_end_sensor import RUN_FAILED_SENSOR
from tests.run_stories import (
    FAILED_SALES,
    FINANCE,
    assert_final,
    break_clean_orders,
    build_retail,
    run_stories,
    statuses,
)


@pytest.fixture
def built_retail(retail: Path) -> Path:
    """examples/retail after one full `odibi run` (every target exists)."""
    build_retail(retail)
    return retail


def _execute_job(retail: Path, job: str) -> dg.ExecuteInProcessResult:
    """Run job ``job`` as the UI launches it: the job as a whole, no asset selection."""
    project = load_project(retail)
    defs = defs_from_loaded_project(project)
    with project_environment(project), dg.DagsterInstance.get() as instance:
        return defs.resolve_job_def(job).execute_in_process(instance=instance,
                                                            raise_on_error=False)


def test_a_job_of_part_of_a_pipeline_ends_its_story(
        built_retail: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = _execute_job(built_retail, "finance_reports")
    assert result.success and not result.dagster_run.asset_selection  # none: the job
    stories = run_stories(built_retail, result.run_id)
    assert set(stories) == {"sales"}  # not every pipeline of the project
    story = stories["sales"]
    assert statuses(story) == dict.fromkeys(FINANCE, "success")
    assert_final(story, "success")
    assert "latest success" in (built_retail / "lake" / "_stories" / "sales" /
                                "index.html").read_text(encoding="utf-8")
    assert main(["story", "last", str(built_retail)]) == 0
    out = capsys.readouterr().out
    assert result.run_id in out and "- **Status:** success" in out


def test_a_failed_node_ends_the_story_with_its_downstream_nodes_skipped(
        built_retail: Path) -> None:
    break_clean_orders(built_retail)
    result = _execute_job(built_retail, "sales_job")
    assert not result.success
    story = run_stories(built_retail, result.run_id)["sales"]
    assert statuses(story) == FAILED_SALES
    skipped = {n["node"]: n["skipped_reason"] for n in story["nodes"] if n["status"] == "skipped"}
    assert set(skipped.values()) == {"not run: an upstream node failed"}
    assert_final(story, "failed")


def _run_losing_a_step(retail: Path, instance: dg.DagsterInstance) -> dg.ExecutionResult:
    """A run in which a step fails before its node runs or records anything: revenue_by_country
    reads clean_orders (not in the run) from its table, which is gone."""
    shutil.rmtree(retail / "lake" / "silver" / "orders")
    keys = [dg.AssetKey(["sales", "clean_customers"]), dg.AssetKey(["sales", "revenue_by_country"])]
    failed = dg.execute_job(_asset_job(), instance=instance, asset_selection=keys,
                            run_config={"execution": {"config": {"in_process": {}}}})
    assert not failed.success
    assert run_stories(retail, failed.run_id)["sales"]["status"] == "running"  # not ended
    return failed


def _assert_lost_step_story(retail: Path, run_id: str) -> None:
    story = run_stories(retail, run_id)["sales"]
    assert statuses(story) == {"clean_customers": "success", "revenue_by_country": "failed"}
    assert_final(story, "failed")
    error = next(n["error"] for n in story["nodes"] if n["node"] == "revenue_by_country")
    assert "failed before the node recorded a result" in error["message"]


def test_the_failure_sensor_ends_a_story_whose_step_failed_before_recording(
        built_retail: Path) -> None:
    project = load_project(built_retail)
    with project_environment(project), dg.DagsterInstance.get() as instance:
        failed = _run_losing_a_step(built_retail, instance)
        (sensor,) = [s for s in defs_from_loaded_project(project).sensors
                     if s.name == RUN_FAILED_SENSOR]
        sensor(dg.build_run_status_sensor_context(
            sensor_name=RUN_FAILED_SENSOR, dagster_event=failed.get_run_failure_event(),
            dagster_instance=instance, dagster_run=failed.dagster_run).for_run_failure())
    _assert_lost_step_story(built_retail, failed.run_id)


def test_story_last_ends_the_story_of_a_run_that_is_over(
        built_retail: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = load_project(built_retail)
    with project_environment(project), dg.DagsterInstance.get() as instance:
        failed = _run_losing_a_step(built_retail, instance)
    capsys.readouterr()
    assert main(["story", "last", str(built_retail)]) == 0
    out = capsys.readouterr().out
    assert failed.run_id in out and "- **Status:** failed" in out
    _assert_lost_step_story(built_retail, failed.run_id)
