"""A project with one node, written from the node's YAML block, and the problem its loading
reports: for the config tests of one block of a node."""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from odibi_core.config import load_project
from odibi_core.errors import ConfigError, ConfigProblem


def one_node_project(write_files: Callable[[dict[str, str]], Path], node: str, *,
                     pipeline: str, name: str, engine: str | None = None) -> Path:
    """odibi.yaml with a local connection ``lake`` and pipeline ``pipeline`` holding one node
    ``name`` whose other keys are the YAML ``node``."""
    body = textwrap.indent(textwrap.dedent(node).strip(), " " * 8)
    return write_files({"odibi.yaml": "\n".join([
        "project: demo", *([f"engine: {engine}"] if engine else []), "connections:",
        "  lake: {type: local, base_path: ./lake}", "pipelines:", f"  - pipeline: {pipeline}",
        "    nodes:", f"      - name: {name}", body, ""])})


def problem_of(path: Path, match: str) -> ConfigProblem:
    """The first problem whose message matches ``match`` among those loading ``path`` raises;
    it must name the file, the line and a fix."""
    with pytest.raises(ConfigError) as caught:
        load_project(path, environ={})
    problems = [p for p in caught.value.problems if re.search(match, p.message)]
    assert problems, [p.message for p in caught.value.problems]
    assert problems[0].fix and problems[0].file == path and problems[0].line
    return problems[0]
