"""The story JSON has a documented, versioned schema (odibi_core/story/story.schema.json)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from odibi_core.results import (
    GateResult,
    NodeResult,
    QuarantineResult,
    RetryAttempt,
    TestResult,
    ValidationResult,
)
from odibi_core.story import SCHEMA_VERSION, RunStory, render_json
from odibi_core.story.schema import SCHEMA_PATH, schema_errors, story_schema

DOC = Path(__file__).resolve().parents[3] / "docs" / "story_schema.md"


def _full_node(node: NodeResult) -> NodeResult:
    """``node`` with every optional block filled in."""
    test = TestResult(name="qty", type="range", kind="validation", index=0, on_fail="quarantine",
                      passed=False, total_rows=10, failing_rows=1, pass_rate=0.9, sample=(10,),
                      message="1 of 10 rows fail", observed=None)
    checked = ValidationResult(kind="validation", total_rows=10, tests=(test,), rows_passing=9)
    return dataclasses.replace(
        node, contracts=dataclasses.replace(checked, kind="contract"), validation=checked,
        quarantine=QuarantineResult(rows=1, rows_written=1, destination="q/orders", format="delta",
                                    batch_id="b1", tests=("qty",), delta_version=3),
        gate=GateResult(passed=True, action="write", pass_rate=0.9, require_pass_rate=0.8),
        attempt=2, max_attempts=3,
        retries=(RetryAttempt(attempt=1, error_type="OSError", error="reset", category="connection_reset",
                              delay_seconds=0.5, failed_at="2024-05-01T06:00:01.000Z"),),
        extra={"dead_letters": {"bad_records": 2, "rows_read": 12}, "profile": {"columns": []}},
    )


def test_schema_file_is_draft_2020_12_and_matches_the_version() -> None:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["properties"]["schema_version"] == {"const": SCHEMA_VERSION}
    assert schema == story_schema()


def test_fixture_stories_match_the_schema(story: RunStory) -> None:
    full = dataclasses.replace(story, nodes=tuple(_full_node(n) for n in story.nodes))
    for each in (story, full, dataclasses.replace(story, finished_at=None, status="running")):
        assert schema_errors(json.loads(render_json(each))) == []


def test_schema_lists_exactly_the_keys_the_code_writes(story: RunStory) -> None:
    schema = story_schema()
    data = json.loads(render_json(story))
    assert list(schema["properties"]) == list(data)
    node = schema["$defs"]["node"]["properties"]
    assert list(node) == [f.name for f in dataclasses.fields(NodeResult)]


def test_schema_catches_a_story_that_drifts(story: RunStory) -> None:
    data = json.loads(render_json(story))
    data["nodes"][0]["rows_in"] = "many"
    data["nodes"][1]["surprise"] = 1
    data["status"] = "done"
    del data["run_id"]
    assert sorted(schema_errors(data)) == [
        "$.nodes[0].rows_in: expected integer or null, got str",
        "$.nodes[1]: unknown key 'surprise'",
        "$.status: 'done' is not one of ['success', 'failed', 'running']",
        "$: missing 'run_id'",
    ]


def test_the_schema_is_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert f"schema_version` | int | {SCHEMA_VERSION}" in text
    for key in [*story_schema()["properties"], *story_schema()["$defs"]["node"]["properties"]]:
        assert f"`{key}`" in text, key


def test_reading_ignores_keys_a_newer_writer_added(story: RunStory) -> None:
    data = story.to_dict() | {"added_later": {"x": 1}}
    assert RunStory.from_dict(data) == story
    old = story.to_dict() | {"schema_version": 1}
    del old["edges"]
    assert RunStory.from_dict(old).edges == ()
