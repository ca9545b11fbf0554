"""A user's own Dagster assets next to odibi's, in one Definitions (docs/dagster.md, "Your
own assets downstream of odibi"): they receive an odibi node's output as a frame of the
project's engine and store their own values through Dagster's default IO manager."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
from deltalake import DeltaTable

from odibi_dagster import defs_from_project
from odibi_dagster.io_manager import ODIBI_IO_MANAGER_KEY

ORDERS = dg.AssetKey(["sales", "clean_orders"])


@dg.asset(ins={"orders": dg.AssetIn(key=ORDERS)})
def order_count(orders: Any) -> int:
    assert isinstance(orders, pd.DataFrame), type(orders)
    return len(orders)


@dg.asset
def doubled(order_count: int) -> int:
    return order_count * 2


def _defs(retail: Path) -> dg.Definitions:
    return dg.Definitions.merge(defs_from_project(retail / "odibi.yaml"),
                                dg.Definitions(assets=[order_count, doubled]))


def _run(defs: dg.Definitions, instance: dg.DagsterInstance,
         selection: str) -> dg.ExecuteInProcessResult:
    keys = list(dg.AssetSelection.from_string(selection).resolve(defs.resolve_asset_graph()))
    return defs.resolve_implicit_global_asset_job_def().execute_in_process(
        instance=instance, asset_selection=keys, raise_on_error=False)


def test_odibi_assets_name_their_io_manager_and_leave_the_default_alone(retail: Path) -> None:
    defs = _defs(retail)
    assert dg.AssetKey("order_count") in defs.resolve_asset_graph().get_all_asset_keys()
    odibi_asset = defs.resolve_assets_def(ORDERS)
    assert odibi_asset.get_io_manager_key_for_asset_key(ORDERS) == ODIBI_IO_MANAGER_KEY
    assert "io_manager" not in (defs.resources or {})  # a user asset gets Dagster's default


def test_user_asset_downstream_of_an_odibi_node_materializes(retail: Path) -> None:
    defs = _defs(retail)
    with dg.instance_for_test() as instance:
        first = _run(defs, instance, "+key:order_count or key:doubled")
        assert first.success, [e.event_specific_data for e in first.all_events
                               if e.is_failure]
        rows = DeltaTable(str(retail / "lake" / "silver" / "orders")).to_pyarrow_table().num_rows
        assert rows > 0
        assert first.output_for_node("order_count") == rows
        assert first.output_for_node("doubled") == 2 * rows
        # Dagster's default IO manager stored the user's values under the instance's storage.
        assert (Path(instance.storage_directory()) / "order_count").is_file()

        # The user's assets alone, in a later run: the odibi node's output is read back from
        # its written target, and `doubled` loads `order_count` from the default IO manager.
        second = _run(defs, instance, "key:order_count or key:doubled")
        assert second.success
        assert second.output_for_node("order_count") == rows
        assert second.output_for_node("doubled") == 2 * rows
        materialized = {e.asset_key for e in second.get_asset_materialization_events()}
        assert materialized == {dg.AssetKey("order_count"), dg.AssetKey("doubled")}
