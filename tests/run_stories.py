"""Reading the stories of one run of examples/retail, and breaking one of its nodes; shared by
the tests of how a run launched outside ``odibi run`` ends its stories."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

FINANCE = {"revenue_by_country", "daily_sales"}  # the finance_reports job: part of sales
BROKEN_SQL = ("round(o.quantity * o.unit_price, 2) AS amount",
              "round(o.no_such_column * o.unit_price, 2) AS amount")
# sales_job with clean_orders broken: the nodes after it never run.
FAILED_SALES = {"clean_customers": "success", "clean_orders": "failed",
                "revenue_by_country": "skipped", "daily_sales": "skipped"}


def run_stories(retail: Path, run_id: str) -> dict[str, dict[str, Any]]:
    """The JSON stories of run ``run_id`` by pipeline."""
    found = [json.loads(p.read_text()) for p in (retail / "lake" / "_stories").rglob("run_*.json")]
    return {s["pipeline"]: s for s in found if s["run_id"] == run_id}


def statuses(story: dict[str, Any]) -> dict[str, str]:
    return {n["node"]: n["status"] for n in story["nodes"]}


def assert_final(story: dict[str, Any], status: str) -> None:
    assert (story["status"], story["finished_at"] is not None) == (status, True), story


def break_clean_orders(retail: Path) -> None:
    """Make sales.clean_orders fail (a column that does not exist; not a transient error)."""
    path = retail / "pipelines" / "sales.yaml"
    text = path.read_text(encoding="utf-8")
    assert BROKEN_SQL[0] in text
    path.write_text(text.replace(*BROKEN_SQL), encoding="utf-8")


def build_retail(retail: Path) -> str:
    """One full ``odibi run`` of retail (every target exists afterwards); its run id."""
    from odibi_core.config import load_project
    from odibi_dagster.execution import run_project

    project = load_project(retail)
    observability = project.config.observability
    assert not (observability.metrics or observability.tracing)  # nothing switched on
    run = run_project(project, list(project.graph.nodes))
    assert run.success
    return run.run_id
