from __future__ import annotations

import dataclasses
import json
import re
from datetime import date, datetime, timezone
from decimal import Decimal
from html.parser import HTMLParser

import pytest

from odibi_core.results import ErrorInfo
from odibi_core.story import _format as fmt
from odibi_core.story import RunStory, render_html, render_json, render_markdown

EVIL = "<script>alert('x')</script>"  # the value conftest plants in the story
VOID = {"meta", "br", "hr", "img", "input", "link", "area", "base", "col", "embed", "source", "track", "wbr"}


class TagChecker(HTMLParser):
    """Tracks open tags; records mismatched closes and any script or external reference."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.problems: list[str] = []
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "script":
            self.problems.append("script tag")
        for name, value in attrs:
            if name in ("src",) or (name == "href" and value and not value.startswith("#")):
                self.problems.append(f"external reference {name}={value}")
            if name.startswith("on"):
                self.problems.append(f"event handler {name}")
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.tags.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"unexpected </{tag}> with open {self.stack[-3:]}")
        else:
            self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)


def parse(page: str) -> TagChecker:
    checker = TagChecker()
    checker.feed(page)
    checker.close()
    return checker


# --- JSON -------------------------------------------------------------------------------------


def test_json_is_stable_and_versioned(story):
    text = render_json(story)
    assert text == render_json(story)
    assert text.startswith('{\n  "schema_version": 2,\n  "project": "shop",')
    assert text.endswith("}\n")
    data = json.loads(text)
    assert [n["node"] for n in data["nodes"]] == ["orders_clean", "customers", "revenue", "publish"]
    assert data["nodes"][0]["write"]["delta_version"] == 7


def test_json_converts_values_json_cannot_hold(written_node, story):
    odd = dataclasses.replace(
        written_node,
        sample_rows=({
            "day": date(2024, 5, 1),
            "at": datetime(2024, 5, 1, 6, tzinfo=timezone.utc),
            "price": Decimal("1.10"),
            "blob": b"\x01\xff",
            "missing": float("nan"),
            "tags": {"b", "a"},
        },),
    )
    data = json.loads(render_json(dataclasses.replace(story, nodes=(odd,))))
    assert data["nodes"][0]["sample_rows"][0] == {
        "day": "2024-05-01", "at": "2024-05-01T06:00:00+00:00", "price": "1.10", "blob": "01ff",
        "missing": None, "tags": ["a", "b"],
    }


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, "—"), (0, "0 s"), (0.0001, "<1 ms"), (0.042, "42 ms"), (3.256, "3.26 s"), (125, "2 min 05 s"),
     (7322, "2 h 02 min")],
)
def test_durations_read_naturally(seconds, text):
    assert fmt.format_seconds(seconds) == text


# --- Markdown ---------------------------------------------------------------------------------


def test_markdown_summary_and_node_table(story):
    md = render_markdown(story)
    assert md.startswith("# Run story: shop / sales\n")
    for line in (
        "- **Run id:** 8f14e45f-ceea-467f-a0e6-123456789abc",
        "- **Parent run:** 0a1b2c3d",
        "- **Environment:** dev",
        "- **Engine:** pandas",
        "- **Status:** failed",
        "- **Started:** 2024-05-01 06:00:00 UTC",
        "- **Duration:** 7.50 s",
        "- **Nodes:** 2 ok, 1 failed, 1 skipped",
        "- **Rows written:** 1,188",
        "| Node | Status | Duration | Rows in | Rows out | Rows written | Tests | Quarantined "
        "| Dead letters | Retries | Delta version |",
        "| orders_clean | success | 3.25 s | 1,200 | 1,180 | 1,180 | — | — | — | — | 7 |",
        "| revenue | failed | 500 ms | 1,180 | — | — | — | — | — | — | — |",
        "| publish | skipped | 0 s | — | — | — | — | — | — | — | — |",
    ):
        assert line in md


def test_markdown_node_sections(story):
    md = render_markdown(story)
    assert "## 1. `orders_clean` — success" in md
    sql = "SELECT order_id, CAST(amount AS DOUBLE) AS amount FROM raw_orders WHERE amount > 0"
    assert f"```sql\n{sql}\n```" in md
    assert "- **Location:** silver/orders" in md and "- **Delta version:** 7" in md
    assert "| order\\_id | int64 | int64 not null |" not in md  # intraword "_" stays unescaped
    assert "| order_id | int64 | int64 not null |" in md
    assert "| region | — | string |" in md
    assert "| 2 | null | a\\|b |" in md  # a pipe in a value cannot open a cell
    assert "| write | 1.50 s |" in md
    # failed node: error, message block and fix
    assert "`DataError` in phase `validate` (not transient)" in md
    assert "```text\ncolumn 'amount' has 3 nulls\nfirst at row 2\n```" in md
    assert "**Fix:** Fill nulls in orders\\_clean.amount before aggregating." not in md
    assert "**Fix:** Fill nulls in orders_clean.amount before aggregating." in md
    assert "- **Skipped because:** upstream node revenue failed" in md


def test_markdown_extras_render_generically(story):
    md = render_markdown(story)
    assert "## Run details\n\n### Labels\n\n| key | value |" in md
    assert "### Validation\n\n| test | column | passed | failed_rows |" in md
    assert "| not_null | email | false | 2 |" in md
    assert "### Quarantine\n\n| key | value |\n| --- | --- |\n| rows | 2 |" in md
    assert "### Dead letter rows\n\n1\n" in md
    assert "### Retries\n\n2\n" in md
    assert "| name | null_pct | unique |\n| --- | --- | --- |\n| email | 20.0 | 8 |" in md
    assert "- late file" in md


def test_empty_and_nested_extras(story, written_node):
    extra = {"retries": [], "checks": {}, "nested": {"a": [1, {"b": 2}]}}
    node = dataclasses.replace(written_node, extra=extra)
    md = render_markdown(dataclasses.replace(story, nodes=(node,), extra={}))
    assert "### Retries\n\n(none)\n" in md and "### Checks\n\n(none)\n" in md
    assert '| a | \\[1, {"b": 2}\\] |' in md


def test_dry_run_is_marked(story, written_node):
    node = dataclasses.replace(written_node, dry_run=True, rows_written=0)
    dry = dataclasses.replace(story, dry_run=True, status="success", nodes=(node,))
    assert "- **Status:** success (dry run)" in render_markdown(dry)
    assert "SUCCESS · dry run" in render_html(dry)


def test_markdown_escapes_html_and_fences(story, written_node):
    md = render_markdown(story)
    assert re.search(r"(?<!\\)<script>", md) is None  # every "<" from the data is escaped
    assert "\\<script>" in md
    tricky = dataclasses.replace(written_node, sql_executed=("SELECT '```' AS fence",))
    md = render_markdown(dataclasses.replace(story, nodes=(tricky,), extra={}))
    assert "````sql\nSELECT '```' AS fence\n````" in md


def test_markdown_renders_without_nodes(story):
    md = render_markdown(dataclasses.replace(story, nodes=(), status="running", finished_at=None, extra={}))
    assert "No nodes ran." in md and "- **Duration:** —" in md


def test_markdown_renders_as_expected_html(story):
    import markdown_it  # installed with dagster (rich)
    page = markdown_it.MarkdownIt("commonmark").enable("table").render(render_markdown(story))
    assert "<script>" not in page
    assert "&lt;script&gt;" in page
    assert "<td>a|b</td>" in page


# --- HTML -------------------------------------------------------------------------------------


def test_html_is_one_well_formed_self_contained_page(story):
    page = render_html(story)
    assert page.startswith("<!DOCTYPE html>\n<html lang=\"en\">")
    checker = parse(page)
    assert checker.problems == []
    assert checker.stack == []
    main_structure = {"html", "head", "style", "body", "header", "main", "table", "details", "summary"}
    assert main_structure <= set(checker.tags)
    assert "<script" not in page and "http://" not in page and "https://" not in page


def test_html_escapes_everything(story, written_node):
    evil_node = dataclasses.replace(
        written_node,
        node=EVIL,
        sql_executed=(f"SELECT '{EVIL}'",),
        error=ErrorInfo(type=EVIL, message=EVIL, phase=EVIL, fix=EVIL),
    )
    page = render_html(dataclasses.replace(story, project=EVIL, nodes=(*story.nodes, evil_node)))
    assert "<script" not in page
    assert page.count("&lt;script&gt;") >= 9
    checker = parse(page)
    assert checker.problems == [] and checker.stack == []


def test_html_content_matches_markdown(story):
    page = render_html(story)
    text = " ".join(parse(page).text)
    for expected in (
        "shop / sales", "8f14e45f-ceea-467f-a0e6-123456789abc", "0a1b2c3d", "dev", "pandas",
        "orders_clean", "customers", "revenue", "publish", "1,200", "1,180", "1,188", "7.50 s",
        "silver/orders", "SELECT region, SUM(amount) AS revenue FROM orders_clean GROUP BY region",
        "DataError", "column 'amount' has 3 nulls", "Fill nulls in orders_clean.amount before aggregating.",
        "upstream node revenue failed", "not_null", "quarantine/customers", "Dead letter rows", "Retries",
        "null_pct", "late file", "finance", "int64 not null", EVIL,
    ):
        assert expected in text, expected


def test_html_status_colour_and_open_failed_node(story):
    page = render_html(story)
    assert '<header class="failed">' in page
    assert '<details id="node-3" open>' in page  # revenue failed: expanded
    assert '<details id="node-1">' in page
    assert '<a href="#node-1">orders_clean</a>' in page
    ok = render_html(dataclasses.replace(story, status="success", nodes=story.nodes[:2]))
    assert '<header class="success">' in ok and " open>" not in ok


def test_html_renders_a_running_story_without_nodes(story):
    page = render_html(dataclasses.replace(story, nodes=(), status="running", finished_at=None, extra={}))
    assert '<header class="running">' in page and "No nodes ran." in page
    checker = parse(page)
    assert checker.problems == [] and checker.stack == []


def test_renderers_accept_a_round_tripped_story(story):
    again = RunStory.from_dict(json.loads(render_json(story)))
    assert render_html(again) == render_html(story)
    assert render_markdown(again) == render_markdown(story)
