"""The `odibi` command, as a user runs it: through Dagster, against a real instance."""

from __future__ import annotations

import json
import re
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
from deltalake import DeltaTable

from odibi_dagster.cli.main import main

ODIBI = [sys.executable, "-m", "odibi_dagster.cli.main"]
REPO = Path(__file__).resolve().parents[2]


def odibi(*args: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None
          ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*ODIBI, *map(str, args)], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, **(env or {})}, timeout=300)


def test_run_everything_twice_is_stable_and_recorded_in_dagster(retail: Path,
                                                                 capsys: pytest.CaptureFixture[str],
                                                                 dagster_home: Path) -> None:
    assert main(["run", str(retail)]) == 0
    out = capsys.readouterr().out
    assert "done  sales.clean_orders" in out  # per-node progress
    assert "Story: " in out and out.count("Story: ") == 2
    first = DeltaTable(str(retail / "lake" / "silver" / "orders")).to_pandas()

    assert main(["run", str(retail)]) == 0
    table = DeltaTable(str(retail / "lake" / "silver" / "orders"))
    assert table.version() == 1  # overwrite: a second version with the same rows
    pd.testing.assert_frame_equal(table.to_pandas().sort_values("order_id").reset_index(drop=True),
                                  first.sort_values("order_id").reset_index(drop=True))
    with dg.DagsterInstance.get() as instance:
        runs = instance.get_runs()
        assert len(runs) == 2 and all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs)
        assert runs[0].tags["odibi/env"] == "default"


def test_tag_selection_pulls_in_upstream(retail: Path) -> None:
    assert main(["run", str(retail), "--tag", "finance"]) == 0
    lake = retail / "lake"
    assert (lake / "gold" / "revenue_by_country.parquet").exists()
    assert (lake / "gold" / "daily_sales.csv").exists()
    assert (lake / "silver" / "orders" / "_delta_log").exists()  # needed upstream


def test_node_only_runs_just_that_node(retail: Path) -> None:
    assert main(["run", str(retail), "--pipeline", "bronze"]) == 0
    assert main(["run", str(retail), "--node", "clean_customers", "--only"]) == 0
    lake = retail / "lake"
    assert (lake / "silver" / "customers" / "_delta_log").exists()
    assert not (lake / "silver" / "orders").exists()
    customers = DeltaTable(str(lake / "silver" / "customers")).to_pandas()
    assert sorted(customers["customer_id"]) == [1, 2, 3, 4, 5, 6]  # the duplicate is gone
    assert set(customers["country"]) == {"UK", "US", "NL"}
    assert "Ada Lovelace" in set(customers["name"])
    assert "alan@example.com" in set(customers["email"])


def test_node_pulls_in_upstream_by_default(retail: Path) -> None:
    assert main(["run", str(retail), "--node", "sales.clean_customers"]) == 0
    lake = retail / "lake"
    assert (lake / "bronze" / "customers" / "_delta_log").exists()
    assert not (lake / "bronze" / "orders").exists()


def test_env_selects_environment_and_is_recorded(retail: Path) -> None:
    assert main(["run", str(retail), "--env", "prod", "--pipeline", "bronze"]) == 0
    assert (retail / "lake_prod" / "bronze" / "orders" / "_delta_log").exists()
    assert not (retail / "lake").exists()
    story = next((retail / "lake_prod" / "_stories").rglob("*.json"))
    assert json.loads(story.read_text())["environment"] == "prod"
    with dg.DagsterInstance.get() as instance:
        assert instance.get_runs()[0].tags["odibi/env"] == "prod"


def test_unknown_environment_lists_known_ones(retail: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(retail), "--env", "staging"]) == 1
    err = capsys.readouterr().err
    assert "staging" in err and "prod" in err
    assert not (retail / "lake").exists()


def test_dry_run_writes_nothing(retail: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(retail), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"raw_orders +\d+ rows out, dry run: would write \d+ rows to "
                     r"lake:bronze/orders \(delta, overwrite\)", out), out
    lake = retail / "lake"
    assert not (lake / "bronze").exists() and not (lake / "silver").exists()
    assert not (lake / "gold").exists() and not (lake / "_quarantine").exists()
    system = retail / ".odibi" / "system"
    assert not (system / "ledger").exists() and not (system / "state").exists()


def test_multiprocess_executor_runs_each_asset_in_its_own_process(retail: Path) -> None:
    assert main(["run", str(retail), "--executor", "multiprocess"]) == 0
    revenue = pd.read_parquet(retail / "lake" / "gold" / "revenue_by_country.parquet")
    assert list(revenue["country"]) == ["US", "UK"]


def test_failed_node_exits_non_zero_and_names_the_fix(retail: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    sales = retail / "pipelines" / "sales.yaml"
    sales.write_text(sales.read_text().replace("o.quantity * o.unit_price",
                                               "o.quantity * o.missing_price"))
    assert main(["run", str(retail)]) == 1
    captured = capsys.readouterr()
    assert "sales.clean_orders" in captured.out and "missing_price" in captured.out
    assert "Fix:" in captured.out
    assert "not run: an upstream node failed" in captured.out  # revenue_by_country, daily_sales
    assert not (retail / "lake" / "silver" / "orders").exists()


def test_bad_project_lists_every_problem_and_runs_nothing(retail: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    project = retail / "odibi.yaml"
    text = project.read_text()
    text = text.replace("format: csv, path: \"orders/*.csv\"", "formt: csv, path: \"orders/*.csv\"")
    text = text.replace("connection: landing, format: csv, path: customers/customers.csv",
                        "connection: landng, format: csv, path: customers/customers.csv")
    project.write_text(text)
    assert main(["run", str(retail)]) == 1
    err = capsys.readouterr().err
    assert "formt" in err and "format" in err  # did-you-mean
    assert "landng" in err and "landing" in err
    assert f"{project}:" in err  # file and line
    assert not (retail / "lake").exists()


def test_validate_graph_and_story(retail: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(retail)]) == 0
    assert "7 node(s)" in capsys.readouterr().out
    assert main(["graph", str(retail)]) == 0
    ascii_graph = capsys.readouterr().out
    assert "clean_orders  <- clean_customers, bronze.raw_orders (inputs)" in ascii_graph
    assert main(["graph", str(retail), "--format", "mermaid"]) == 0
    assert "bronze__raw_orders --> sales__clean_orders" in capsys.readouterr().out
    assert main(["story", "last", str(retail)]) == 1  # no run yet
    assert main(["run", str(retail), "--pipeline", "bronze"]) == 0
    capsys.readouterr()
    assert main(["story", "last", str(retail)]) == 0
    assert "raw_orders" in capsys.readouterr().out


def test_init_creates_a_runnable_project(tmp_path: Path) -> None:
    target = tmp_path / "starter"
    assert main(["init", str(target)]) == 0
    assert main(["validate", str(target)]) == 0
    assert main(["run", str(target)]) == 0
    assert main(["init", str(target)]) == 1  # never overwrites


@pytest.mark.slow
def test_console_entry_and_dagster_cli_materialize_a_selection(retail: Path) -> None:
    env = {"ODIBI_PROJECT": str(retail / "odibi.yaml")}
    validate = subprocess.run(
        [sys.executable, "-m", "dagster", "definitions", "validate", "-m",
         "odibi_dagster.definitions"], capture_output=True, text=True,
        env={**os.environ, **env}, timeout=300)
    assert validate.returncode == 0, validate.stderr[-2000:]
    run = subprocess.run(
        [sys.executable, "-m", "dagster", "asset", "materialize", "-m",
         "odibi_dagster.definitions", "--select", "tag:ingest"], capture_output=True, text=True,
        env={**os.environ, **env}, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert (retail / "lake" / "bronze" / "products" / "_delta_log").exists()
    assert not (retail / "lake" / "silver").exists()
    workspace = subprocess.run(
        [sys.executable, "-m", "dagster", "definitions", "validate", "-w",
         str(REPO / "dagster_workspace.yaml")], capture_output=True, text=True, cwd=REPO,
        env={**os.environ, **env}, timeout=300)
    assert workspace.returncode == 0, workspace.stderr[-2000:]
    assert "passed validation" in workspace.stdout + workspace.stderr
    cli = odibi("validate", retail)
    assert cli.returncode == 0 and "OK" in cli.stdout
