"""The HTML story of a real run, opened in headless Chromium (Debian ``chromium``).

The page must render the run's node names (read back from the DOM Chromium built); the screenshot
is kept under the test's temporary folder, its path printed (``pytest -s`` shows it).
"""

from __future__ import annotations

import json
from pathlib import Path

from odibi_core.config import load_project
from odibi_core.story.schema import schema_errors
from odibi_dagster.execution import run_project
from tests.headless_chromium import PNG_MAGIC, VisibleText, chromium

def test_html_story_renders_inchromium(retail: Path, tmp_path: Path) -> None:
    sales = retail / "pipelines" / "sales.yaml"
    sales.write_text(sales.read_text(encoding="utf-8").replace(
        "round(sum(amount), 2) AS revenue", "round(sum(no_such_column), 2) AS revenue"),
        encoding="utf-8")  # daily_sales fails: its section opens with the error and the fix
    project = load_project(retail / "odibi.yaml")
    outcome = run_project(project, list(project.graph.topological_order()))
    assert not outcome.success
    page = next(path for path in outcome.stories if path.parts[-3] == "sales")
    story = json.loads(page.with_suffix(".json").read_text(encoding="utf-8"))
    assert schema_errors(story) == []
    names = [node["node"] for node in story["nodes"]]
    assert set(names) == {"clean_customers", "clean_orders", "revenue_by_country", "daily_sales"}

    profile = tmp_path / "chromium-profile"
    dom = chromium("--dump-dom", page.as_uri(), profile=profile).stdout.decode("utf-8")
    text = VisibleText()
    text.feed(dom)
    seen = text.parts
    for name in names:
        assert seen.count(name) >= 3, name  # graph box, node table and details summary
    assert "bronze.raw_orders" in seen  # the upstream node of the other pipeline, in the graph
    for heading in ("Graph", "Nodes", "Node details"):
        assert heading in seen
    assert any("no_such_column" in part for part in seen)  # the open failed node's error
    assert "Fix:" in seen
    assert dom.count('class="dag-node ') == len(names) + 3 and dom.count('class="edge"') == 6

    screenshot = tmp_path / "story.png"
    chromium(f"--screenshot={screenshot}", "--window-size=1280,2000", page.as_uri(), profile=profile)
    assert screenshot.read_bytes()[:8] == PNG_MAGIC and screenshot.stat().st_size > 20_000
    print(f"\nstory screenshot: {screenshot}")

    index = page.parent.parent / "index.html"
    listed = VisibleText()
    listed.feed(chromium("--dump-dom", index.as_uri(), profile=profile).stdout.decode("utf-8"))
    assert story["run_id"] in listed.parts and "failed" in listed.parts
