"""Real NodeResult and RunStory objects shared by the story tests."""

from __future__ import annotations

import pytest

from odibi_core.results import ColumnSchema, ErrorInfo, NodeResult, PhaseTiming, WriteResult
from odibi_core.story import RunStory, status_from_nodes

EVIL = "<script>alert('x')</script>"


@pytest.fixture
def written_node() -> NodeResult:
    """A successful node that wrote a Delta table."""
    return NodeResult(
        pipeline="sales",
        node="orders_clean",
        status="success",
        started_at="2024-05-01T06:00:01+00:00",
        duration_seconds=3.25,
        engine="pandas",
        timings=(PhaseTiming("read", 1.0), PhaseTiming("transform", 0.75), PhaseTiming("write", 1.5)),
        rows_in=1200,
        rows_out=1180,
        rows_written=1180,
        schema_in=(ColumnSchema("order_id", "int64"), ColumnSchema("amount", "string")),
        schema_out=(ColumnSchema("order_id", "int64", nullable=False), ColumnSchema("amount", "float64"),
                    ColumnSchema("region", "string")),
        sample_rows=(
            {"order_id": 1, "amount": 9.5, "region": "EU"},
            {"order_id": 2, "amount": None, "region": "a|b"},
        ),
        sql_executed=("SELECT order_id, CAST(amount AS DOUBLE) AS amount FROM raw_orders WHERE amount > 0",),
        write=WriteResult(connection="lake", format="delta", mode="append", location="silver/orders",
                          rows_written=1180, delta_version=7, files_written=2),
    )


@pytest.fixture
def failed_node() -> NodeResult:
    """A node that failed in validation, with a fix."""
    return NodeResult(
        pipeline="sales",
        node="revenue",
        status="failed",
        started_at="2024-05-01T06:00:05+00:00",
        duration_seconds=0.5,
        engine="pandas",
        rows_in=1180,
        sql_executed=("SELECT region, SUM(amount) AS revenue FROM orders_clean GROUP BY region",),
        error=ErrorInfo(type="DataError", message="column 'amount' has 3 nulls\nfirst at row 2",
                        phase="validate", fix="Fill nulls in orders_clean.amount before aggregating."),
    )


@pytest.fixture
def skipped_node() -> NodeResult:
    return NodeResult(
        pipeline="sales",
        node="publish",
        status="skipped",
        started_at="2024-05-01T06:00:06+00:00",
        duration_seconds=0.0,
        engine="pandas",
        skipped_reason="upstream node revenue failed",
    )


@pytest.fixture
def extra_node() -> NodeResult:
    """A node whose ``extra`` holds what later features add; one value tries to inject a script."""
    return NodeResult(
        pipeline="sales",
        node="customers",
        status="success",
        started_at="2024-05-01T06:00:02+00:00",
        duration_seconds=1.0,
        engine="pandas",
        rows_in=10,
        rows_out=8,
        rows_written=8,
        sample_rows=({"name": EVIL, "city": "Oslo"},),
        extra={
            "validation": [
                {"test": "not_null", "column": "email", "passed": False, "failed_rows": 2},
                {"test": "unique", "column": "id", "passed": True, "failed_rows": 0},
            ],
            "quarantine": {"rows": 2, "location": "quarantine/customers"},
            "dead_letter_rows": 1,
            "retries": 2,
            "profile": {"email": {"null_pct": 20.0, "unique": 8}, "id": {"null_pct": 0.0, "unique": 10}},
            "warnings": ["late file", EVIL],
        },
    )


@pytest.fixture
def nodes(written_node, extra_node, failed_node, skipped_node) -> tuple[NodeResult, ...]:
    return (written_node, extra_node, failed_node, skipped_node)


@pytest.fixture
def story(nodes) -> RunStory:
    return RunStory(
        project="shop",
        pipeline="sales",
        run_id="8f14e45f-ceea-467f-a0e6-123456789abc",
        environment="dev",
        engine="pandas",
        started_at="2024-05-01T06:00:00.250000+00:00",
        finished_at="2024-05-01T06:00:07.750000+00:00",
        status=status_from_nodes(nodes),
        nodes=nodes,
        parent_run_id="0a1b2c3d",
        edges=(("bronze.raw_orders", "sales.orders_clean"), ("sales.orders_clean", "sales.revenue"),
               ("sales.customers", "sales.revenue"), ("sales.revenue", "sales.publish")),
        extra={"labels": {"team": "finance", "owner": EVIL}},
    )
