"""Reading and writing csv, parquet and json: single files, folders of part files, globs."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from odibi_core.connections import LocalConnection
from odibi_core.engines.base import Engine
from odibi_core.errors import ConfigError, DataError
from odibi_core.storage.requests import ReadRequest, WriteRequest
from odibi_core.testing import assert_frames_equal, frame_from_rows

ROWS = [
    {"id": 1, "name": "ada", "amount": 10.5, "active": True},
    {"id": 2, "name": None, "amount": None, "active": False},
    {"id": 3, "name": "alan", "amount": 7.25, "active": None},
]


def _frame(engine: Engine, rows=ROWS):
    return frame_from_rows(engine, rows, schema={"id": "int64", "name": "string",
                                                 "amount": "float64", "active": "bool"})


def _write(engine, lake, frame, path, fmt, mode="overwrite", **kw):
    return engine.write(frame, WriteRequest(location=lake.resolve(path), format=fmt, mode=mode,
                                            **kw))


def _read(engine, lake, path, fmt, **kw):
    return engine.read(ReadRequest(location=lake.resolve(path), format=fmt, **kw))


def _visible(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize("fmt,path", [
    ("csv", "out/orders.csv"), ("parquet", "out/orders.parquet"), ("json", "out/orders.json"),
    ("json", "out/orders.jsonl"),
])
def test_single_file_round_trip(engine, lake, fmt, path):
    result = _write(engine, lake, _frame(engine), path, fmt)
    assert result.rows_written == 3 and result.files_written == 1
    assert result.format == fmt and result.connection == "lake"
    assert os.path.isfile(lake.resolve(path).uri)
    assert _visible(Path(lake.resolve(path).uri).parent) == [Path(path).name]  # no temp files
    assert_frames_equal(engine, _read(engine, lake, path, fmt), ROWS)


@pytest.mark.parametrize("fmt", ["csv", "parquet", "json"])
def test_folder_overwrite_then_append(engine, lake, fmt):
    _write(engine, lake, _frame(engine), "out/orders", fmt)
    folder = Path(lake.resolve("out/orders").uri)
    first = _visible(folder)
    assert len(first) == 1 and first[0].startswith("part-00000-") and first[0].endswith(f".{fmt}")

    _write(engine, lake, _frame(engine, ROWS[:1]), "out/orders", fmt, mode="append")
    parts = _visible(folder)
    assert len(parts) == 2 and parts[1].startswith("part-00001-")
    assert_frames_equal(engine, _read(engine, lake, "out/orders", fmt), ROWS + ROWS[:1])

    _write(engine, lake, _frame(engine, ROWS[1:2]), "out/orders", fmt)  # overwrite swaps folder
    assert len(_visible(folder)) == 1
    assert _visible(folder.parent) == ["orders"]
    assert_frames_equal(engine, _read(engine, lake, "out/orders", fmt), ROWS[1:2])


def test_append_to_single_file_is_refused(engine, lake):
    _write(engine, lake, _frame(engine), "out/orders.parquet", "parquet")
    with pytest.raises(DataError, match=r"Cannot append to lake:out/orders.parquet.*single "
                                        r"parquet file[\s\S]*folder path"):
        _write(engine, lake, _frame(engine), "out/orders.parquet", "parquet", mode="append")


@pytest.mark.parametrize("mode", ["upsert", "append_once"])
def test_merge_modes_need_delta(engine, lake, mode):
    with pytest.raises(DataError, match=rf"Mode '{mode}' needs a Delta target"):
        _write(engine, lake, _frame(engine), "out/orders", "csv", mode=mode,
               options={"keys": ["id"]})


def test_csv_glob_reads_every_match(engine, lake, tmp_path):
    landing = tmp_path / "lake" / "orders"
    landing.mkdir(parents=True)
    (landing / "a.csv").write_text("id,amount\n1,2.5\n2,3\n")
    (landing / "b.csv").write_text("id,amount\n3,4\n")
    (landing / "notes.txt").write_text("ignored\n")
    frame = _read(engine, lake, "orders/*.csv", "csv")
    assert_frames_equal(engine, frame, [{"id": 1, "amount": 2.5}, {"id": 2, "amount": 3.0},
                                        {"id": 3, "amount": 4.0}],
                        schema={"id": "int64", "amount": "float64"})


def test_glob_without_match_names_glob_and_folder(engine, lake, tmp_path):
    (tmp_path / "lake" / "orders").mkdir(parents=True)
    with pytest.raises(DataError, match=r"No file matches lake:orders/\*.csv \(glob '\*.csv' "
                                        r"searched in .*orders, which exists\)"):
        _read(engine, lake, "orders/*.csv", "csv")


def test_missing_path_is_a_data_error(engine, lake):
    with pytest.raises(DataError, match=r"lake:nowhere/x.csv does not exist"):
        _read(engine, lake, "nowhere/x.csv", "csv")


def test_csv_options_and_types(engine, lake, tmp_path):
    path = tmp_path / "lake" / "semi.csv"
    path.parent.mkdir(parents=True)
    path.write_text("1;x;true;2024-01-05\n2;;false;\n", encoding="latin-1")
    frame = _read(engine, lake, "semi.csv", "csv",
                  options={"header": False, "sep": ";", "encoding": "latin-1"})
    assert_frames_equal(engine, frame, [
        {"_c0": 1, "_c1": "x", "_c2": True, "_c3": "2024-01-05"},
        {"_c0": 2, "_c1": None, "_c2": False, "_c3": None},
    ], schema={"_c0": "int64", "_c1": "string", "_c2": "bool", "_c3": "string"})
    strings = _read(engine, lake, "semi.csv", "csv",
                    options={"header": False, "delimiter": ";", "infer_schema": False})
    assert_frames_equal(engine, strings, [
        {"_c0": "1", "_c1": "x", "_c2": "true", "_c3": "2024-01-05"},
        {"_c0": "2", "_c1": None, "_c2": "false", "_c3": None},
    ])


def test_csv_writes_lowercase_booleans(engine, lake):
    _write(engine, lake, _frame(engine), "out/flags.csv", "csv")
    text = Path(lake.resolve("out/flags.csv").uri).read_text()
    assert text.splitlines()[0] == "id,name,amount,active"
    assert text.splitlines()[1] == "1,ada,10.5,true"


def test_malformed_csv_names_file_and_line(engine, lake, tmp_path):
    path = tmp_path / "lake" / "bad.csv"
    path.parent.mkdir(parents=True)
    path.write_text("a,b\n1,2\n3,4,5\n")
    with pytest.raises(DataError, match=r"bad.csv[\s\S]*line 3"):
        _read(engine, lake, "bad.csv", "csv")


def test_unknown_csv_option_suggests(engine, lake, tmp_path):
    (tmp_path / "lake").mkdir()
    (tmp_path / "lake" / "a.csv").write_text("a\n1\n")
    with pytest.raises(ConfigError, match=r"Unknown csv read option 'heder'. Did you mean "
                                          r"'header'\?"):
        _read(engine, lake, "a.csv", "csv", options={"heder": True})


def test_json_lines_and_array_documents(engine, lake, tmp_path):
    folder = tmp_path / "lake" / "products"
    folder.mkdir(parents=True)
    (folder / "a.jsonl").write_text('{"id": 1, "name": "cable"}\n\n{"id": 2, "tags": ["x"]}\n')
    (folder / "b.json").write_text(json.dumps([{"id": 3, "name": "desk", "when": "2024-01-01"}]))
    frame = _read(engine, lake, "products", "json")
    assert_frames_equal(engine, frame, [
        {"id": 1, "name": "cable", "tags": None, "when": None},
        {"id": 2, "name": None, "tags": ["x"], "when": None},
        {"id": 3, "name": "desk", "tags": None, "when": "2024-01-01"},
    ], check_column_order=False, schema={"id": "int64", "when": "string"})


def test_bad_json_line_names_file_and_line(engine, lake, tmp_path):
    path = tmp_path / "lake" / "p.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text('{"id": 1}\n{"id": \n')
    with pytest.raises(DataError, match=r"p.jsonl, line 2"):
        _read(engine, lake, "p.jsonl", "json")


def test_single_json_file_is_an_array_and_folder_parts_are_lines(engine, lake):
    _write(engine, lake, _frame(engine), "out/one.json", "json")
    assert json.loads(Path(lake.resolve("out/one.json").uri).read_text())[0]["id"] == 1
    _write(engine, lake, _frame(engine), "out/many", "json")
    part = next(Path(lake.resolve("out/many").uri).iterdir())
    assert [json.loads(line)["id"] for line in part.read_text().splitlines()] == [1, 2, 3]


def test_empty_frame_round_trip(engine, lake):
    empty = frame_from_rows(engine, [], schema={"id": "int64", "name": "string"})
    _write(engine, lake, empty, "out/empty.parquet", "parquet")
    back = _read(engine, lake, "out/empty.parquet", "parquet")
    assert_frames_equal(engine, back, [], columns=["id", "name"],
                        schema={"id": "int64", "name": "string"})


def test_unavailable_formats_say_so(engine, lake):
    with pytest.raises(ConfigError, match=rf"format 'avro' is not available on the "
                                          rf"{engine.name} engine yet"):
        _read(engine, lake, "x.avro", "avro")


def test_time_travel_on_files_is_refused(engine, lake):
    with pytest.raises(ConfigError, match=r"time_travel needs a Delta table"):
        _read(engine, lake, "x.csv", "csv", as_of_version=1)


def test_intermediate_round_trip(engine, tmp_path):
    frame = frame_from_rows(engine, [{"id": 1, "d": "2024-02-29"}], schema={"d": "date"})
    path = str(tmp_path / "steps" / "node.parquet")
    engine.write_intermediate(frame, path)
    assert_frames_equal(engine, engine.read_intermediate(path), [{"id": 1, "d": "2024-02-29"}],
                        schema={"id": "int64", "d": "date"})


def test_paths_outside_the_base_need_allow_outside_base_path(engine, tmp_path):
    with pytest.raises(ConfigError, match="leaves its base_path"):
        LocalConnection("lake", "lake", tmp_path).resolve("../shared/ids.csv")
    lake = LocalConnection("lake", "lake", tmp_path, allow_outside_base_path=True)
    frame = frame_from_rows(engine, [{"id": 1}])
    result = engine.write(frame, WriteRequest(location=lake.resolve("../shared/ids.csv"),
                                              format="csv"))
    assert result.location == str(tmp_path / "shared" / "ids.csv")
    assert (tmp_path / "shared" / "ids.csv").is_file()
