"""The project as Dagster definitions: keys, groups, deps, tags, kinds, metadata, stories."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
from deltalake import DeltaTable

from odibi_dagster import OdibiTranslator, defs_from_project

RETAIL_NODES = {
    ("bronze", "raw_orders"), ("bronze", "raw_customers"), ("bronze", "raw_products"),
    ("sales", "clean_customers"), ("sales", "clean_orders"), ("sales", "revenue_by_country"),
    ("sales", "daily_sales"),
}


def _graph(defs: dg.Definitions) -> dg.AssetGraph:  # type: ignore[name-defined]
    return defs.resolve_asset_graph()


def test_one_asset_per_node_keyed_pipeline_node(retail: Path) -> None:
    defs = defs_from_project(retail / "odibi.yaml")
    dg.Definitions.validate_loadable(defs)
    keys = {tuple(k.path) for k in _graph(defs).get_all_asset_keys()}
    assert keys == RETAIL_NODES


def test_groups_deps_tags_kinds(retail: Path) -> None:
    graph = _graph(defs_from_project(retail / "odibi.yaml"))
    orders = graph.get(dg.AssetKey(["sales", "clean_orders"]))
    assert orders.group_name == "sales"
    # depends_on, two cross-pipeline inputs:
    assert {tuple(k.path) for k in orders.parent_keys} == {
        ("sales", "clean_customers"), ("bronze", "raw_orders"), ("bronze", "raw_products")}
    assert "daily" in orders.tags
    assert orders.kinds == {"pandas", "delta"}
    revenue = graph.get(dg.AssetKey(["sales", "revenue_by_country"]))
    assert revenue.kinds == {"pandas", "parquet"}
    assert {"daily", "finance"} <= set(revenue.tags)
    assert "Orders and revenue" in (revenue.description or "")


def test_translator_subclass_changes_keys_and_deps_follow(retail: Path) -> None:
    class Prefixed(OdibiTranslator):
        def get_asset_spec(self, project, node):  # type: ignore[no-untyped-def]
            spec = super().get_asset_spec(project, node)
            return spec.replace_attributes(key=spec.key.with_prefix("acme"),
                                           owners=["team:data-eng"])

    graph = _graph(defs_from_project(retail / "odibi.yaml", translator=Prefixed()))
    orders = graph.get(dg.AssetKey(["acme", "sales", "clean_orders"]))
    assert dg.AssetKey(["acme", "bronze", "raw_orders"]) in orders.parent_keys
    assert orders.owners == ["team:data-eng"]


def _materialize(defs: dg.Definitions, selection: str | None = None) -> dg.ExecuteInProcessResult:
    job = defs.resolve_implicit_global_asset_job_def()
    keys = None
    if selection:
        keys = list(dg.AssetSelection.from_string(selection).resolve(defs.resolve_asset_graph()))
    with dg.DagsterInstance.ephemeral() as instance:
        return job.execute_in_process(instance=instance, asset_selection=keys,
                                      raise_on_error=False)


def test_materialize_everything_writes_targets_metadata_and_story(retail: Path) -> None:
    result = _materialize(defs_from_project(retail / "odibi.yaml"))
    assert result.success
    events = {tuple(e.asset_key.path): e.materialization.metadata
              for e in result.get_asset_materialization_events()}
    assert set(events) == RETAIL_NODES

    orders_meta = events[("sales", "clean_orders")]
    silver = DeltaTable(str(retail / "lake" / "silver" / "orders")).to_pandas()
    # 10 order versions -> 8 orders -> 7 after dropping the cancelled one -> 6 after quarantining
    # order 1007 (quantity 10 fails plausible_quantity).
    assert sorted(silver["order_id"]) == [1001, 1002, 1003, 1005, 1006, 1008]
    assert orders_meta["dagster/row_count"].value == 6
    assert orders_meta["odibi/rows_written"].value == 6
    assert orders_meta["odibi/quarantine_rows"].value == 1
    quarantined = DeltaTable(str(retail / "lake" / "_quarantine" / "orders")).to_pandas()
    assert list(quarantined["order_id"]) == [1007]
    assert "plausible_quantity" in quarantined["_failed_tests"][0]
    assert orders_meta["odibi/delta_version"].value == 0
    columns = [c.name for c in orders_meta["dagster/column_schema"].schema.columns]
    assert "amount_with_tax" in columns
    assert "silver/orders" in str(orders_meta["dagster/uri"].value)
    assert "clean_orders" in orders_meta["odibi/summary"].value
    assert "JOIN clean_customers" in orders_meta["odibi/sql"].value

    revenue = pd.read_parquet(retail / "lake" / "gold" / "revenue_by_country.parquet")
    assert list(revenue["country"]) == ["US", "UK"]  # sorted by revenue, NL's order was cancelled
    us = silver[silver["country"] == "US"]
    assert revenue.iloc[0]["revenue"] == pytest.approx(round(us["amount_with_tax"].sum(), 2))

    stories = sorted((retail / "lake" / "_stories").rglob("run_*.json"))
    assert {p.parts[-3] for p in stories} == {"bronze", "sales"}
    sales = json.loads(next(p for p in stories if p.parts[-3] == "sales").read_text())
    assert sales["status"] == "success"
    assert {n["node"] for n in sales["nodes"]} == {
        "clean_customers", "clean_orders", "revenue_by_country", "daily_sales"}
    assert sales["run_id"] == result.run_id


def test_tag_selection_materializes_only_tagged_assets(retail: Path) -> None:
    defs = defs_from_project(retail / "odibi.yaml")
    result = _materialize(defs, "tag:ingest")
    assert result.success
    done = {tuple(e.asset_key.path) for e in result.get_asset_materialization_events()}
    assert done == {("bronze", "raw_orders"), ("bronze", "raw_customers"),
                    ("bronze", "raw_products")}
    assert not (retail / "lake" / "silver").exists()


def test_failing_node_fails_at_once_and_stops_downstream(retail: Path) -> None:
    sales = retail / "pipelines" / "sales.yaml"
    sales.write_text(sales.read_text().replace("round(sum(amount), 2) AS revenue",
                                               "round(sum(no_such_column), 2) AS revenue")
                     .replace("o.quantity * o.unit_price", "o.quantity * o.missing_price"))
    result = _materialize(defs_from_project(retail / "odibi.yaml"))
    assert not result.success
    failures = result.get_step_failure_events()
    assert [f.step_key for f in failures] == ["sales__clean_orders"]
    # A data error is permanent: one attempt, no retry although the project enables retries.
    assert result.retry_attempts_for_node("sales__clean_orders") == 0
    done = {tuple(e.asset_key.path) for e in result.get_asset_materialization_events()}
    assert ("sales", "revenue_by_country") not in done
    story = json.loads(next((retail / "lake" / "_stories" / "sales").rglob("*.json")).read_text())
    failed = next(n for n in story["nodes"] if n["node"] == "clean_orders")
    assert failed["status"] == "failed"
    assert "missing_price" in failed["error"]["message"]
    assert failed["error"]["fix"]
