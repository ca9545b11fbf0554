"""Smoke test of the load suite (benchmarks/run.py): correctness only, never timing.

At 10,000 generated orders, on pandas and polars, odibi and the hand-written code run scenarios
1-3 and agree (rows and checksums, and the generator's counts of valid and quarantined rows);
the results page and its JSON are written; ``--check`` flags regressions on synthetic results.
The suite's real runs (1M-100M rows, the PyPI contender, Spark, scenario 4, the memory
profile) are on demand: ``benchmarks/run.py``, see benchmarks/README.md.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BENCH = REPO / "benchmarks"
sys.path.insert(0, str(BENCH))

import datasets  # noqa: E402
import run as suite  # noqa: E402


@pytest.fixture(scope="module")
def small_run(tmp_path_factory) -> dict:
    """One run of scenarios 1-3 at 10k rows, pandas and polars, odibi and hand-written."""
    folder = tmp_path_factory.mktemp("load-suite")
    out = folder / "RESULTS.md"
    child = subprocess.run(
        [sys.executable, str(BENCH / "run.py"), "--sizes", "10k", "--repeats", "1",
         "--engines", "pandas", "polars", "--scenarios", "ingest", "gold", "incremental",
         "--contenders", "hand-written", "odibi", "odibi-in-memory", "--wait-idle", "0",
         "--memprofile-rows", "0", "--out", str(out), "--data", str(folder / "data"),
         "--work", str(folder / "work"), "--label", "smoke test"],
        capture_output=True, text=True, cwd=REPO, check=False, timeout=300)
    assert child.returncode == 0, child.stdout[-3000:] + child.stderr[-3000:]
    return {"folder": folder, "out": out,
            "doc": json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))}


def test_odibi_and_hand_written_agree_on_every_scenario(small_run: dict) -> None:
    cells = small_run["doc"]["cells"]
    manifest = json.loads(next((small_run["folder"] / "data").glob("*/manifest.json"))
                          .read_text(encoding="utf-8"))
    for scenario in ("ingest", "gold", "incremental"):
        for engine in ("pandas", "polars"):
            hand = cells[suite.cell_key(scenario, engine, 10_000, "hand-written")]
            odibi = cells[suite.cell_key(scenario, engine, 10_000, "odibi")]
            assert hand["status"] == "ok", hand.get("reason")
            assert odibi["status"] == "ok", odibi.get("reason")
            assert odibi["equal"] is True
            assert odibi["outputs"] == hand["outputs"]
            assert odibi["wall"] > 0 and odibi["peak_mb"] > 0
        # polars runs the scenarios streaming (`odibi`) and in memory; same outputs
        in_memory = cells[suite.cell_key(scenario, "polars", 10_000, "odibi-in-memory")]
        assert in_memory["status"] == "ok" and in_memory["outputs"] == hand["outputs"]
        assert cells[suite.cell_key(scenario, "pandas", 10_000, "odibi-in-memory")][
            "status"] == "not run"
    ingest = cells[suite.cell_key("ingest", "polars", 10_000, "odibi")]["outputs"]
    assert ingest["silver.orders"]["rows"] == manifest["orders"]["expected_valid"]
    assert ingest["quarantine.orders"]["rows"] == manifest["orders"]["expected_quarantined"]
    incremental = cells[suite.cell_key("incremental", "pandas", 10_000, "odibi")]
    assert incremental["outputs"]["silver.orders"]["rows"] == (
        manifest["orders"]["expected_valid"] + manifest["increment"]["expected_valid"])
    assert incremental["initial"]["wall"] > 0  # the untimed first run happened


def test_results_page_holds_the_table_and_the_targets(small_run: dict) -> None:
    text = small_run["out"].read_text(encoding="utf-8")
    assert "> **smoke test**" in text
    assert "| scenario | engine | rows | contender | runs | wall s | peak MB |" in text
    row = "| 1 ingest → validate + quarantine → Delta append | polars | 10,000 | odibi | 1 |"
    assert row in text
    assert "polars engine within 1.2x of hand-written polars time" in text
    targets = small_run["doc"]["targets"]
    assert {t["target"] for t in targets} >= {"polars_time", "polars_peak"}
    assert all(t["met"] in (True, False) for t in targets if t["target"].startswith("polars"))


def test_check_passes_against_itself_and_fails_on_a_slower_run(small_run: dict,
                                                               tmp_path: Path) -> None:
    committed = small_run["out"].with_suffix(".json")
    command = [sys.executable, str(BENCH / "run.py"), "--check", "--committed",
               str(committed), "--fresh"]
    same = subprocess.run(command + [str(committed)], capture_output=True, text=True,
                          cwd=REPO, check=False, timeout=60)
    assert same.returncode == 0, same.stdout + same.stderr
    assert "no regression" in same.stdout
    slower = copy.deepcopy(small_run["doc"])
    for cell in slower["cells"].values():
        if cell["contender"] == "odibi" and cell["wall"]:
            cell["wall"] = cell["wall"] * 2 + 1.0
    fresh = tmp_path / "fresh.json"
    fresh.write_text(json.dumps(slower), encoding="utf-8")
    worse = subprocess.run(command + [str(fresh)], capture_output=True, text=True, cwd=REPO,
                           check=False, timeout=60)
    assert worse.returncode == 1, worse.stdout + worse.stderr
    assert "REGRESSION" in worse.stdout


def _doc(**cells: dict) -> dict:
    base = {"scenario": "ingest", "engine": "polars", "rows": 1_000_000, "status": "ok",
            "outputs": {"t": {"rows": 1, "checksum": "a"}}, "equal": True}
    return {"cells": {key: {**base, **cell} for key, cell in cells.items()}}


def test_compare_results_tolerance_and_noise_floor() -> None:
    key = suite.cell_key("ingest", "polars", 1_000_000, "odibi")
    old = _doc(**{key: {"contender": "odibi", "wall": 10.0, "peak_mb": 1000.0}})

    def verdicts(wall: float, peak: float) -> dict[str, bool]:
        new = _doc(**{key: {"contender": "odibi", "wall": wall, "peak_mb": peak}})
        return {f["what"]: f["regression"] for f in suite.compare_results(old, new)}

    assert verdicts(12.0, 1200.0) == {"wall": False, "peak": False}  # +20%: within 25%
    assert verdicts(13.0, 1300.0) == {"wall": True, "peak": True}  # +30%: beyond
    assert verdicts(8.0, 800.0) == {"wall": False, "peak": False}  # faster is fine
    tiny = _doc(**{key: {"contender": "odibi", "wall": 1.0, "peak_mb": 100.0}})
    small = _doc(**{key: {"contender": "odibi", "wall": 1.4, "peak_mb": 150.0}})
    # +40% and +50%, but under the noise floors (0.5 s, 64 MB): not a regression
    assert not any(f["regression"] for f in suite.compare_results(tiny, small))


def test_compare_results_flags_failures_and_changed_outputs_of_odibi_only() -> None:
    odibi = suite.cell_key("ingest", "polars", 1_000_000, "odibi")
    hand = suite.cell_key("ingest", "polars", 1_000_000, "hand-written")
    old = _doc(**{odibi: {"contender": "odibi", "wall": 10.0, "peak_mb": 900.0},
                  hand: {"contender": "hand-written", "wall": 5.0, "peak_mb": 800.0}})
    failed = _doc(**{odibi: {"contender": "odibi", "status": "failed", "reason": "boom"},
                     hand: {"contender": "hand-written", "wall": 50.0, "peak_mb": 8000.0}})
    findings = suite.compare_results(old, failed)
    assert [(f["key"], f["what"], f["regression"]) for f in findings] == [
        (odibi, "status", True)]  # hand-written's slowdown is not odibi's regression
    changed = _doc(**{odibi: {"contender": "odibi", "wall": 10.0, "peak_mb": 900.0,
                              "outputs": {"t": {"rows": 2, "checksum": "b"}}}})
    assert any(f["what"] == "outputs" and f["regression"]
               for f in suite.compare_results(old, changed))


def test_compare_results_on_the_ratio_basis_and_scenario_4_metrics() -> None:
    odibi = suite.cell_key("gold", "polars", 1_000_000, "odibi")
    hand = suite.cell_key("gold", "polars", 1_000_000, "hand-written")
    old = _doc(**{odibi: {"scenario": "gold", "contender": "odibi", "wall": 12.0,
                          "peak_mb": 900.0},
                  hand: {"scenario": "gold", "contender": "hand-written", "wall": 10.0,
                         "peak_mb": 900.0}})
    # a machine twice as slow: absolute walls regress, the ratio to hand-written does not
    slow = _doc(**{odibi: {"scenario": "gold", "contender": "odibi", "wall": 24.0,
                           "peak_mb": 900.0},
                   hand: {"scenario": "gold", "contender": "hand-written", "wall": 20.0,
                          "peak_mb": 900.0}})
    assert any(f["regression"] for f in suite.compare_results(old, slow))
    assert not any(f["regression"] for f in suite.compare_results(old, slow, basis="ratio"))
    load = suite.cell_key("dagster_200_load", "pandas", 200, "odibi")
    run = suite.cell_key("dagster_200_run", "pandas", 200, "odibi")
    before = _doc(**{load: {"scenario": "dagster_200_load", "contender": "odibi", "wall": 3.0,
                            "peak_mb": 300.0, "metrics": {"load_seconds": 0.4}},
                     run: {"scenario": "dagster_200_run", "contender": "odibi", "wall": 30.0,
                           "peak_mb": 300.0, "metrics": {"overhead_ms_per_asset": 60.0}}})
    after = copy.deepcopy(before)
    after["cells"][load]["metrics"]["load_seconds"] = 0.9
    after["cells"][run]["metrics"]["overhead_ms_per_asset"] = 65.0
    flagged = {(f["key"], f["what"]) for f in suite.compare_results(before, after)
               if f["regression"]}
    assert flagged == {(load, "load_seconds")}


def test_targets_are_judged_from_the_cells() -> None:
    cells = {}
    for contender, wall, peak in (("hand-written", 10.0, 1000.0), ("odibi", 11.0, 1600.0),
                                  ("pypi", 30.0, 2000.0)):
        cells[suite.cell_key("ingest", "polars", 1_000_000, contender)] = {
            "scenario": "ingest", "engine": "polars", "rows": 1_000_000,
            "contender": contender, "status": "ok", "wall": wall, "peak_mb": peak}
    cells[suite.cell_key("dagster_200_load", "pandas", 200, "odibi")] = {
        "scenario": "dagster_200_load", "engine": "pandas", "rows": 200,
        "contender": "odibi", "status": "ok", "metrics": {"load_seconds": 0.5}}
    met = {(t["target"], t["met"]) for t in suite.evaluate_targets(cells)}
    assert met == {("polars_time", True), ("polars_peak", False), ("pypi", True),
                   ("load", True)}


def test_generator_is_deterministic_with_the_stated_bad_rows(tmp_path: Path) -> None:
    a = datasets.generate(2_000, tmp_path / "a", chunk_rows=500)
    b = datasets.generate(2_000, tmp_path / "b", chunk_rows=500)
    assert a == b
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*.parquet"))
    assert files == sorted(p.relative_to(tmp_path / "b") for p in
                           (tmp_path / "b").rglob("*.parquet"))
    for relative in files:
        assert (tmp_path / "a" / relative).read_bytes() == \
            (tmp_path / "b" / relative).read_bytes()
    assert any(p.parts[1].startswith("order_date=") for p in files)  # hive-partitioned
    orders = a["orders"]
    assert orders["rows"] == 2_000
    assert orders["expected_valid"] + orders["expected_quarantined"] == \
        orders["unique_orders"] + orders["duplicates"]
    assert all(orders[kind] > 0 for kind in datasets.BAD_SHARES)


def test_scenario_4_project_loads_as_dagster_definitions(tmp_path: Path) -> None:
    generate = BENCH / "scenarios" / "dagster_200" / "generate.py"
    subprocess.run([sys.executable, str(generate), str(tmp_path / "p"), "--nodes", "40"],
                   check=True, capture_output=True, cwd=REPO, timeout=120)
    child = subprocess.run([sys.executable, str(BENCH / "dagster_child.py"), "load",
                            str(tmp_path / "p")], capture_output=True, text=True, cwd=REPO,
                           check=False, timeout=120)
    assert child.returncode == 0, child.stderr[-3000:]
    report = json.loads(child.stdout.strip().splitlines()[-1])
    assert report["assets"] == 40
    assert report["asset_checks"] == 4  # node 5 of each pipeline's ten has a test
    assert report["load_seconds"] > 0
