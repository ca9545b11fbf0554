"""Column types on every engine: a Delta table keeps the types it was created with, a file with
no data rows creates no table of guessed types, and a number its column cannot hold fails the
read naming the file, the line, the column and the value."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from odibi_core.config import load_project
from odibi_core.engines.base import Engine
from odibi_core.errors import DataError
from odibi_core.node import NodeRunner
from odibi_core.story._format import write_facts

from conformance_projects import run_nodes, write_project


def _project(root: Path, engine: Engine, data: str, *, fmt: str = "csv", options: str = "",
             extra: str = "") -> Path:
    read_options = f", options: {options}" if options else ""
    return write_project(root, engine, f"""\
        - name: people
          read: {{connection: src, format: {fmt}, path: data.{fmt}{read_options}}}{extra}
          write: {{connection: lake, format: delta, path: people, mode: append}}
        """, files={f"data.{fmt}": data})


def _table(root: Path) -> tuple[dict[str, str], list[dict]]:
    from deltalake import DeltaTable  # the stored table, read independently of the engine

    table = DeltaTable(str(root / "lake" / "people")).to_pyarrow_table()
    rows = sorted(table.to_pylist(), key=lambda row: str(row.get("id")))
    return {f.name: str(f.type) for f in table.schema}, rows


def _second_batch(root: Path, engine: Engine, data: str, run_id: str = "r2"):
    (root / "src" / "data.csv").write_text(data, encoding="utf-8")
    return run_nodes(root / "odibi.yaml", engine, run_id=run_id)["people"]


# ---- (a) a csv file with a header only ---------------------------------------------------------
def test_header_only_csv_creates_no_table_and_the_first_rows_set_the_types(engine, tmp_path):
    path = _project(tmp_path, engine, "id,name\n")
    run = run_nodes(path, engine)["people"]
    assert run.succeeded, run.result.error
    assert [(c.name, c.type) for c in run.result.schema_out] == [("id", "null"),
                                                                ("name", "null")]
    write = run.result.write
    assert write.skipped == "no_rows_unknown_types" and write.rows_written == 0
    assert not (tmp_path / "lake" / "people").exists()
    assert any("table was not created" in text for _, text in write_facts(write))

    with pytest.raises(DataError, match=r"people has written no rows to lake:people yet") as info:
        NodeRunner(load_project(path), engine).read_target("p.people")
    assert "read.options.schema" in info.value.fix

    run = _second_batch(tmp_path, engine, "id,name\n1,ada\n")
    assert run.succeeded, run.result.error
    types, rows = _table(tmp_path)
    assert types == {"id": "int64", "name": "string"} and rows == [{"id": 1, "name": "ada"}]


def test_header_only_csv_with_declared_types_creates_the_table(engine, tmp_path):
    path = _project(tmp_path, engine, "id,name\n", options="{schema: {id: int64, name: string}}")
    run = run_nodes(path, engine)["people"]
    assert run.succeeded, run.result.error
    assert run.result.write.skipped is None
    assert _table(tmp_path) == ({"id": "int64", "name": "string"}, [])


def test_an_all_empty_column_takes_the_table_type(engine, tmp_path):
    path = _project(tmp_path, engine, "id,score\n1,10\n")
    assert run_nodes(path, engine)["people"].succeeded
    run = _second_batch(tmp_path, engine, "id,score\n2,\n")  # score: all nulls, type unknown
    assert run.succeeded, run.result.error
    assert _table(tmp_path) == ({"id": "int64", "score": "int64"},
                                [{"id": 1, "score": 10}, {"id": 2, "score": None}])


# ---- (a, d) appending other types ----------------------------------------------------------------
@pytest.mark.parametrize("first, second, column, table_type, incoming, sample", [
    ("id,name\n1,ada\n", "id,name\nx7,tim\n", "id", "int64", "string", "'x7' in row 1"),
    ("id,name\nx7,ada\n", "id,name\n2,tim\n", "id", "string", "int64", "2 in row 1"),
    ("id,score\n1,10\n", "id,score\n2,\n3,2.5\n", "score", "int64", "float64", "2.5 in row 2"),
], ids=["text_into_int", "int_into_text", "float_into_int"])
def test_a_write_of_other_types_fails_naming_the_column_and_writes_nothing(
        engine, tmp_path, first, second, column, table_type, incoming, sample):
    path = _project(tmp_path, engine, first)
    assert run_nodes(path, engine)["people"].succeeded
    before = _table(tmp_path)
    run = _second_batch(tmp_path, engine, second)
    assert not run.succeeded
    error = run.result.error
    assert error.type == "DataError" and error.phase == "write"
    message = error.message
    assert "lake:people" in message and f"column '{column}'" in message
    assert f"is {table_type} in the table" in message and f"brings {incoming}" in message
    assert sample in message
    assert "cast_columns" in error.fix and "schema_policy" in error.fix
    assert _table(tmp_path) == before


def test_narrower_numbers_widen_to_the_table_type(engine, tmp_path):
    path = _project(tmp_path, engine, "id,amount\n1,1.5\n")
    assert run_nodes(path, engine)["people"].succeeded
    run = _second_batch(tmp_path, engine, "id,amount\n2,3\n")  # amount read as int64
    assert run.succeeded, run.result.error
    types, rows = _table(tmp_path)
    assert types["amount"] == "double"
    assert rows == [{"id": 1, "amount": 1.5}, {"id": 2, "amount": 3.0}]


POLICY = "\n          schema_policy: {mode: enforce}"


def test_schema_policy_casts_to_the_table_types_instead(engine, tmp_path):
    path = _project(tmp_path, engine, "id,code\n1,x7\n", extra=POLICY)
    assert run_nodes(path, engine)["people"].succeeded
    run = _second_batch(tmp_path, engine, "id,code\n2,7\n")  # code read as int64
    assert run.succeeded, run.result.error
    assert run.result.extra["schema_policy"]["cast_columns"] == ["code"]
    assert _table(tmp_path)[1] == [{"id": 1, "code": "x7"}, {"id": 2, "code": "7"}]


# ---- (b, c) numbers a column cannot hold ---------------------------------------------------------
OVERFLOWS = [
    ("csv", "id,name\n1,a\n99999999999999999999999,b\n", "line 3", "id",
     "99999999999999999999999"),
    ("csv", "id\n-99999999999999999999999\n", "line 2", "id", "-99999999999999999999999"),
    ("csv", "id\n18446744073709551615\n", "line 2", "id", "18446744073709551615"),
    ("csv", "id,v\n1,2.5\n2,1e400\n", "line 3", "v", "1e400"),
    ("csv", "id,v\n1,-1E+400\n", "line 2", "v", "-1E+400"),
    ("json", '{"id": 1}\n\n{"id": 99999999999999999999999}\n', "line 3", "id",
     "99999999999999999999999"),
    ("json", '{"id": 1, "v": 2.5}\n{"id": 2, "v": 1e400}\n', "line 2", "v", "1e400"),
    ("json", '[{"id": 1}, {"id": 99999999999999999999999}]', "record 2 of the JSON array", "id",
     "99999999999999999999999"),
]


@pytest.mark.parametrize("fmt, data, where, column, value", OVERFLOWS,
                         ids=[f"{o[0]}-{i}" for i, o in enumerate(OVERFLOWS)])
def test_a_number_its_column_cannot_hold_fails_the_read(engine, tmp_path, fmt, data, where,
                                                        column, value):
    path = _project(tmp_path, engine, data, fmt=fmt)
    run = run_nodes(path, engine)["people"]
    assert not run.succeeded
    message = run.result.error.message
    assert f"src:data.{fmt}, {where}, column '{column}': {value} is" in message, message
    assert "read.options.schema" in run.result.error.fix
    assert not (tmp_path / "lake" / "people").exists()


@pytest.mark.parametrize("fmt, data, line", [
    ("csv", "id,v\n1,2.5\n2,1e400\n", 3),
    ("json", '{"id": 1, "v": 2.5}\n{"id": 2, "v": 1e400}\n', 2),
])
def test_a_declared_float_column_refuses_a_literal_beyond_float64(engine, tmp_path, fmt, data,
                                                                  line):
    path = _project(tmp_path, engine, data, fmt=fmt, options="{schema: {v: float64}}")
    run = run_nodes(path, engine)["people"]
    assert not run.succeeded
    message = run.result.error.message
    assert f"src:data.{fmt}, line {line}" in message and "1e400" in message, message
    assert "is not float64 in column v" in message


def test_declared_types_read_the_big_numbers(engine, tmp_path):
    path = _project(tmp_path, engine, "id,v\n99999999999999999999999,1e400\n",
                    options='{schema: {id: "decimal(38,0)", v: string}}')
    run = run_nodes(path, engine)["people"]
    assert run.succeeded, run.result.error
    assert _table(tmp_path)[1] == [{"id": Decimal("99999999999999999999999"), "v": "1e400"}]


@pytest.mark.parametrize("fmt, data, options", [
    ("csv", "id,v\n1,inf\n2,-Infinity\n3,1.5\n", ""),
    ("json", '{"id": 1, "v": Infinity}\n{"id": 2, "v": -Infinity}\n{"id": 3, "v": 1.5}\n', ""),
    ("json", '{"id": 1, "v": Infinity}\n{"id": 2, "v": -Infinity}\n{"id": 3, "v": 1.5}\n',
     "{schema: {v: float64}}"),
], ids=["csv", "json", "json-declared"])
def test_the_words_inf_and_infinity_stay_infinity(engine, tmp_path, fmt, data, options):
    path = _project(tmp_path, engine, data, fmt=fmt, options=options)
    run = run_nodes(path, engine)["people"]
    assert run.succeeded, run.result.error
    assert [r["v"] for r in _table(tmp_path)[1]] == [float("inf"), float("-inf"), 1.5]


def test_big_integers_in_a_text_column_stay_text(engine, tmp_path):
    path = _project(tmp_path, engine, "id,ref\n1,abc\n2,99999999999999999999999\n")
    run = run_nodes(path, engine)["people"]
    assert run.succeeded, run.result.error
    assert [r["ref"] for r in _table(tmp_path)[1]] == ["abc", "99999999999999999999999"]


def test_schema_policy_names_the_target_and_the_value_that_does_not_convert(engine, tmp_path):
    path = _project(tmp_path, engine, "id,v\n1,2\n", extra=POLICY)
    assert run_nodes(path, engine)["people"].succeeded
    run = _second_batch(tmp_path, engine, "id,v\n2,3\n3,x7\n")
    assert not run.succeeded
    message = run.result.error.message
    assert "lake:people (v string -> int64)" in message and "'x7'" in message, message
    assert len(_table(tmp_path)[1]) == 1
