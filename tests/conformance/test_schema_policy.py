"""schema_policy: the output is shaped like its existing target (enforce / evolve)."""

from __future__ import annotations

from pathlib import Path

import pytest

from odibi_core.engines.base import Engine

from conformance_projects import run_nodes, write_project

FIRST = "id,name,score\n1,ada,10\n2,tim,20\n"


def _project(tmp_path: Path, engine: Engine, policy: str, csv: str) -> Path:
    return write_project(tmp_path, engine, f"""\
        - name: people
          read: {{connection: src, format: csv, path: people.csv}}
          schema_policy: {policy}
          write: {{connection: lake, format: delta, path: people, mode: append}}
        """, files={"people.csv": csv})


def _stored(tmp_path: Path) -> tuple[list[str], list[dict]]:
    from deltalake import DeltaTable  # the stored table, read independently of the engine

    table = DeltaTable(str(tmp_path / "lake" / "people")).to_pyarrow_table()
    return table.column_names, sorted(table.to_pylist(), key=lambda r: r["id"])


def _run_twice(tmp_path, engine, policy, second_csv):
    path = _project(tmp_path, engine, policy, FIRST)
    assert run_nodes(path, engine)["people"].succeeded
    (tmp_path / "src" / "people.csv").write_text(second_csv, encoding="utf-8")
    return run_nodes(path, engine, run_id="r2")["people"]


def test_first_write_takes_the_output_as_it_is(engine, tmp_path):
    path = _project(tmp_path, engine, "{mode: enforce}", FIRST)
    run = run_nodes(path, engine)["people"]
    assert run.succeeded, run.result.error
    assert run.result.extra["schema_policy"]["target_exists"] is False
    assert _stored(tmp_path)[0] == ["id", "name", "score"]


def test_enforce_drops_new_fills_missing_and_keeps_target_types(engine, tmp_path):
    run = _run_twice(tmp_path, engine, "{mode: enforce}",
                     "extra,id,score\nx,3,30.5\n")  # new 'extra', no 'name', score float
    assert not run.succeeded  # 30.5 does not fit the target's int64 score
    assert "score" in run.result.error.message and "int64" in run.result.error.message

    run = _run_twice(tmp_path / "b", engine, "{mode: enforce}", "extra,id,score\nx,3,30\n")
    assert run.succeeded, run.result.error
    columns, rows = _stored(tmp_path / "b")
    assert columns == ["id", "name", "score"]
    assert rows[-1] == {"id": 3, "name": None, "score": 30}
    report = run.result.extra["schema_policy"]
    assert report["dropped_columns"] == ["extra"] and report["filled_columns"] == ["name"]


@pytest.mark.parametrize("policy, fragment", [
    ("{mode: enforce, on_new_columns: fail}", "does not: extra"),
    ("{mode: enforce, on_missing_columns: fail}", "lacks column(s) of the target"),
])
def test_fail_options_stop_the_node_and_write_nothing(engine, tmp_path, policy, fragment):
    run = _run_twice(tmp_path, engine, policy, "extra,id,score\nx,3,30\n")
    assert not run.succeeded and fragment in run.result.error.message
    assert run.result.error.fix
    assert len(_stored(tmp_path)[1]) == 2


def test_evolve_adds_new_columns_to_the_target(engine, tmp_path):
    run = _run_twice(tmp_path, engine, "{mode: evolve}", "id,name,score,city\n3,al,30,Oslo\n")
    assert run.succeeded, run.result.error
    columns, rows = _stored(tmp_path)
    assert columns == ["id", "name", "score", "city"]
    assert [r["city"] for r in rows] == [None, None, "Oslo"]
    assert run.result.extra["schema_policy"]["added_columns"] == ["city"]
