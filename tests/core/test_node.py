"""NodeRunner: one node's lifecycle on real files, its result record, and its failures."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from odibi_core.config import load_project
from odibi_core.engines import get_engine
from odibi_core.node import NodeRunner, RunContext

PROJECT = """\
project: unit
connections:
  src: {type: local, base_path: ./src}
  out: {type: local, base_path: ./out}
story: {connection: out, path: _stories, max_sample_rows: 2}
pipelines:
  - pipeline: p
    nodes:
      - name: people
        read: {connection: src, format: csv, path: people.csv}
        transform:
          steps:
            - SELECT id, upper(name) AS name, age FROM df WHERE age >= 18
        write: {connection: out, format: delta, path: people}
      - name: stats
        depends_on: [people]
        transformer: aggregate
        params: {group_by: [], aggregations: {adults: count(*), mean_age: avg(age)}}
%EXTRA%
"""


def make_project(tmp_path: Path, extra: str = "") -> Path:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "people.csv").write_text(
        "id,name,age\n1,ada,36\n2,tim,12\n3,grace,45\n4,alan,41\n", encoding="utf-8")
    body = PROJECT.replace("%EXTRA%", textwrap.indent(textwrap.dedent(extra), " " * 8))
    (tmp_path / "odibi.yaml").write_text(body, encoding="utf-8")
    return tmp_path / "odibi.yaml"


def runner_for(path: Path) -> NodeRunner:
    project = load_project(path)
    return NodeRunner(project, get_engine(project.config.engine))


def test_success_result_records_every_phase(tmp_path: Path) -> None:
    runner = runner_for(make_project(tmp_path))
    run = runner.run("p.people", inputs={}, context=RunContext(run_id="r1"))
    assert run.succeeded, run.result.error
    result = run.result
    assert (result.rows_in, result.rows_out, result.rows_written) == (4, 3, 3)
    assert [c.name for c in result.schema_in] == ["id", "name", "age"]
    assert [c.name for c in result.schema_out] == ["id", "name", "age"]
    assert [t.phase for t in result.timings] == ["read", "transform", "write"]
    assert result.sql_executed == ("SELECT id, upper(name) AS name, age FROM df WHERE age >= 18",)
    assert len(result.sample_rows) == 2  # story.max_sample_rows
    assert result.sample_rows[0]["name"] == "ADA"
    assert result.write is not None and result.write.delta_version == 0
    assert result.write.location.endswith("people")

    # Downstream gets the frame through the written target, as another process would.
    upstream = runner.read_target("p.people")
    stats = runner.run("p.stats", inputs={"people": upstream}, context=RunContext(run_id="r1"))
    assert stats.succeeded, stats.result.error
    assert runner.engine.sample(stats.output, 5) == [{"adults": 3, "mean_age": pytest.approx(40.666, 0.001)}]
    assert stats.result.write is None and stats.result.rows_written == 0


def test_dry_run_reads_and_transforms_but_writes_nothing(tmp_path: Path) -> None:
    runner = runner_for(make_project(tmp_path))
    run = runner.run("p.people", inputs={}, context=RunContext(run_id="r1", dry_run=True))
    assert run.succeeded and run.result.dry_run
    assert run.result.rows_out == 3 and run.result.write is None
    assert not (tmp_path / "out" / "people").exists()


def test_failure_is_a_result_with_phase_and_fix_and_writes_nothing(tmp_path: Path) -> None:
    path = make_project(tmp_path)
    path.write_text(path.read_text().replace("upper(name)", "upper(nme)"), encoding="utf-8")
    runner = runner_for(path)
    run = runner.run("p.people", inputs={}, context=RunContext(run_id="r1"))
    assert not run.succeeded
    error = run.result.error
    assert error is not None and error.phase == "transform" and not error.transient
    assert "nme" in error.message and error.fix
    assert run.result.rows_in == 4 and run.result.rows_out is None
    assert run.exception is not None and "p.people" in str(run.exception)
    assert not (tmp_path / "out" / "people").exists()


def test_missing_source_fails_in_read_naming_the_location(tmp_path: Path) -> None:
    path = make_project(tmp_path)
    (tmp_path / "src" / "people.csv").unlink()
    run = runner_for(path).run("p.people", inputs={}, context=RunContext(run_id="r1"))
    assert run.result.error is not None and run.result.error.phase == "read"
    assert "people.csv" in run.result.error.message
