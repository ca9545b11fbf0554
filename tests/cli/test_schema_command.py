"""`odibi schema`: the project file's JSON Schema on stdout or into a file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from odibi_core.config.json_schema import project_file_schema
from odibi_dagster.cli.main import main

REPO = Path(__file__).resolve().parents[2]


def test_prints_the_schema_as_committed(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    out = capsys.readouterr().out
    schema = json.loads(out)
    assert schema == project_file_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert out == (REPO / "docs" / "odibi.schema.json").read_text(encoding="utf-8")
    assert list(Draft202012Validator(schema).iter_errors({"projec": "typo"}))


def test_output_writes_the_file_and_says_how_to_use_it(tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "odibi.schema.json"
    assert main(["schema", "--output", str(target)]) == 0
    assert json.loads(target.read_text(encoding="utf-8")) == project_file_schema()
    assert "# yaml-language-server: $schema=" in capsys.readouterr().out


def test_output_into_a_missing_folder_fails_with_the_fix(tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]
                                                         ) -> None:
    target = tmp_path / "missing" / "odibi.schema.json"
    assert main(["schema", "-o", str(target)]) == 1
    err = capsys.readouterr().err
    assert f"Cannot write the schema to {target}" in err and "Fix:" in err
    assert not target.exists()
