"""The project's retry block becomes each asset's Dagster RetryPolicy."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from odibi_dagster import defs_from_project


def test_project_retry_and_node_override_become_retry_policies(retail: Path) -> None:
    sales = retail / "pipelines" / "sales.yaml"
    sales.write_text(sales.read_text().replace(
        "tags: [daily, finance]\n        depends_on: [clean_orders]\n        transformer",
        "tags: [daily, finance]\n        retry: {max_attempts: 1}\n        depends_on: [clean_orders]\n"
        "        transformer", 1))
    defs = defs_from_project(retail / "odibi.yaml")

    def policy_of(*key: str) -> dg.RetryPolicy | None:
        return defs.resolve_assets_def(dg.AssetKey(list(key))).op.retry_policy

    policy = policy_of("bronze", "raw_orders")
    # retry: {max_attempts: 2, backoff: exponential, initial_delay: 0.5}
    assert policy == dg.RetryPolicy(max_retries=1, delay=0.5, backoff=dg.Backoff.EXPONENTIAL)
    assert policy_of("sales", "revenue_by_country") is None
