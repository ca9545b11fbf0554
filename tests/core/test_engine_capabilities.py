"""Engines are known by name only in engines/ and the capability table; everything else asks
for a capability."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import get_args

import pytest

from odibi_core.config.project import ProjectConfig
from odibi_core.engine_capabilities import CAPABILITIES, capabilities_of
from odibi_core.engines import ENGINES, get_engine

REPO = Path(__file__).resolve().parents[2]
NAMES = set(CAPABILITIES)


def test_every_engine_has_capabilities_and_the_project_file_accepts_it() -> None:
    assert set(ENGINES) == NAMES
    engine_field = ProjectConfig.model_fields["engine"].annotation
    assert set(get_args(engine_field)) == NAMES


@pytest.mark.parametrize("name", ["pandas", "polars"])
def test_an_engine_reports_its_own_capabilities(name: str) -> None:
    engine = get_engine(name)
    assert engine.capabilities is capabilities_of(name)
    assert engine.supports_streaming == capabilities_of(name).streaming


def test_an_unknown_engine_has_no_capabilities() -> None:
    with pytest.raises(ValueError, match="Unknown engine 'duck'"):
        capabilities_of("duck")


def _name_comparisons(path: Path) -> list[str]:
    """``x == "spark"``-style comparisons (and ``in ("pandas", ...)``) in ``path``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Compare):
            continue
        operands = [node.left, *node.comparators]
        literals = [c.value for o in operands for c in ast.walk(o)
                    if isinstance(c, ast.Constant) and isinstance(c.value, str)]
        if NAMES & set(literals):
            found.append(f"{path.relative_to(REPO)}:{node.lineno}")
    return found


def test_no_engine_name_checks_outside_the_engines() -> None:
    allowed = {REPO / "odibi_core" / "engine_capabilities.py"}
    files = [p for package in ("odibi_core", "odibi_dagster")
             for p in (REPO / package).rglob("*.py")
             if "engines" not in p.relative_to(REPO).parts and p not in allowed]
    checks = [hit for path in files for hit in _name_comparisons(path)]
    assert checks == [], "Ask odibi_core.engine_capabilities instead: " + ", ".join(checks)
