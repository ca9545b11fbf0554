"""Every example project runs on every engine and writes the same tables as on pandas: the same
rows, the same column names and the same logical types."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from odibi_core.config import load_project
from odibi_core.engines import get_engine
from odibi_core.node import NodeRunner
from odibi_core.storage.requests import ReadRequest
from odibi_core.testing import assert_frames_equal

from conformance_projects import run_nodes

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
PROJECTS = ["retail"]


def _copy(name: str, target: Path, engine_name: str) -> Path:
    shutil.copytree(EXAMPLES / name, target,
                    ignore=shutil.ignore_patterns("lake*", ".odibi", "__pycache__"))
    project_file = target / "odibi.yaml"
    text = project_file.read_text(encoding="utf-8")
    assert "engine: pandas" in text
    project_file.write_text(text.replace("engine: pandas", f"engine: {engine_name}"),
                            encoding="utf-8")
    return project_file


def _written_tables(project_file: Path) -> dict[str, tuple[list[tuple[str, str]], list[dict]]]:
    """Each written target, read back by the pandas engine: (schema, rows)."""
    project = load_project(project_file)
    reader = get_engine("pandas")
    runner = NodeRunner(project, reader)
    tables: dict[str, Any] = {}
    for key, ref in project.graph.nodes.items():
        write = ref.config.write
        if write is None:
            continue
        frame = reader.read(ReadRequest(location=runner.target_location(key),
                                        format=write.format))
        tables[key] = ([(c.name, c.type) for c in reader.schema(frame)], reader.to_rows(frame))
    return tables


@pytest.fixture(scope="module", params=PROJECTS)
def reference(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """The example run on pandas: its name and the tables it writes."""
    project_file = _copy(request.param, tmp_path_factory.mktemp("reference") / request.param,
                         "pandas")
    runs = run_nodes(project_file, get_engine("pandas"))
    assert all(r.succeeded for r in runs.values()), [r.result.error for r in runs.values()]
    return request.param, _written_tables(project_file)


def test_example_writes_the_same_tables_on_every_engine(engine, reference, tmp_path):
    name, expected = reference
    project_file = _copy(name, tmp_path / name, engine.name)
    runs = run_nodes(project_file, engine)
    failed = {n: r.result.error for n, r in runs.items() if not r.succeeded}
    assert not failed, failed
    got = _written_tables(project_file)
    assert sorted(got) == sorted(expected)
    reader = get_engine("pandas")
    for key, (schema, rows) in expected.items():
        got_schema, got_rows = got[key]
        assert got_schema == schema, f"{key}: {got_schema} != {schema}"
        assert_frames_equal(reader, reader.from_rows(got_rows, dict(schema)), rows,
                            schema=dict(schema), rel_tol=1e-9)
