from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import pytest

from odibi_core.results import NodeResult
from odibi_core.story import SCHEMA_VERSION, RunStory, render_json, status_from_nodes


def test_status_from_nodes(written_node, failed_node, skipped_node):
    assert status_from_nodes([written_node, skipped_node]) == "success"
    assert status_from_nodes([written_node, failed_node, skipped_node]) == "failed"
    assert status_from_nodes([]) == "success"


def test_derived_values(story):
    assert story.schema_version == SCHEMA_VERSION == 2
    assert story.status == "failed"
    assert story.duration_seconds == pytest.approx(7.5)
    assert story.status_counts == {"success": 2, "failed": 1, "skipped": 1}
    assert story.rows_written == 1188


def test_running_story_has_no_duration(story):
    running = dataclasses.replace(story, finished_at=None, status="running", nodes=())
    assert running.duration_seconds is None
    assert running.status_counts == {"success": 0, "failed": 0, "skipped": 0}
    assert running.rows_written == 0


def test_timestamps_with_z_and_without_offset(story):
    zulu = dataclasses.replace(story, started_at="2024-05-01T06:00:00Z", finished_at="2024-05-01T06:01:00")
    assert zulu.duration_seconds == 60.0


def test_dict_round_trip(story):
    assert RunStory.from_dict(story.to_dict()) == story
    assert list(story.to_dict())[0] == "schema_version"


def test_json_round_trip(story):
    assert RunStory.from_dict(json.loads(render_json(story))) == story


def test_from_dict_fills_defaults(written_node):
    data = {
        "project": "shop", "pipeline": "sales", "run_id": "r1", "environment": None, "engine": "polars",
        "started_at": "2024-05-01T06:00:00Z", "finished_at": None, "status": "running",
        "nodes": [written_node.to_dict()],
    }
    story = RunStory.from_dict(data)
    assert story.schema_version == SCHEMA_VERSION and story.extra == {} and not story.dry_run
    assert story.nodes == (written_node,)
    assert isinstance(story.nodes[0], NodeResult)


def test_newer_schema_is_refused(story):
    data = story.to_dict() | {"schema_version": 99}
    with pytest.raises(ValueError, match=r"schema_version 99 is newer .*upgrade odibi"):
        RunStory.from_dict(data)


def test_story_is_frozen_and_keyword_only(story):
    with pytest.raises(dataclasses.FrozenInstanceError):
        story.status = "success"  # type: ignore[misc]
    with pytest.raises(TypeError):
        RunStory("shop", "sales")  # type: ignore[misc]


def test_import_loads_no_framework_or_engine():
    code = (
        "import sys, odibi_core.story\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('dagster', 'pandas', 'polars', 'pyspark', 'numpy', 'pyarrow'))\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""
