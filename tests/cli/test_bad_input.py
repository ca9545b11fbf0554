"""SPEC §13 through the CLI: a bad project file fails before any node runs, listing every problem
with file, line, key path and fix, and writes nothing."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from odibi_dagster.cli.main import main

# (case, file to edit, old text, new text, what the message must say)
CASES = [
    ("yaml_syntax", "odibi.yaml", "project: retail", "project: [retail", r"YAML syntax"),
    ("unknown_key", "odibi.yaml", "format: csv, path: customers", "formt: csv, path: customers",
     r"formt.*Did you mean 'format'"),
    ("wrong_type", "pipelines/sales.yaml", "tags: [daily, finance]", "tags: {daily: 1}",
     r"tags"),
    ("unknown_connection", "pipelines/sales.yaml", "connection: lake, format: csv",
     "connection: lakehouse, format: csv", r"lakehouse.*lake"),
    ("cycle", "pipelines/sales.yaml", "tags: [daily]\n        inputs: {customers:",
     "tags: [daily]\n        depends_on: [clean_orders]\n        inputs: {customers:",
     r"cycle.*clean_customers.*clean_orders"),
    ("missing_node", "pipelines/sales.yaml", "depends_on: [clean_customers]",
     "depends_on: [clean_customer]", r"clean_customer\b.*clean_customers"),
    ("missing_input", "pipelines/sales.yaml", "$bronze.raw_orders", "$bronze.raw_order",
     r"raw_order\b"),
    ("missing_env_var", "odibi.yaml", "base_path: ./lake}", "base_path: \"${LAKE_ROOT}\"}",
     r"LAKE_ROOT"),
]


@pytest.mark.parametrize("case, file, old, new, message", CASES, ids=[c[0] for c in CASES])
def test_bad_project_fails_before_running_with_file_and_line(
        retail: Path, capsys: pytest.CaptureFixture[str], case: str, file: str, old: str,
        new: str, message: str) -> None:
    path = retail / file
    text = path.read_text(encoding="utf-8")
    assert old in text, f"fixture text for {case} not found"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")

    for command in (["validate", str(retail)], ["run", str(retail)]):
        assert main(command) == 1
        err = capsys.readouterr().err
        assert re.search(message, err, re.S | re.I), err
        assert re.search(rf"{re.escape(str(retail))}/\S+:\d+", err), err  # file:line
        assert "Fix:" in err
    assert not (retail / "lake").exists()
    assert not (retail / ".odibi" / "dagster_home").exists() or not any(
        (retail / ".odibi" / "dagster_home").glob("history/runs/*"))


def test_unknown_environment_names_the_known_ones(retail: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(retail), "--env", "staging"]) == 1
    err = capsys.readouterr().err
    assert "staging" in err and "prod" in err and "Fix:" in err


def test_several_problems_are_reported_together(retail: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    sales = retail / "pipelines" / "sales.yaml"
    sales.write_text(sales.read_text()
                     .replace("depends_on: [clean_customers]", "depends_on: [clean_customer]")
                     .replace("connection: lake, format: csv", "connection: lakehouse, format: csv"))
    main_file = retail / "odibi.yaml"
    main_file.write_text(main_file.read_text().replace("format: csv, path: customers",
                                                       "formt: csv, path: customers"))
    assert main(["validate", str(retail)]) == 1
    err = capsys.readouterr().err
    assert "3 problems" in err
    assert "clean_customer" in err and "lakehouse" in err and "formt" in err
    assert f"{sales}:" in err and f"{main_file}:" in err
