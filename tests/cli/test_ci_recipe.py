"""The README's CI recipe, run as written: ``dagster asset materialize`` of a selection fails the
CI job (exit code 1) when a blocking check fails, and passes when the data is good."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DAGSTER = str(Path(sys.executable).with_name("dagster"))
# The recipe's command, as the README writes it (the README is checked to contain it).
RECIPE = "dagster asset materialize -m odibi_dagster.definitions --select 'group:bronze'"


def _materialize(project: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ODIBI_PROJECT": str(project / "odibi.yaml")}
    command = [DAGSTER, "asset", "materialize", "-m", "odibi_dagster.definitions",
               "--select", "group:bronze"]
    return subprocess.run(command, capture_output=True, text=True, cwd=project, env=env,
                          timeout=300)


def test_readme_holds_the_recipe() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert RECIPE in readme


@pytest.mark.slow
def test_recipe_passes_on_good_data_and_fails_on_a_blocking_check(retail: Path) -> None:
    good = _materialize(retail)
    assert good.returncode == 0, good.stdout[-3000:] + good.stderr[-3000:]
    assert (retail / "lake" / "bronze" / "orders" / "_delta_log").is_dir()

    # An order without a customer: the not_null contract of bronze.raw_orders is blocking.
    orders = retail / "landing" / "orders" / "2026-11-01.csv"
    lines = orders.read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    row = lines[1].split(",")
    row[header.index("customer_id")] = ""
    orders.write_text("\n".join([*lines, ",".join(row)]) + "\n", encoding="utf-8")

    bad = _materialize(retail)
    output = bad.stdout + bad.stderr
    assert bad.returncode == 1, output[-3000:]
    assert "not_null" in output and "customer_id" in output
