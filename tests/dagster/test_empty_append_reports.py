"""An incremental run with no new rows commits nothing, and says so where a skipped duplicate
batch says so: `odibi run`'s summary, the materialization's metadata and the story."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest
from deltalake import DeltaTable

from odibi_dagster.cli.main import main

PROJECT = """\
project: empty_appends
connections:
  src: {type: local, base_path: ./src}
  lake: {type: local, base_path: ./lake}
system: {connection: lake, path: _system}
story: {connection: lake, path: _stories}
pipelines:
  - pipeline: p
    nodes:
      - name: load
        read:
          connection: src
          format: csv
          path: orders
          incremental: {mode: stateful, column: id}
        write: {connection: lake, format: delta, path: orders, mode: append}
"""


def test_a_run_without_new_rows_reports_the_append_skipped(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "src" / "orders").mkdir(parents=True)
    (tmp_path / "src" / "orders" / "a.csv").write_text("id,amount\n1,1.5\n2,3.0\n")
    (tmp_path / "odibi.yaml").write_text(PROJECT, encoding="utf-8")
    assert main(["run", str(tmp_path / "odibi.yaml")]) == 0
    capsys.readouterr()
    assert main(["run", str(tmp_path / "odibi.yaml")]) == 0
    assert "0 rows written (no rows to append: nothing committed)" in capsys.readouterr().out
    assert DeltaTable(str(tmp_path / "lake" / "orders")).version() == 0

    with dg.DagsterInstance.get() as instance:
        events = instance.fetch_materializations(dg.AssetKey(["p", "load"]), limit=10).records
        metadata = [e.asset_materialization.metadata for e in events]  # newest first
    assert metadata[0]["odibi/write_skipped"].value == "no_rows"
    assert metadata[0]["odibi/rows_written"].value == 0
    assert metadata[0]["odibi/delta_version"].value == 0  # the table's version, unchanged
    assert "no rows to append, nothing committed" in metadata[0]["odibi/summary"].value
    assert "odibi/write_skipped" not in metadata[1]
    stories = [p.read_text() for p in (tmp_path / "lake" / "_stories" / "p").rglob("run_*.md")]
    assert len(stories) == 2 and sum(
        "no rows to append: nothing committed, the target is as it was" in s
        for s in stories) == 1
