"""Materializations as strategies: every materialization a node plan can name has one, and
NodeRunner runs a node through the strategy its plan names."""

from __future__ import annotations

from typing import Any, get_args

import pytest

from odibi_core.config import load_project
from odibi_core.config.node_plan import Materialization as MaterializationName
from odibi_core.engines import get_engine
from odibi_core.materializations import STRATEGIES, strategy_for
from odibi_core.materializations.table import TableMaterialization
from odibi_core.node import NodeRunner, RunContext
from odibi_core.runs import RunMeta, RunRecords, system_root


def test_every_materialization_of_the_plan_has_a_strategy() -> None:
    assert set(STRATEGIES) == set(get_args(MaterializationName))
    for name in get_args(MaterializationName):
        assert strategy_for(name).name == name


def test_only_streaming_runs_the_whole_node() -> None:
    assert [name for name, s in STRATEGIES.items() if s.runs_node] == ["streaming"]


def test_the_runner_writes_through_the_strategy(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "o.csv").write_text("id,amount\n1,10\n2,20\n", encoding="utf-8")
    (tmp_path / "odibi.yaml").write_text(
        "project: p\nengine: pandas\nconnections:\n"
        "  src: {type: local, base_path: ./src}\n  lake: {type: local, base_path: ./lake}\n"
        "system: {connection: lake, path: _system}\n"
        "pipelines:\n  - pipeline: p\n    nodes:\n      - name: n\n"
        "        read: {connection: src, format: csv, path: o.csv}\n"
        "        write: {connection: lake, format: parquet, path: out}\n", encoding="utf-8")
    seen: list[Any] = []

    class FirstRowOnly(TableMaterialization):  # a new materialization is a new class
        def prepare(self, runner, ref, frame, plan, trace):  # type: ignore[no-untyped-def]
            seen.append(plan.mode)
            return runner.engine.head(frame, 1)

    monkeypatch.setitem(STRATEGIES, "table", FirstRowOnly())
    project = load_project(tmp_path / "odibi.yaml")
    RunRecords(system_root(project)).start(RunMeta(
        run_id="r1", project="p", started_at="2026-01-01T00:00:00Z", engine="pandas"))
    run = NodeRunner(project, get_engine("pandas")).run(
        "p.n", inputs={}, context=RunContext(run_id="r1"))
    assert run.succeeded, run.result.error
    assert seen == ["overwrite"]
    assert run.result.write is not None and run.result.write.rows_written == 1
