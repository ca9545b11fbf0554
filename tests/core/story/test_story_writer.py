from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from odibi_core.story import StoryPaths, find_stories, load_story, story_paths, write_story
from odibi_core.story import writer as writer_module


def test_story_paths_layout(tmp_path):
    paths = story_paths(tmp_path, "sales", "2024-05-01T06:00:09.5Z")
    folder = tmp_path / "sales" / "2024-05-01"
    assert paths == StoryPaths(json=folder / "run_060009.json", html=folder / "run_060009.html",
                               md=folder / "run_060009.md")
    assert paths.folder == folder


def test_story_paths_use_utc_and_suffix(tmp_path):
    paths = story_paths(tmp_path, "sales", "2024-05-01T01:30:00+02:00", suffix="8f14e45f")
    assert paths.json == tmp_path / "sales" / "2024-04-30" / "run_233000_8f14e45f.json"


@pytest.mark.parametrize("pipeline", ["", "..", "a/b", "a\\b"])
def test_story_paths_refuse_path_like_pipeline(tmp_path, pipeline):
    with pytest.raises(ValueError, match="must be a plain name"):
        story_paths(tmp_path, pipeline, "2024-05-01T06:00:00Z")


def test_story_paths_refuse_odd_suffix(tmp_path):
    with pytest.raises(ValueError, match="may only hold letters, digits and '-'"):
        story_paths(tmp_path, "sales", "2024-05-01T06:00:00Z", suffix="../x")


def test_write_story_writes_three_files_atomically(tmp_path, story):
    paths = write_story(story, tmp_path)
    assert paths == story_paths(tmp_path, "sales", story.started_at)
    names = sorted(p.name for p in paths.folder.iterdir())
    assert names == ["run_060000.html", "run_060000.json", "run_060000.md"]
    assert load_story(paths.json) == story
    assert paths.md.read_text(encoding="utf-8").startswith("# Run story: shop / sales")
    assert paths.html.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_rewriting_the_same_run_overwrites(tmp_path, story):
    running = dataclasses.replace(story, status="running", finished_at=None, nodes=story.nodes[:1])
    first = write_story(running, tmp_path)
    second = write_story(story, tmp_path)
    assert first == second
    assert load_story(second.json).status == "failed"
    assert len(list(second.folder.iterdir())) == 3


def test_another_run_in_the_same_second_gets_a_suffix(tmp_path, story):
    first = write_story(story, tmp_path)
    # started 0.15 s *before* the first one (clocks of two hosts), but written after it
    other = dataclasses.replace(story, run_id="c0ffee12-3456", started_at="2024-05-01T06:00:00.100Z")
    second = write_story(other, tmp_path)
    assert second.json.name == "run_060000_c0ffee12.json"
    assert load_story(first.json).run_id == story.run_id
    assert load_story(second.json).run_id == "c0ffee12-3456"
    assert find_stories(tmp_path) == [first.json, second.json]  # by the precise start in the files


def test_failed_write_leaves_no_temp_file(tmp_path, story, monkeypatch):
    def boom(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(writer_module.os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        write_story(story, tmp_path)
    folder = story_paths(tmp_path, "sales", story.started_at).folder
    assert list(folder.iterdir()) == []


def test_find_stories_newest_first(tmp_path, story):
    starts = ["2024-05-01T06:00:00Z", "2024-05-02T05:00:00Z", "2024-05-01T23:59:59Z", "2024-05-02T05:00:01Z"]
    written = {}
    for i, start in enumerate(starts):
        pipeline = "sales" if i % 2 == 0 else "crm"
        run = dataclasses.replace(
            story, run_id=f"run{i}", pipeline=pipeline, started_at=start, finished_at=None, status="running"
        )
        written[start] = write_story(run, tmp_path).json
    newest_first = [written[s] for s in sorted(starts, reverse=True)]
    assert find_stories(tmp_path) == newest_first
    sales = [written["2024-05-01T23:59:59Z"], written["2024-05-01T06:00:00Z"]]
    assert find_stories(tmp_path, "sales") == sales
    assert find_stories(tmp_path, "missing") == []
    assert find_stories(tmp_path / "nowhere") == []


def test_find_stories_ignores_other_files(tmp_path, story):
    paths = write_story(story, tmp_path)
    (paths.folder / ".run_060000.json.abcd.tmp").write_text("{}")
    (paths.folder / "notes.json").write_text("{}")
    (tmp_path / "sales" / "latest").mkdir()
    (tmp_path / "sales" / "latest" / "run_010101.json").write_text("{}")
    (tmp_path / "README.md").write_text("stories")
    assert find_stories(tmp_path) == [paths.json]


def test_load_story_refuses_non_objects(tmp_path):
    path = Path(tmp_path / "run_000000.json")
    path.write_text("[1, 2]")
    with pytest.raises(ValueError, match="is not a run story"):
        load_story(path)


def test_written_files_use_umask_permissions(tmp_path, story):
    paths = write_story(story, tmp_path)
    umask = os.umask(0)
    os.umask(umask)
    assert paths.json.stat().st_mode & 0o777 == 0o666 & ~umask
