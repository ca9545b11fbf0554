"""Fixtures for config tests: small project files written into tmp_path, and a copy of the
``config_full`` fixture project."""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "projects"

MINIMAL = """\
project: demo
connections:
  lake: {type: local, base_path: ./lake}
pipelines:
  - pipeline: sales
    nodes:
      - name: raw
        read: {connection: lake, format: csv, path: raw.csv}
      - name: clean
        depends_on: [raw]
        write: {connection: lake, format: parquet, path: clean}
"""

WriteFiles = Callable[[dict[str, str]], Path]
LineOf = Callable[[Path, str], int]
MinimalWith = Callable[..., Path]


@pytest.fixture
def minimal_yaml() -> str:
    """A small valid project: one pipeline, two nodes."""
    return MINIMAL


@pytest.fixture
def full_environ() -> dict[str, str]:
    """The environment variables the config_full project uses."""
    # An account key is base64 (anything else is refused at load).
    return {"AZURE_KEY": "YXp1cmUtc2VjcmV0LWtleQ==", "CRM_TOKEN": "crm-secret",
            "PII_SALT": "pepper"}


@pytest.fixture
def full_project_dir(tmp_path: Path) -> Path:
    """A copy of tests/fixtures/projects/config_full: every block of SPEC §1-§7, an import, an
    env.prod.yaml, a sql_file and a transforms.py."""
    target = tmp_path / "config_full"
    shutil.copytree(FIXTURES / "config_full", target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


@pytest.fixture
def write_files(tmp_path: Path) -> WriteFiles:
    """``write_files({"odibi.yaml": text, "pipelines/a.yaml": text})`` -> the first file's path.

    Texts are dedented, so they can be indented like the test code."""

    def write(files: dict[str, str]) -> Path:
        paths = []
        for name, text in files.items():
            path = tmp_path / "project" / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text), encoding="utf-8")
            paths.append(path)
        return paths[0]

    return write


@pytest.fixture
def minimal_with(write_files: WriteFiles) -> MinimalWith:
    """``minimal_with((old, new), ..., extra="...")``: the minimal project with text replaced and
    ``extra`` appended as written, saved as odibi.yaml; returns its path."""

    def write(*replacements: tuple[str, str], extra: str = "") -> Path:
        text = MINIMAL
        for old, new in replacements:
            assert old in text, old
            text = text.replace(old, new)
        return write_files({"odibi.yaml": text + extra})

    return write


@pytest.fixture
def line_of() -> LineOf:
    """``line_of(path, snippet)``: the number (1-based) of the only line of the file holding
    ``snippet``."""

    def find(path: Path, snippet: str) -> int:
        text = path.read_text(encoding="utf-8")
        lines = [number for number, line in enumerate(text.splitlines(), 1) if snippet in line]
        assert len(lines) == 1, f"{snippet!r} is on lines {lines} of {path}"
        return lines[0]

    return find
