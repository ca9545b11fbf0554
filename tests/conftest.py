"""Shared fixtures: real example projects copied into a temporary folder, a temporary
DAGSTER_HOME for every test."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"


def copy_example(name: str, target: Path) -> Path:
    """Copy ``examples/<name>`` (without outputs or state) to ``target`` and return the copy."""
    shutil.copytree(EXAMPLES / name, target,
                    ignore=shutil.ignore_patterns("lake*", ".odibi", "__pycache__"))
    return target


@pytest.fixture
def retail(tmp_path: Path) -> Path:
    """A fresh copy of examples/retail; outputs go under it."""
    return copy_example("retail", tmp_path / "retail")


@pytest.fixture(autouse=True)
def dagster_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n", encoding="utf-8")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.delenv("ODIBI_ENV", raising=False)
    monkeypatch.delenv("ODIBI_PROJECT", raising=False)
    yield home


@pytest.fixture(autouse=True)
def fresh_transform_registry() -> Iterator[None]:
    """Each test's project registers its own transforms.py; forget them afterwards."""
    from odibi_core.transforms.registry import clear_user_transforms

    yield
    clear_user_transforms()
