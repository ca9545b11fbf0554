"""ProjectGraph: edges from depends_on, inputs and SQL; order; selection; disabled nodes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from odibi_core.config import ProjectConfig
from odibi_core.errors import ConfigError
from odibi_core.graph import ProjectGraph, Upstream, find_graph_problems


def read(path: str) -> dict[str, Any]:
    return {"connection": "lake", "format": "csv", "path": path}


def config(*pipelines: dict[str, Any]) -> ProjectConfig:
    return ProjectConfig.model_validate({
        "project": "demo",
        "connections": {"lake": {"type": "local", "base_path": "."}},
        "pipelines": list(pipelines),
    })


def sql(*steps: str) -> dict[str, Any]:
    return {"steps": list(steps)}


RETAIL = config(
    {"pipeline": "crm", "nodes": [
        {"name": "customers", "read": read("customers.csv"), "tags": ["daily"]},
    ]},
    {"pipeline": "sales", "nodes": [
        {"name": "raw_orders", "read": read("orders.csv"), "tags": ["daily", "raw"]},
        {"name": "returns", "read": read("returns.csv")},
        {"name": "clean_orders", "depends_on": ["raw_orders"], "inputs": {"cust": "$crm.customers"},
         "transform": sql("SELECT * FROM df JOIN cust USING (id) "
                          "WHERE id NOT IN (SELECT id FROM Returns)"),
         "tags": ["daily"]},
        {"name": "totals",
         "transform": sql("SELECT SUM(amount) FROM clean_orders -- not raw_orders")},
        {"name": "report", "depends_on": ["totals"], "enabled": False,
         "transform": sql("SELECT 'raw_orders' AS source, * FROM df")},
        {"name": "audit", "read": read("audit.csv"), "tags": ["weekly"]},
    ]},
)


@pytest.fixture
def graph() -> ProjectGraph:
    return ProjectGraph.build(RETAIL)


def test_nodes_in_declaration_order(graph: ProjectGraph) -> None:
    assert list(graph.nodes) == ["crm.customers", "sales.raw_orders", "sales.returns",
                                 "sales.clean_orders", "sales.totals", "sales.report",
                                 "sales.audit"]
    ref = graph.node("sales.clean_orders")
    assert (ref.pipeline, ref.name, ref.index, ref.key) == (
        "sales", "clean_orders", 2, "sales.clean_orders")
    assert ref.config is RETAIL.pipelines[1].nodes[2]


def test_upstream_depends_on_then_inputs_then_sql(graph: ProjectGraph) -> None:
    assert graph.upstream("sales.clean_orders") == [
        Upstream("sales.raw_orders", "raw_orders", "depends_on"),
        Upstream("crm.customers", "cust", "inputs"),
        Upstream("sales.returns", "returns", "sql"),  # case-insensitive, whole word
    ]
    # comments and string literals do not count
    assert graph.upstream("sales.totals") == [Upstream("sales.clean_orders", "clean_orders", "sql")]
    assert graph.upstream("sales.report") == [Upstream("sales.totals", "totals", "depends_on")]


def test_sql_inference_never_reaches_later_nodes_or_itself() -> None:
    graph = ProjectGraph.build(config({"pipeline": "p", "nodes": [
        {"name": "a", "read": read("a"), "transform": sql("SELECT b, a FROM df")},
        {"name": "b", "read": read("b"), "transform": sql("SELECT a_b, ab, a FROM df")},
        {"name": "c", "depends_on": ["a"], "transform": sql("SELECT * FROM a JOIN b USING (id)")},
    ]}))
    assert graph.upstream("p.a") == []
    assert graph.upstream("p.b") == [Upstream("p.a", "a", "sql")]
    # a is already upstream through depends_on: not repeated as sql
    assert graph.upstream("p.c") == [Upstream("p.a", "a", "depends_on"),
                                     Upstream("p.b", "b", "sql")]


def test_an_inputs_alias_shadows_an_earlier_node_in_sql() -> None:
    graph = ProjectGraph.build(config(
        {"pipeline": "p", "nodes": [
            {"name": "customers", "read": read("c")},
            {"name": "orders", "inputs": {"customers": "$q.customers"},
             "transform": sql("SELECT * FROM customers")},
        ]},
        {"pipeline": "q", "nodes": [{"name": "customers", "read": read("qc")}]},
    ))
    assert graph.upstream("p.orders") == [Upstream("q.customers", "customers", "inputs")]


def test_sql_files_are_read_relative_to_base_dir(tmp_path: Path) -> None:
    (tmp_path / "q.sql").write_text("SELECT * FROM first_node", encoding="utf-8")
    project = config({"pipeline": "p", "nodes": [
        {"name": "first_node", "read": read("a")},
        {"name": "second", "read": read("b"), "transform": {"steps": [{"sql_file": "q.sql"}]}},
    ]})
    assert ProjectGraph.build(project).upstream("p.second") == []
    assert ProjectGraph.build(project, base_dir=tmp_path).upstream("p.second") == [
        Upstream("p.first_node", "first_node", "sql")]


def test_downstream(graph: ProjectGraph) -> None:
    assert graph.downstream("sales.raw_orders") == ["sales.clean_orders"]
    assert graph.downstream("crm.customers") == ["sales.clean_orders"]
    assert graph.downstream("sales.clean_orders") == ["sales.totals"]
    assert graph.downstream("sales.audit") == []


def test_topological_order_is_stable(graph: ProjectGraph) -> None:
    assert graph.topological_order() == [
        "crm.customers", "sales.raw_orders", "sales.returns", "sales.clean_orders",
        "sales.totals", "sales.report", "sales.audit"]


def test_topological_order_puts_upstream_first_across_pipelines() -> None:
    graph = ProjectGraph.build(config(
        {"pipeline": "gold", "nodes": [{"name": "report", "inputs": {"o": "$silver.orders"}},
                                       {"name": "other", "read": read("x")}]},
        {"pipeline": "silver", "nodes": [{"name": "orders", "read": read("o")}]},
    ))
    assert graph.topological_order() == ["gold.other", "silver.orders", "gold.report"]
    # upstream nodes outside the keys asked for do not constrain the order
    assert graph.topological_order(["gold.other", "gold.report"]) == ["gold.report", "gold.other"]


def test_topological_order_reports_a_cycle() -> None:
    graph = ProjectGraph.build(config({"pipeline": "p", "nodes": [
        {"name": "a", "depends_on": ["b"]}, {"name": "b", "depends_on": ["a"]}]}))
    with pytest.raises(ConfigError, match="Dependency cycle: p.a → p.b → p.a"):
        graph.topological_order()


def test_select_everything_by_default(graph: ProjectGraph) -> None:
    assert graph.select() == graph.topological_order()


def test_select_by_pipeline(graph: ProjectGraph) -> None:
    assert graph.select(pipelines=["crm"]) == ["crm.customers"]
    # include_upstream pulls crm.customers into a selection of sales
    assert "crm.customers" in graph.select(pipelines=["sales"])
    assert "crm.customers" not in graph.select(pipelines=["sales"], include_upstream=False)


def test_select_by_node(graph: ProjectGraph) -> None:
    assert graph.select(nodes=["totals"]) == ["crm.customers", "sales.raw_orders", "sales.returns",
                                              "sales.clean_orders", "sales.totals"]
    assert graph.select(nodes=["sales.totals"], include_upstream=False) == ["sales.totals"]
    assert graph.select(nodes=["audit", "customers"], include_upstream=False) == [
        "crm.customers", "sales.audit"]


def test_select_by_tag_union_within_intersection_across(graph: ProjectGraph) -> None:
    assert graph.select(tags=["raw", "weekly"], include_upstream=False) == [
        "sales.raw_orders", "sales.audit"]
    assert graph.select(tags=["daily"], include_upstream=False) == [
        "crm.customers", "sales.raw_orders", "sales.clean_orders"]
    assert graph.select(pipelines=["sales"], tags=["daily"], include_upstream=False) == [
        "sales.raw_orders", "sales.clean_orders"]
    assert graph.select(pipelines=["crm"], nodes=["audit"]) == []


def test_select_unknown_names_suggest(graph: ProjectGraph) -> None:
    with pytest.raises(ConfigError, match=r"Unknown node 'totls'. Did you mean 'totals'\?"):
        graph.select(nodes=["totls"])
    with pytest.raises(ConfigError, match=r"Unknown pipeline 'sale'. Did you mean 'sales'\?"):
        graph.select(pipelines=["sale"])
    with pytest.raises(ConfigError, match=r"Unknown tag 'dialy'. Did you mean 'daily'\?"):
        graph.select(tags=["dialy"])


def test_select_ambiguous_bare_name() -> None:
    graph = ProjectGraph.build(config(
        {"pipeline": "a", "nodes": [{"name": "orders", "read": read("x")}]},
        {"pipeline": "b", "nodes": [{"name": "orders", "read": read("y")}]},
    ))
    with pytest.raises(ConfigError, match="Node name 'orders' is in several pipelines: "
                                          "a.orders, b.orders") as caught:
        graph.select(nodes=["orders"])
    assert caught.value.problems[0].fix == "Name the node with its pipeline: a.orders or b.orders."
    assert graph.select(nodes=["b.orders"]) == ["b.orders"]


def test_disabled_includes_everything_downstream() -> None:
    graph = ProjectGraph.build(config(
        {"pipeline": "p", "nodes": [
            {"name": "a", "read": read("a")},
            {"name": "b", "depends_on": ["a"], "enabled": False},
            {"name": "c", "transform": sql("SELECT * FROM b")},
            {"name": "d", "depends_on": ["a"]},
        ]},
        {"pipeline": "q", "nodes": [{"name": "e", "inputs": {"c": "$p.c"}}]},
    ))
    assert graph.disabled() == {"p.b", "p.c", "q.e"}


def test_input_source(graph: ProjectGraph) -> None:
    assert graph.input_source("sales.clean_orders") == "sales.raw_orders"
    assert graph.input_source("sales.raw_orders") is None  # it reads
    assert graph.input_source("sales.totals") is None  # SQL only


def test_unknown_key_lookup(graph: ProjectGraph) -> None:
    with pytest.raises(KeyError, match="Did you mean 'sales.totals'"):
        graph.node("sales.total")


def test_find_graph_problems_key_paths() -> None:
    problems = find_graph_problems(config(
        {"pipeline": "p", "nodes": [
            {"name": "a", "depends_on": ["c"]},
            {"name": "b", "inputs": {"x": "$q.nope"}},
            {"name": "c", "depends_on": ["a"]},
            {"name": "b"},
        ]},
        {"pipeline": "p", "nodes": [{"name": "z", "read": read("z")}]},
    ))
    assert [(p.key_path, p.related) for p in problems] == [
        ("pipelines[0].nodes[3].name", "pipelines[0].nodes[1]"),
        ("pipelines[1].pipeline", "pipelines[0]"),
        ("pipelines[0].nodes[1].inputs.x", None),
        ("pipelines[0].nodes[3]", None),
        ("pipelines[0].nodes[0].depends_on[0]", None),
    ]
    assert problems[3].message == ("[p.b] Nothing to read: the node has no read, no depends_on "
                                   "and no inputs.")
    assert problems[4].message == "Dependency cycle: p.a → p.c → p.a."


def test_a_node_reading_earlier_nodes_in_sql_has_something_to_read() -> None:
    problems = find_graph_problems(config({"pipeline": "p", "nodes": [
        {"name": "a", "read": read("a")}, {"name": "b", "transform": sql("SELECT * FROM a")}]}))
    assert problems == []
