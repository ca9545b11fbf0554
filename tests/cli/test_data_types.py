"""Column types through `odibi run`: bad data fails the node with the clear message and its fix,
never a traceback, and writes nothing; a file with a header only creates no table."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from deltalake import DeltaTable

from odibi_dagster.cli.main import main

PROJECT = """\
project: types
engine: pandas
connections:
  src: {type: local, base_path: ./src}
  lake: {type: local, base_path: ./lake}
system: {connection: lake, path: _system}
pipelines:
  - pipeline: p
    nodes:
      - name: people
        read: {connection: src, format: csv, path: people.csv}
        write: {connection: lake, format: delta, path: people, mode: append}
"""


DOWNSTREAM = """\
      - name: summary
        depends_on: [people]
        transform: {steps: [{sql: "SELECT count(*) AS n FROM people"}]}
        write: {connection: lake, format: delta, path: summary}
"""


def _project(root: Path, csv: str, extra: str = "") -> Path:
    (root / "src").mkdir(parents=True, exist_ok=True)
    (root / "src" / "people.csv").write_text(csv, encoding="utf-8")
    (root / "odibi.yaml").write_text(textwrap.dedent(PROJECT) + extra, encoding="utf-8")
    return root


def _failed_run(root: Path, capsys: pytest.CaptureFixture[str]) -> str:
    return _failed_run_of(["run", str(root)], capsys)


def _failed_run_of(command: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(command) == 1
    captured = capsys.readouterr()
    output = captured.out + captured.err
    assert "Traceback" not in output and "Fix:" in output
    return output


def test_a_number_beyond_int64_names_file_line_column_and_fix(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _project(tmp_path, "id,name\n1,ada\n99999999999999999999999,tim\n")
    output = _failed_run(root, capsys)
    assert "src:people.csv, line 3, column 'id': 99999999999999999999999 is an integer " \
           "outside the int64 range" in output, output
    assert 'read.options.schema: {id: "decimal(38,0)"}' in output
    assert not (root / "lake" / "people").exists()


def test_text_into_an_int_table_names_target_column_types_and_value(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _project(tmp_path, "id,name\n1,ada\n")
    assert main(["run", str(root)]) == 0
    (root / "src" / "people.csv").write_text("id,name\nx7,tim\n", encoding="utf-8")
    output = _failed_run(root, capsys)
    assert "Cannot append to the Delta table lake:people: column 'id' is int64 in the table, " \
           "and this write brings string (e.g. 'x7' in row 1)" in output, output
    assert "cast_columns" in output and "schema_policy" in output
    assert DeltaTable(str(root / "lake" / "people")).to_pyarrow_table().to_pylist() == [
        {"id": 1, "name": "ada"}]


def test_a_header_only_file_creates_no_table_and_downstream_gets_its_empty_output(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _project(tmp_path, "id,name\n", DOWNSTREAM)
    assert main(["run", str(root)]) == 0
    out = capsys.readouterr().out
    assert "0 rows written (no rows of known types: the table was not created)" in out, out
    assert not (root / "lake" / "people").exists()
    assert DeltaTable(str(root / "lake" / "summary")).to_pyarrow_table().to_pylist() == [
        {"n": 0}]

    output = _failed_run_of(["run", str(root), "--node", "summary", "--only"], capsys)
    assert "p.people has written no rows to lake:people yet" in output, output
