"""YAML with line marks: data, marks, duplicate keys, syntax errors, key paths."""

from __future__ import annotations

from pathlib import Path

import pytest

from odibi_core.config.environments import deep_merge
from odibi_core.config.yaml_source import (
    Mark,
    SourceMap,
    format_key_path,
    parse_key_path,
    read_yaml,
)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "f.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_data_and_marks(tmp_path: Path) -> None:
    path = write(tmp_path, "a: 1\nb:\n  c: [x, y]\n  d:\n    - e: 2\n      f: 2026-01-01\n")
    document, problems = read_yaml(path)
    assert problems == []
    assert document is not None
    day = document.data["b"]["d"][0]["f"]
    assert document.data == {"a": 1, "b": {"c": ["x", "y"], "d": [{"e": 2, "f": day}]}}
    assert str(day) == "2026-01-01"
    assert document.marks[("a",)] == Mark(path, 1)
    assert document.marks[("b", "c")] == Mark(path, 3)
    assert document.marks[("b", "d", 0)] == Mark(path, 5)
    assert document.marks[("b", "d", 0, "f")] == Mark(path, 6)


def test_anchors_and_merge_keys(tmp_path: Path) -> None:
    path = write(tmp_path, "base: &b {x: 1, y: 2}\nother:\n  <<: *b\n  y: 3\n")
    document, problems = read_yaml(path)
    assert problems == []
    assert document is not None and document.data["other"] == {"x": 1, "y": 3}


def test_duplicate_keys_are_problems(tmp_path: Path) -> None:
    path = write(tmp_path, "a: 1\nb: 2\na: 3\n")
    _, problems = read_yaml(path)
    assert len(problems) == 1
    assert problems[0].message == "Duplicate key 'a' (first written on line 1)."
    assert (problems[0].file, problems[0].line, problems[0].key_path) == (path, 3, "a")


def test_syntax_error_has_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "a: 1\nb: [1, 2\nc: 3\n")
    document, problems = read_yaml(path)
    assert document is None
    assert problems[0].message.startswith("YAML syntax error")
    assert problems[0].file == path and problems[0].line == 3


def test_tabs_get_a_specific_fix(tmp_path: Path) -> None:
    _, problems = read_yaml(write(tmp_path, "a:\n\tb: 1\n"))
    assert problems[0].fix == "Indent with spaces; YAML does not allow tabs."


def test_empty_file(tmp_path: Path) -> None:
    document, problems = read_yaml(write(tmp_path, "# nothing\n"))
    assert problems == [] and document is not None and document.data is None


@pytest.mark.parametrize(
    ("path", "text"),
    [
        (("pipelines", 0, "nodes", 2, "read", "format"), "pipelines[0].nodes[2].read.format"),
        (("connections", "my lake", "type"), 'connections["my lake"].type'),
        (("vars", "a.b"), 'vars["a.b"]'),
        ((), ""),
    ],
)
def test_key_paths_round_trip(path: tuple, text: str) -> None:
    assert format_key_path(path) == text
    assert parse_key_path(text) == path


def test_locate_falls_back_to_the_nearest_parent(tmp_path: Path) -> None:
    marks = {("a",): Mark(tmp_path / "x", 4), (): Mark(tmp_path / "x", 1)}
    source = SourceMap(marks, tmp_path / "d")
    assert source.locate(("a", "b", 0)) == (tmp_path / "x", 4)
    assert source.locate(("z",)) == (tmp_path / "x", 1)
    assert SourceMap({}, tmp_path / "d").locate(("z",)) == (tmp_path / "d", None)


def test_deep_merge_merges_maps_and_replaces_lists(tmp_path: Path) -> None:
    base_file, over_file = tmp_path / "base", tmp_path / "over"
    base = {"m": {"a": 1, "b": [1, 2]}, "l": [1], "s": "x"}
    base_marks = {("m",): Mark(base_file, 1), ("m", "a"): Mark(base_file, 2),
                  ("m", "b"): Mark(base_file, 3), ("m", "b", 0): Mark(base_file, 3),
                  ("m", "b", 1): Mark(base_file, 3), ("l",): Mark(base_file, 4)}
    over = {"m": {"b": [9]}, "s": "y"}
    over_marks = {("m",): Mark(over_file, 1), ("m", "b"): Mark(over_file, 2),
                  ("m", "b", 0): Mark(over_file, 2)}
    data, marks = deep_merge(base, base_marks, over, over_marks)
    assert data == {"m": {"a": 1, "b": [9]}, "l": [1], "s": "y"}
    assert marks[("m", "a")] == Mark(base_file, 2)
    assert marks[("m", "b")] == Mark(over_file, 2)
    assert ("m", "b", 1) not in marks
