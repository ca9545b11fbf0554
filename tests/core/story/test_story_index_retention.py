"""The per-pipeline index page and story retention by age and by count."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timezone
from html.parser import HTMLParser
from pathlib import Path

from odibi_core.config import load_project
from odibi_core.story import RunStory, find_stories, write_story
from odibi_core.story.writer import apply_retention

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=timezone.utc)


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.hrefs += [value for name, value in attrs if tag == "a" and name == "href" and value]


def _run(story: RunStory, day: int, hour: int, run_id: str, status: str = "success") -> RunStory:
    start = f"2024-05-{day:02d}T{hour:02d}:00:00Z"
    return dataclasses.replace(story, run_id=run_id, started_at=start, finished_at=start,
                               status=status)  # type: ignore[arg-type]


def test_index_lists_every_run_newest_first_with_working_links(story: RunStory, tmp_path: Path) -> None:
    for day, run_id, status in ((1, "r1", "success"), (3, "r3", "failed"), (2, "r2", "success")):
        write_story(_run(story, day, 6, run_id, status), tmp_path, now=NOW)
    index = tmp_path / "sales" / "index.html"
    page = index.read_text(encoding="utf-8")
    links = Links()
    links.feed(page)
    assert links.hrefs == ["2024-05-03/run_060000.html", "2024-05-02/run_060000.html",
                           "2024-05-01/run_060000.html"]
    assert all((index.parent / href).is_file() for href in links.hrefs)
    assert page.index("r3") < page.index("r2") < page.index("r1")
    assert '<span class="badge failed">failed</span>' in page and "latest failed" in page
    assert "1,188" in page  # rows written
    assert "<script" not in page


def test_retention_by_count_keeps_the_newest(story: RunStory, tmp_path: Path) -> None:
    for day in range(1, 6):
        write_story(_run(story, day, 6, f"r{day}"), tmp_path, retention_runs=3, now=NOW)
    kept = find_stories(tmp_path, "sales")
    assert [p.parent.name for p in kept] == ["2024-05-05", "2024-05-04", "2024-05-03"]
    assert sorted(p.name for p in (tmp_path / "sales").iterdir()) == [
        "2024-05-03", "2024-05-04", "2024-05-05", "index.html"]  # emptied date folders removed
    assert "2024-05-02" not in (tmp_path / "sales" / "index.html").read_text(encoding="utf-8")


def test_retention_by_days_never_deletes_the_story_just_written(story: RunStory, tmp_path: Path) -> None:
    for day in (1, 20, 30):
        write_story(_run(story, day, 6, f"r{day}"), tmp_path, now=NOW)
    # Re-publishing an old run (a resumed story) with a 7-day limit: the old ones go, it stays.
    old = write_story(_run(story, 1, 6, "r1"), tmp_path, retention_days=7, now=NOW)
    kept = find_stories(tmp_path, "sales")
    assert kept == [tmp_path / "sales" / "2024-05-30" / "run_060000.json", old.json]
    assert old.html.is_file() and old.md.is_file()
    assert not (tmp_path / "sales" / "2024-05-20").exists()


def test_retention_leaves_other_pipelines_and_needs_a_limit(story: RunStory, tmp_path: Path) -> None:
    other = dataclasses.replace(_run(story, 1, 6, "o1"), pipeline="finance")
    write_story(other, tmp_path, now=NOW)
    write_story(_run(story, 2, 6, "r2"), tmp_path, retention_runs=1, now=NOW)
    write_story(_run(story, 3, 6, "r3"), tmp_path, retention_runs=1, now=NOW)
    assert len(find_stories(tmp_path, "finance")) == 1
    assert len(find_stories(tmp_path, "sales")) == 1
    assert apply_retention(tmp_path, "finance", days=None, runs=None) == []


def test_story_config_has_retention_by_days_and_runs(tmp_path: Path) -> None:
    (tmp_path / "odibi.yaml").write_text(
        "project: r\nconnections: {lake: {type: local, base_path: ./lake}}\n"
        "story: {connection: lake, path: s, retention_days: 7, retention_runs: 20}\n"
        "pipelines: [{pipeline: p, nodes: [{name: a, read: {connection: lake, format: csv, "
        "path: a.csv}}]}]\n", encoding="utf-8")
    story = load_project(tmp_path / "odibi.yaml").config.story
    assert (story.retention_days, story.retention_runs) == (7, 20)
