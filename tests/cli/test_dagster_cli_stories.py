"""Runs launched with the ``dagster`` CLI (no ``odibi run``, no daemon, the default multiprocess
executor: one process per step) end their stories: ``dagster job execute`` of a job covering part
of a pipeline, and ``dagster asset materialize`` of a selection in which a node fails."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.run_stories import (
    FAILED_SALES,
    FINANCE,
    assert_final,
    break_clean_orders,
    build_retail,
    statuses,
)

pytestmark = pytest.mark.slow

DAGSTER = str(Path(sys.executable).with_name("dagster"))


def _dagster(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ODIBI_PROJECT": str(project / "odibi.yaml")}
    return subprocess.run([DAGSTER, *args, "-m", "odibi_dagster.definitions"],
                          capture_output=True, text=True, cwd=project, env=env, timeout=300,
                          stdin=subprocess.DEVNULL)


def _new_stories(retail: Path, before: str) -> dict[str, dict[str, Any]]:
    """The stories of the one run after run ``before``, by pipeline."""
    found = [json.loads(p.read_text()) for p in (retail / "lake" / "_stories").rglob("run_*.json")]
    runs = {s["run_id"] for s in found} - {before}
    assert len(runs) == 1, runs
    return {s["pipeline"]: s for s in found if s["run_id"] in runs}


def test_dagster_job_execute_of_part_of_a_pipeline_ends_its_story(retail: Path) -> None:
    before = build_retail(retail)
    done = _dagster(retail, "job", "execute", "-j", "finance_reports")
    assert done.returncode == 0, done.stderr[-3000:]
    stories = _new_stories(retail, before)
    assert set(stories) == {"sales"}
    assert statuses(stories["sales"]) == dict.fromkeys(FINANCE, "success")
    assert_final(stories["sales"], "success")


def test_dagster_asset_materialize_with_a_failing_node_ends_its_story(retail: Path) -> None:
    before = build_retail(retail)
    break_clean_orders(retail)
    done = _dagster(retail, "asset", "materialize", "--select", "group:sales")
    assert done.returncode == 1, done.stderr[-3000:]
    stories = _new_stories(retail, before)
    assert set(stories) == {"sales"}
    assert statuses(stories["sales"]) == FAILED_SALES
    assert_final(stories["sales"], "failed")
