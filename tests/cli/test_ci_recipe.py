"""The README's Dagster CLI commands, run as written: ``dagster asset materialize`` of the whole
project materializes every output, and the CI recipe fails the CI job (exit code 1) when a
blocking check fails and passes when the data is good. Both run every step in the CLI's own
process (``--config-json`` with ``in_process``); benchmarks/cli_recipe_bench.py times them."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from odibi_dagster.executors import IN_PROCESS_RUN_CONFIG

REPO = Path(__file__).resolve().parents[2]
DAGSTER = str(Path(sys.executable).with_name("dagster"))
IN_PROCESS = "--config-json '{\"execution\":{\"config\":{\"in_process\":{}}}}'"
# The commands as the README writes them (the README is checked to contain them).
EVERYTHING = f"dagster asset materialize -m odibi_dagster.definitions --select '*' {IN_PROCESS}"
RECIPE = ("dagster asset materialize -m odibi_dagster.definitions --select 'group:bronze' "
          f"{IN_PROCESS}")
OUTPUTS = ["bronze/orders", "bronze/customers", "bronze/products", "silver/customers",
           "silver/orders", "gold/revenue_by_country.parquet", "gold/daily_sales.csv"]


def _dagster(command: str, project: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ODIBI_PROJECT": str(project / "odibi.yaml")}
    argv = shlex.split(command)
    assert argv[0] == "dagster"
    return subprocess.run([DAGSTER, *argv[1:]], capture_output=True, text=True, cwd=project,
                          env=env, timeout=300)


def test_readme_holds_the_commands() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert EVERYTHING in readme
    assert RECIPE in readme
    assert RECIPE in (REPO / "docs" / "dagster.md").read_text(encoding="utf-8")


def test_the_documented_config_is_odibis_in_process_run_config() -> None:
    argv = shlex.split(RECIPE)
    assert json.loads(argv[argv.index("--config-json") + 1]) == IN_PROCESS_RUN_CONFIG


@pytest.mark.slow
def test_materializing_everything_writes_every_output_in_one_process(retail: Path) -> None:
    done = _dagster(EVERYTHING, retail)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    for path in OUTPUTS:
        assert (retail / "lake" / path).exists(), path
    assert (retail / "lake" / "silver" / "orders" / "_delta_log").is_dir()
    # Every step ran in the CLI's process, not one process per step.
    assert "Executing steps in process" in output
    assert "Launching subprocess" not in output and "Executing steps using multiprocess" \
        not in output


@pytest.mark.slow
def test_recipe_passes_on_good_data_and_fails_on_a_blocking_check(retail: Path) -> None:
    good = _dagster(RECIPE, retail)
    assert good.returncode == 0, good.stdout[-3000:] + good.stderr[-3000:]
    assert (retail / "lake" / "bronze" / "orders" / "_delta_log").is_dir()

    # An order without a customer: the not_null contract of bronze.raw_orders is blocking.
    orders = retail / "landing" / "orders" / "2026-11-01.csv"
    lines = orders.read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    row = lines[1].split(",")
    row[header.index("customer_id")] = ""
    orders.write_text("\n".join([*lines, ",".join(row)]) + "\n", encoding="utf-8")

    bad = _dagster(RECIPE, retail)
    output = bad.stdout + bad.stderr
    assert bad.returncode == 1, output[-3000:]
    assert "not_null" in output and "customer_id" in output
