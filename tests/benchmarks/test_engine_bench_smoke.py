"""Smoke test of benchmarks/engine_bench.py (and of the harness it shares with run.py):
correctness only, never timing.

At 2,000 generated order rows, the odibi pipeline (the retail example's YAML) and the
hand-written code produce the same eight outputs, on pandas and, where its engine is available,
polars. The benchmark itself checks the equality (rows, columns and checksums of every table);
this test runs it as a user would and reads its results file.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BENCH = REPO / "benchmarks" / "engine_bench.py"
MARK = "<!-- engine-bench-data"
TABLES = {"bronze.orders", "bronze.customers", "bronze.products", "silver.customers",
          "silver.orders", "quarantine.orders", "gold.revenue_by_country", "gold.daily_sales"}


@pytest.mark.parametrize("engine", ["pandas", "polars"])
def test_odibi_and_hand_written_outputs_agree(engine: str, tmp_path: Path) -> None:
    out = tmp_path / "engines.md"
    child = subprocess.run(
        [sys.executable, str(BENCH), "--rows", "2000", "--engines", engine, "--repeats", "1",
         "--dagster-rows", "--wait-idle", "0", "--out", str(out),
         "--work", str(tmp_path / "work")],
        capture_output=True, text=True, cwd=REPO, check=False, timeout=600)
    assert child.returncode == 0, child.stdout + child.stderr
    text = out.read_text(encoding="utf-8")
    assert f"| 2,000 | {engine} | odibi |" in text
    data = json.loads(text.split(MARK, 1)[1].split("-->", 1)[0])
    entry = data[f"2000/{engine}"]
    hand = entry["contenders"]["hand-written"]
    odibi = entry["contenders"]["odibi"]
    assert hand["failure"] is None and odibi["failure"] is None
    assert set(hand["outputs"]) == TABLES
    assert odibi["outputs"] == hand["outputs"], odibi.get("differences")
    assert odibi["equal"] is True
    # the generated data reaches every output, the quarantine included
    assert all(table["rows"] > 0 for table in hand["outputs"].values())


def test_generator_is_deterministic_and_keeps_the_example_layout(tmp_path: Path) -> None:
    script = REPO / "benchmarks" / "retail_data.py"
    for name in ("a", "b"):
        subprocess.run([sys.executable, str(script), "--rows", "500", "--out",
                        str(tmp_path / name)], check=True, capture_output=True, cwd=REPO)
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*")
                   if p.is_file())
    assert Path("customers/customers.csv") in files
    assert Path("products/products.jsonl") in files
    assert any(p.parent == Path("orders") and p.suffix == ".csv" for p in files)
    for relative in files:
        assert (tmp_path / "a" / relative).read_bytes() == (tmp_path / "b" / relative).read_bytes()
    first_orders = next(p for p in files if p.parent == Path("orders"))
    header = (tmp_path / "a" / first_orders).read_text(encoding="utf-8").splitlines()[0]
    example = REPO / "examples" / "retail" / "landing" / "orders" / "2026-11-01.csv"
    assert header == example.read_text(encoding="utf-8").splitlines()[0]


def test_shared_harness_checksum_ignores_row_order_and_batching() -> None:
    """engine_bench.py and run.py compare outputs with benchmarks/harness.py's fingerprint:
    the same rows in another order, or read in other batches, give the same checksum; a
    changed value does not; numbers compare at cents across integer and float columns."""
    import polars as pl

    sys.path.insert(0, str(REPO / "benchmarks"))
    import harness

    frame = pl.DataFrame({"id": [1, 2, 3, 4], "amount": [1.005, 2.0, None, 4.25],
                          "name": ["a", "b", "c", None]})
    whole = harness.fingerprint(frame, ordered=False)
    shuffled = harness.fingerprint([frame[2:], frame[:2].reverse()], ordered=False)
    assert whole == shuffled
    changed = harness.fingerprint(frame.with_columns(pl.col("name").fill_null("d")),
                                  ordered=False)
    assert changed["checksum"] != whole["checksum"]
    as_float = harness.fingerprint(frame.with_columns(pl.col("id").cast(pl.Float64)),
                                   ordered=False)
    assert as_float == whole
    assert harness.fingerprint(frame, ordered=True)["ordered_digest"] != harness.fingerprint(
        frame.reverse(), ordered=True)["ordered_digest"]
    assert harness.fingerprint([frame[:1], frame[1:]], ordered=True) == harness.fingerprint(
        frame, ordered=True)
