"""Shared fixtures: real example projects copied into a temporary folder, a temporary
DAGSTER_HOME for every test."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"


def copy_example(name: str, target: Path) -> Path:
    """Copy ``examples/<name>`` (without outputs or state) to ``target`` and return the copy."""
    shutil.copytree(EXAMPLES / name, target,
                    ignore=shutil.ignore_patterns("lake*", ".odibi", "__pycache__"))
    return target


@pytest.fixture
def retail(tmp_path: Path) -> Path:
    """A fresh copy of examples/retail; outputs go under it."""
    return copy_example("retail", tmp_path / "retail")


@pytest.fixture(autouse=True)
def dagster_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n", encoding="utf-8")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.delenv("ODIBI_ENV", raising=False)
    monkeypatch.delenv("ODIBI_PROJECT", raising=False)
    yield home


@pytest.fixture(autouse=True)
def fresh_transform_registry() -> Iterator[None]:
    """Each test's project registers its own transforms.py; forget them afterwards."""
    from odibi_core.transforms.registry import clear_user_transforms

    yield
    clear_user_transforms()


# ---- Spark: one session for the whole test run ----------------------------------------------
SPARK_TEST_CONFIG = {
    # The suite runs hundreds of jobs on tiny data on a 2-core machine: what costs is the
    # per-job overhead, not the data. Without adaptive execution and broadcast joins a query is
    # one job (not one per shuffle stage and broadcast), and whole-stage code generation would
    # compile code that runs once.
    "spark.sql.shuffle.partitions": "2",
    "spark.databricks.delta.snapshotPartitions": "2",
    "spark.sql.adaptive.enabled": "false",
    "spark.sql.autoBroadcastJoinThreshold": "-1",
    "spark.sql.codegen.wholeStage": "false",
    "spark.ui.enabled": "false",
}


@pytest.fixture(scope="session")
def spark_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """The local SparkSession (Delta Lake configured) every Spark test shares; stopped at the
    end of the run."""
    from odibi_core.engines.spark_session import spark_session as build

    warehouse = tmp_path_factory.mktemp("spark-warehouse")  # not ./spark-warehouse
    session = build({**SPARK_TEST_CONFIG, "spark.sql.warehouse.dir": str(warehouse)})
    yield session
    session.stop()


def pytest_report_header(config: pytest.Config) -> list[str]:
    """The Spark and Delta versions the Spark tests run with (never fails the header)."""
    try:
        from odibi_core.engines.spark_session import versions

        found = versions()
        return [f"spark: pyspark {found['spark']}, delta-spark {found['delta']} "
                f"(jars {found['delta_jars']})"]
    except Exception as exc:  # noqa: BLE001 - a header must not break the run
        return [f"spark: versions unavailable ({type(exc).__name__})"]
