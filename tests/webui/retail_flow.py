"""What examples/retail looks like through Dagster's GraphQL API, and one full run of it checked
end to end; shared by the sqlite and the Postgres instance tests."""

from __future__ import annotations

import json
from typing import Any

from tests.webui.dagster_server import DagsterServer

# One asset per node, key [pipeline, node], group = pipeline.
RETAIL_ASSETS = {
    "bronze/raw_orders": "bronze", "bronze/raw_customers": "bronze",
    "bronze/raw_products": "bronze", "sales/clean_customers": "sales",
    "sales/clean_orders": "sales", "sales/revenue_by_country": "sales",
    "sales/daily_sales": "sales",
}
# Contracts (always blocking) and validation tests (blocking when on_fail: fail, the default;
# on_fail: warn and on_fail: quarantine do not stop the downstream assets).
RETAIL_CHECKS = {
    "bronze/raw_orders": {"contract_row_count": True, "contract_not_null": True},
    "sales/clean_orders": {"not_null": True, "unique": True, "accepted_values": False,
                           "plausible_quantity": False},
}

# The landing files hold orders with implausible quantities on purpose: the quarantine test moves
# them aside and reports a failed WARN check; every other check passes.
QUARANTINE_CHECK = ("sales/clean_orders", "plausible_quantity")


def assert_retail_definitions(server: DagsterServer) -> None:
    """The web UI's view of the project: assets, groups, dependencies and asset checks."""
    nodes = {node["key"]: node for node in server.asset_nodes()}
    assert {key: node["group"] for key, node in nodes.items()} == RETAIL_ASSETS
    assert {key: node["checks"] for key, node in nodes.items() if node["checks"]} == RETAIL_CHECKS
    assert set(nodes["sales/clean_orders"]["dependencies"]) == {
        "bronze/raw_orders", "bronze/raw_products", "sales/clean_customers"}
    assert "pandas" in nodes["bronze/raw_orders"]["kinds"]


IN_PROCESS = {"execution": {"config": {"in_process": {}}}}  # run config: every step in one process


def materialize_retail(server: DagsterServer, *, run_config: dict[str, Any] | None = None,
                       timeout: float = 150) -> str:
    """Launch every retail asset as the UI's "Materialize all" does, wait for the run, check
    what it recorded; return the run id."""
    run_id = server.launch_assets(RETAIL_ASSETS, run_config=run_config)
    status = server.wait_for_run(run_id, timeout=timeout)
    assert status == "SUCCESS", server.run_failure(run_id)

    [run] = server.runs({"runIds": [run_id]})
    assert run["jobName"] == "__ASSET_JOB"
    assert {"/".join(k["path"]) for k in run["assetSelection"]} == set(RETAIL_ASSETS)

    for key in RETAIL_ASSETS:
        latest = server.latest_materialization(key)
        assert latest is not None, f"{key} has no materialization"
        assert latest["runId"] == run_id
        meta = latest["metadata"]
        assert meta["dagster/row_count"] > 0, (key, meta)
        assert meta["odibi/engine"] == "pandas"
        assert meta["odibi/rows_written"] == meta["dagster/row_count"]
        assert meta["dagster/uri"] and meta["odibi/summary"], (key, meta)
        assert meta["dagster/column_schema"] == "TableSchemaMetadataEntry"
    orders = server.latest_materialization("sales/clean_orders")["metadata"]
    assert orders["odibi/target"] == "lake:silver/orders" and orders["odibi/delta_version"] == 0
    assert json.loads(orders["odibi/sample"]), "a sample of the rows"

    assert orders["odibi/quarantine_rows"] > 0 and orders["odibi/quarantine_target"]

    for key, checks in RETAIL_CHECKS.items():
        executions = server.latest_check_executions(key)
        assert set(executions) == set(checks)
        for name, execution in executions.items():
            assert execution["runId"] == run_id, (key, name, execution)
            if (key, name) == QUARANTINE_CHECK:
                expected = {"status": "FAILED", "passed": False, "severity": "WARN"}
            else:
                expected = {"status": "SUCCEEDED", "passed": True, "severity": "ERROR"}
            got = {field: execution[field] for field in expected}
            if name == "accepted_values":  # on_fail: warn
                expected["severity"] = "WARN"
            assert got == expected, (key, name)
    return run_id
