"""How materializations flow through Dagster: a view node stores nothing and is computed on read
in another step process; a Spark project runs every asset of a run in one SparkSession."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import dagster as dg
import pytest
from deltalake import DeltaTable

from odibi_core.config import load_project
from odibi_dagster.execution import run_project
from odibi_dagster.executors import spark_in_process_executor

VIEW_PROJECT = """\
project: views
connections:
  src: {type: local, base_path: ./src}
  lake: {type: local, base_path: ./lake}
system: {connection: lake, path: _system}
pipelines:
  - pipeline: p
    nodes:
      - name: orders
        read: {connection: src, format: csv, path: orders.csv}
        write: {connection: lake, format: delta, path: orders}
      - name: big_orders
        depends_on: [orders]
        materialized: view
        transform: {steps: ["SELECT id, amount FROM orders WHERE amount > 10"]}
      - name: total
        depends_on: [big_orders]
        transform: {steps: ["SELECT sum(amount) AS total, count(*) AS n FROM big_orders"]}
        write: {connection: lake, format: delta, path: total}
"""


def test_view_node_is_computed_on_read_across_step_processes(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "orders.csv").write_text("id,amount\n1,5\n2,20\n3,30\n",
                                                 encoding="utf-8")
    (tmp_path / "odibi.yaml").write_text(VIEW_PROJECT, encoding="utf-8")
    project = load_project(tmp_path / "odibi.yaml")
    outcome = run_project(project, ["p.orders", "p.big_orders", "p.total"],
                          executor="multiprocess")
    assert outcome.success
    total = DeltaTable(str(tmp_path / "lake" / "total")).to_pyarrow_table().to_pylist()
    assert total == [{"total": 50, "n": 2}]
    stored = [p for p in (tmp_path / "lake").rglob("*big_orders*")
              if "runs" not in p.relative_to(tmp_path / "lake").parts]  # run records aside
    assert stored == []  # no table, no intermediate file: the view was recomputed downstream
    view = next(r for r in outcome.results if r.node == "big_orders")
    assert view.status == "success" and view.write is None and view.extra["view"] == "big_orders"


def test_spark_project_runs_in_one_session(retail: Path, spark_session) -> None:
    text = (retail / "odibi.yaml").read_text(encoding="utf-8")
    (retail / "odibi.yaml").write_text(
        text.replace("engine: pandas", textwrap.dedent("""\
            engine: spark
            spark_config: {spark.sql.shuffle.partitions: 3, odibi.test.marker: from-project}""")),
        encoding="utf-8")
    project = load_project(retail / "odibi.yaml")
    defs_executor = __import__("odibi_dagster.definitions", fromlist=["x"]) \
        .defs_from_loaded_project(project).resolve_job_def("__ASSET_JOB").executor_def
    assert defs_executor is spark_in_process_executor
    outcome = run_project(project, list(project.graph.topological_order()))
    assert outcome.success, [r.error for r in outcome.results if r.error]
    silver = DeltaTable(str(retail / "lake" / "silver" / "orders")).to_pyarrow_table()
    assert sorted(silver.column("order_id").to_pylist()) == [1001, 1002, 1003, 1005, 1006, 1008]
    assert {r.engine for r in outcome.results} == {"spark"}
    # The project's spark_config reached the one session every asset used.
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    assert active is spark_session or active._jsparkSession == spark_session._jsparkSession
    assert active.conf.get("odibi.test.marker") == "from-project"
    assert active.conf.get("spark.sql.shuffle.partitions") == "3"
    shutil.rmtree(retail / "lake", ignore_errors=True)


def test_polars_streaming_project_runs_through_dagster(retail: Path) -> None:
    """`polars: {streaming: true}` reaches the engine of every step process (the resource is
    rebuilt from its config there), and the example's outputs are the same as in memory."""
    from odibi_dagster.definitions import engine_resources_for

    text = (retail / "odibi.yaml").read_text(encoding="utf-8")
    (retail / "odibi.yaml").write_text(
        text.replace("engine: pandas", "engine: polars\npolars: {streaming: true}"),
        encoding="utf-8")
    project = load_project(retail / "odibi.yaml")
    assert engine_resources_for(project)["odibi_engine"].get_engine().streaming is True
    outcome = run_project(project, list(project.graph.topological_order()),
                          executor="multiprocess")
    assert outcome.success, [r.error for r in outcome.results if r.error]
    silver = DeltaTable(str(retail / "lake" / "silver" / "orders")).to_pyarrow_table()
    assert sorted(silver.column("order_id").to_pylist()) == [1001, 1002, 1003, 1005, 1006, 1008]
    assert {r.engine for r in outcome.results} == {"polars"}
    orders = next(r for r in outcome.results if r.node == "clean_orders")
    assert orders.rows_out == orders.rows_written == 6 and orders.sample_rows


TARGET_PROJECT = """\
project: targets
engine: {engine}
connections:
  src: {{type: local, base_path: ./src}}
  lake: {{type: local, base_path: ./lake}}
system: {{connection: lake, path: _system}}
pipelines:
  - pipeline: p
    nodes:
      - name: orders
        read: {{connection: src, format: csv, path: orders.csv}}
        write: {{connection: lake, format: delta, path: silver/orders}}
"""


@pytest.mark.parametrize("engine", ["pandas", "polars", "spark"])
def test_materialization_target_is_the_definitions_connection_and_path(
        tmp_path: Path, engine: str, request: pytest.FixtureRequest) -> None:
    """A materialization's ``odibi/target`` names the target like the asset definition does
    (``connection:path``), not ``connection:format``."""
    from odibi_dagster.definitions import defs_from_loaded_project
    from odibi_dagster.project_env import project_environment
    from odibi_dagster.instance import open_instance

    if engine == "spark":
        request.getfixturevalue("spark_session")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "orders.csv").write_text("id,amount\n1,5\n2,20\n", encoding="utf-8")
    (tmp_path / "odibi.yaml").write_text(TARGET_PROJECT.format(engine=engine),
                                         encoding="utf-8")
    project = load_project(tmp_path / "odibi.yaml")
    key = dg.AssetKey(["p", "orders"])
    spec = defs_from_loaded_project(project).resolve_assets_def(key).specs_by_key[key]
    assert spec.metadata["odibi/target"] == "lake:silver/orders"

    outcome = run_project(project, ["p.orders"])

    assert outcome.success, [r.error for r in outcome.results if r.error]
    with project_environment(project), open_instance() as instance:
        event = instance.get_latest_materialization_event(key)
    assert event is not None and event.asset_materialization is not None
    metadata = event.asset_materialization.metadata
    assert metadata["odibi/target"].value == spec.metadata["odibi/target"]
    assert metadata["odibi/engine"].value == engine
