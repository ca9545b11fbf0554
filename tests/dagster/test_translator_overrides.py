"""A subclass of OdibiTranslator changes an asset spec, and every field it changes reaches the
definitions: the assets are built from the translator's own spec, not from a copy of some of
its fields."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from odibi_dagster import OdibiTranslator, defs_from_project

EXTERNAL = dg.AssetKey(["crm", "accounts_export"])
ORDERS = dg.AssetKey(["sales", "clean_orders"])


class Customised(OdibiTranslator):
    def get_asset_spec(self, project, node):  # type: ignore[no-untyped-def]
        spec = super().get_asset_spec(project, node)
        if spec.key != ORDERS:
            return spec
        return spec.replace_attributes(
            deps=[*spec.deps, dg.AssetDep(EXTERNAL)],
            owners=["team:sales-data"],
            description="Orders, cleaned (owned by sales data).",
            group_name="sales_core",
            code_version="v7",
            automation_condition=dg.AutomationCondition.eager(),
        ).merge_attributes(metadata={"sla": "06:00"}, tags={"tier": "gold"},
                           kinds={"sqlite"})


def test_every_override_reaches_the_definitions(retail: Path) -> None:
    defs = defs_from_project(retail / "odibi.yaml", translator=Customised())
    dg.Definitions.validate_loadable(defs)
    orders = defs.resolve_asset_graph().get(ORDERS)
    assert EXTERNAL in orders.parent_keys
    assert {dg.AssetKey(["bronze", "raw_orders"]), dg.AssetKey(["sales", "clean_customers"])} \
        <= set(orders.parent_keys)  # the node's own inputs stay
    assert orders.owners == ["team:sales-data"]
    assert orders.description == "Orders, cleaned (owned by sales data)."
    assert orders.group_name == "sales_core"
    assert orders.code_version == "v7"
    assert orders.automation_condition == dg.AutomationCondition.eager()
    assert orders.metadata["sla"] == "06:00"
    assert orders.metadata["odibi/node"] == "clean_orders"  # the translator's own stays
    assert orders.tags["tier"] == "gold"
    assert "sqlite" in orders.kinds


def test_an_added_dep_only_orders_the_asset_and_the_run_still_works(retail: Path) -> None:
    @dg.asset(key=EXTERNAL)
    def accounts_export() -> None:
        return None

    project_defs = defs_from_project(retail / "odibi.yaml", translator=Customised())
    defs = dg.Definitions.merge(project_defs, dg.Definitions(assets=[accounts_export]))
    job = defs.resolve_implicit_global_asset_job_def()
    result = job.execute_in_process(instance=dg.DagsterInstance.ephemeral())
    assert result.success
    done = {event.asset_key for event in result.get_asset_materialization_events()}
    assert {EXTERNAL, ORDERS} <= done
