"""Contracts and validation tests as Dagster asset checks: specs, results, blocking."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from odibi_dagster import defs_from_project


def _run(defs: dg.Definitions) -> dg.ExecuteInProcessResult:
    with dg.DagsterInstance.ephemeral() as instance:
        return defs.resolve_implicit_global_asset_job_def().execute_in_process(
            instance=instance, raise_on_error=False)


def test_every_contract_and_test_is_an_asset_check(retail: Path) -> None:
    defs = defs_from_project(retail / "odibi.yaml")
    graph = defs.resolve_asset_graph()
    checks = {(tuple(k.asset_key.path), k.name) for k in graph.asset_check_keys}
    assert checks == {
        (("bronze", "raw_orders"), "contract_row_count"),
        (("bronze", "raw_orders"), "contract_not_null"),
        (("sales", "clean_orders"), "not_null"),
        (("sales", "clean_orders"), "unique"),
        (("sales", "clean_orders"), "accepted_values"),
        (("sales", "clean_orders"), "plausible_quantity"),
    }
    specs = {s.key.name: s for s in defs.resolve_assets_def(
        dg.AssetKey(["sales", "clean_orders"])).check_specs}
    assert specs["unique"].blocking and specs["not_null"].blocking
    assert not specs["accepted_values"].blocking  # on_fail: warn
    assert not specs["plausible_quantity"].blocking  # quarantine: valid rows go on


def test_check_results_carry_counts_and_samples(retail: Path) -> None:
    result = _run(defs_from_project(retail / "odibi.yaml"))
    assert result.success
    evaluations = {(tuple(e.asset_key.path), e.check_name): e
                   for e in result.get_asset_check_evaluations()}
    assert len(evaluations) == 6
    quantity = evaluations[(("sales", "clean_orders"), "plausible_quantity")]
    assert not quantity.passed
    assert quantity.severity == dg.AssetCheckSeverity.WARN
    assert quantity.metadata["failing_rows"].value == 1
    assert quantity.metadata["failing_values_sample"].value == [10]
    assert evaluations[(("sales", "clean_orders"), "unique")].passed
    assert evaluations[(("bronze", "raw_orders"), "contract_row_count")].passed


def test_failing_blocking_test_records_the_check_and_stops_downstream(retail: Path) -> None:
    sales = retail / "pipelines" / "sales.yaml"
    sales.write_text(sales.read_text().replace(
        "{type: unique, columns: [order_id]}", "{type: unique, columns: [customer_id]}"))
    result = _run(defs_from_project(retail / "odibi.yaml"))
    assert not result.success
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()
                   if e.asset_key == dg.AssetKey(["sales", "clean_orders"])}
    unique = evaluations["unique"]
    assert not unique.passed and unique.severity == dg.AssetCheckSeverity.ERROR
    assert unique.metadata["failing_rows"].value == 4  # customers 1 and 3 have two orders each
    materialized = {tuple(e.asset_key.path) for e in result.get_asset_materialization_events()}
    assert ("sales", "clean_orders") not in materialized  # nothing written, nothing materialized
    assert ("sales", "revenue_by_country") not in materialized
    assert not (retail / "lake" / "silver" / "orders").exists()
