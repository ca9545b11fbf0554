"""The streaming example runs end to end with `odibi run`, twice, with files landing between the
runs: each record once, the late event dropped by the window, customer changes in the audit."""

from __future__ import annotations

import runpy
import shutil
from pathlib import Path

import pytest
from deltalake import DeltaTable

from odibi_dagster.cli.main import main

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "streaming"

pytestmark = pytest.mark.usefixtures("spark_session")


def _table(root: Path, path: str) -> list[dict]:
    return DeltaTable(str(root / "lake" / path)).to_pyarrow_table().to_pylist()


def test_the_streaming_example_keeps_its_tables_current(
        tmp_path: Path, dagster_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "streaming"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("lake*", "__pycache__"))
    assert main(["run", str(root)]) == 0
    assert sorted(r["order_id"] for r in _table(root, "silver/orders")) == [1, 2, 4, 5]
    assert [r["order_id"] for r in _table(root, "_quarantine/orders")] == [3]

    runpy.run_path(str(root / "arrive.py"), run_name="__main__")
    capsys.readouterr()
    assert main(["run", str(root)]) == 0
    out = capsys.readouterr().out
    assert "1 late rows dropped" in out  # order 7 (12:04) is behind the watermark (12:11)
    assert sorted(r["order_id"] for r in _table(root, "silver/orders")) == [1, 2, 4, 5, 6, 7]
    windows = {r["window_start"].strftime("%H:%M"): (r["orders"], r["revenue"])
               for r in _table(root, "gold/revenue_5min")}
    assert windows == {"12:00": (2, 65.5), "12:05": (1, 12.0)}
    customers = {r["customer_id"]: r["tier"] for r in _table(root, "silver/customers")}
    assert customers == {10: "gold", 11: "gold", 12: "bronze", 13: "silver"}
    changes = sorted((r["version"], r["customer_id"], r["change"])
                     for r in _table(root, "gold/customer_changes"))
    assert changes == [(0, 10, "insert"), (0, 11, "insert"), (0, 12, "insert"),
                       (1, 11, "update_postimage"), (1, 13, "insert")]

    assert main(["run", str(root)]) == 0  # nothing new: nothing written twice
    assert len(_table(root, "silver/orders")) == 6
    assert len(_table(root, "gold/customer_changes")) == 5
