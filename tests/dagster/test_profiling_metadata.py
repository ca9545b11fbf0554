"""With profiling enabled, a materialization carries the output's profile: a table with one row
per column and a markdown summary; without it, neither."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from odibi_core.config import load_project
from odibi_dagster import metadata as md
from odibi_dagster.execution import run_project

PROJECT = """\
project: profiled
connections:
  src: {type: local, base_path: ./src}
  lake: {type: local, base_path: ./lake}
system: {connection: lake, path: _system}
profiling: {enabled: PROFILING}
pipelines:
  - pipeline: p
    nodes:
      - name: orders
        read: {connection: src, format: csv, path: orders.csv}
        privacy: {method: redact, columns: [email]}
        write: {connection: lake, format: delta, path: orders}
"""
ORDERS = ("id,email,amount,day\n1,ada@example.com,5.5,2026-01-01\n2,,20,2026-01-05\n"
          "3,tim@example.com,,2026-01-11\n")


def materialize(root: Path, profiling: bool) -> dict:
    (root / "src").mkdir(exist_ok=True)
    (root / "src" / "orders.csv").write_text(ORDERS, encoding="utf-8")
    (root / "odibi.yaml").write_text(
        PROJECT.replace("PROFILING", "true" if profiling else "false"), encoding="utf-8")
    outcome = run_project(load_project(root / "odibi.yaml"), ["p.orders"])
    assert outcome.success, [r.error for r in outcome.results]
    with dg.DagsterInstance.get() as instance:
        record = instance.fetch_materializations(dg.AssetKey(["p", "orders"]), limit=1).records[0]
    return record.asset_materialization.metadata


def test_materialization_carries_the_profile_table_and_markdown(tmp_path: Path) -> None:
    metadata = materialize(tmp_path, profiling=True)
    table = metadata[md.PROFILE]
    assert isinstance(table, dg.TableMetadataValue)
    assert [c.name for c in table.schema.columns] == [
        "column", "type", "null_percentage", "unique_count", "unique_approximate", "min", "max",
        "histogram"]
    rows = {r.data["column"]: r.data for r in table.records}
    assert list(rows) == ["id", "email", "amount", "day"]
    assert rows["id"] == {"column": "id", "type": "int64", "null_percentage": 0.0,
                          "unique_count": 3, "unique_approximate": False, "min": "1",
                          "max": "3", "histogram": "█▁▁▁▁█▁▁▁█"}
    assert rows["email"]["min"] == "[REDACTED]" and rows["email"]["histogram"] is None
    assert rows["amount"]["null_percentage"] == round(100 / 3, 4)
    assert (rows["day"]["min"], rows["day"]["max"]) == ("2026-01-01", "2026-01-11")
    summary = metadata[md.PROFILE_SUMMARY].value
    assert summary.startswith("Profile of 3 row(s).")
    assert "| amount | float64 | 1 | 33.33% | 2 | 5.5 | 20 |" in summary
    assert "ada@" not in summary and "ada@" not in str(table.records)


def test_no_profile_metadata_when_profiling_is_off(tmp_path: Path) -> None:
    metadata = materialize(tmp_path, profiling=False)
    assert md.PROFILE not in metadata and md.PROFILE_SUMMARY not in metadata
