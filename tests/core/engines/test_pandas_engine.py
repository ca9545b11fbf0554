"""pandas-specific behaviour: dtypes, conversions of user-built frames, JSON-safe samples,
engine selection, lazy imports, atomic writes and redaction."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from odibi_core.connections import LocalConnection
from odibi_core.engines import available_engines, get_engine
from odibi_core.errors import ConfigError, DataError
from odibi_core.storage.locations import ResolvedLocation
from odibi_core.storage.requests import ReadRequest, WriteRequest
from odibi_core.testing import assert_frames_equal


@pytest.fixture
def engine():
    return get_engine("pandas")


@pytest.fixture
def lake(tmp_path: Path) -> LocalConnection:
    return LocalConnection("lake", "lake", tmp_path)


# ---- choosing the engine ---------------------------------------------------------------------
def test_get_engine_by_name_and_alias():
    assert get_engine("pandas").name == "pandas"
    assert get_engine(" PD ").name == "pandas"
    assert available_engines() == ["pandas", "polars", "spark"]


def test_unknown_engine_suggests():
    with pytest.raises(ConfigError, match=r"Unknown engine 'pandsa'\. Did you mean 'pandas'\?"
                                          r"[\s\S]*Known engines: pandas, polars, spark"):
        get_engine("pandsa")


def test_engine_options_are_checked():
    with pytest.raises(ConfigError, match=r"Engine 'pandas' does not accept the options \['x'\]"):
        get_engine("pandas", x=1)


def test_importing_the_core_loads_no_engine_library():
    code = ("import odibi_core, odibi_core.transforms.registry, odibi_core.engines, "
            "odibi_core.connections, odibi_core.testing, sys; print(sorted(m for m in sys.modules "
            "if m.split('.')[0] in {'dagster','pandas','polars','pyspark','duckdb','deltalake'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stderr


# ---- frames ----------------------------------------------------------------------------------
def test_engine_frames_are_pyarrow_backed(engine):
    frame = engine.sql("SELECT 1::BIGINT AS n, NULL::BIGINT AS m, 'x' AS s", {})
    assert all(isinstance(d, pd.ArrowDtype) for d in frame.dtypes)
    assert isinstance(frame.index, pd.RangeIndex)


def test_schema_of_user_built_frames(engine):
    frame = pd.DataFrame({
        "i": np.array([1, 2], dtype="int64"),
        "i32": np.array([1, 2], dtype="int32"),
        "f": [1.5, np.nan],
        "nullable": pd.array([1, None], dtype="Int64"),
        "s": ["a", None],
        "b": [True, False],
        "ts": pd.to_datetime(["2024-01-01", None]),
        "tz": pd.to_datetime(["2024-01-01", None]).tz_localize("UTC"),
        "day": [dt.date(2024, 1, 1), None],
        "dec": [Decimal("1.50"), None],
        "cat": pd.Categorical(["x", "y"]),
        "raw": [b"\x00", None],
    })
    types = {c.name: c.type for c in engine.schema(frame)}
    assert types == {"i": "int64", "i32": "int32", "f": "float64", "nullable": "int64",
                     "s": "string", "b": "bool", "ts": "timestamp_ntz", "tz": "timestamp",
                     "day": "date", "dec": "decimal(3,2)", "cat": "string", "raw": "binary"}


def test_sample_is_json_safe(engine):
    frame = pd.DataFrame({
        "f": [np.nan, np.inf, 1.25],
        "t": [pd.NaT, pd.Timestamp("2024-01-01 10:00"), pd.Timestamp("2024-01-02")],
        "n": pd.array([pd.NA, 1, 2], dtype="Int64"),
        "d": [Decimal("1.5"), None, Decimal("2")],
        "l": [[1, 2], [], None],
        "bytes": [b"hi", None, b""],
    })
    rows = engine.sample(frame, 10)
    json.dumps(rows, allow_nan=False)
    assert rows[0] == {"f": None, "t": None, "n": None, "d": 1.5, "l": [1, 2], "bytes": "aGk="}
    assert rows[1] == {"f": "Infinity", "t": "2024-01-01T10:00:00", "n": 1, "d": None, "l": [],
                       "bytes": None}
    assert engine.sample(frame, 1) == rows[:1]
    assert all(type(r["n"]) is int for r in rows[1:])


def test_named_index_becomes_a_column(engine):
    frame = pd.DataFrame({"k": ["a", "b", "a"], "v": [1, 2, 3]}).groupby("k").sum()
    assert_frames_equal(engine, frame, [{"k": "a", "v": 4}, {"k": "b", "v": 2}])


def test_mixed_object_column_is_a_data_error(engine):
    with pytest.raises(DataError, match=r"cannot be converted to Arrow[\s\S]*one type"):
        engine.sample(pd.DataFrame({"x": [1, "a"]}), 5)


def test_sum_of_integers_is_int64_not_hugeint(engine):
    frame = engine.sql("SELECT sum(x) AS s FROM (VALUES (1), (2)) AS t(x)", {})
    assert [c.type for c in engine.schema(frame)] == ["int64"]


def test_user_functions_receive_pandas_frames(engine):
    from odibi_core.transforms import apply_transform, clear_user_transforms, transform

    clear_user_transforms()
    try:
        @transform
        def add_tax(df, rate: float = 0.2):
            return df.assign(amount_with_tax=(df["amount"] * (1 + rate)).round(2))

        frame = engine.from_rows([{"amount": 10.0}, {"amount": None}])
        out = apply_transform(engine, "add_tax", frame, {"rate": 0.5}, {})
        assert engine.to_rows(out) == [{"amount": 10.0, "amount_with_tax": 15.0},
                                       {"amount": None, "amount_with_tax": None}]
    finally:
        clear_user_transforms()


# ---- writes ------------------------------------------------------------------------------------
def test_numpy_frames_write_to_delta(engine, lake):
    frame = pd.DataFrame({"id": [1, 2], "at": pd.to_datetime(["2024-01-01", "2024-01-02"])})
    result = engine.write(frame, WriteRequest(location=lake.resolve("t"), format="delta"))
    assert result.delta_version == 0
    back = engine.read(ReadRequest(location=lake.resolve("t"), format="delta"))
    assert {c.name: c.type for c in engine.schema(back)} == {"id": "int64",
                                                             "at": "timestamp_ntz"}


def test_failed_overwrite_leaves_the_old_file(engine, lake):
    good = pd.DataFrame({"x": [1]})
    engine.write(good, WriteRequest(location=lake.resolve("out/x.parquet"), format="parquet"))
    with pytest.raises(DataError):
        engine.write(pd.DataFrame({"x": [1, "a"]}),
                     WriteRequest(location=lake.resolve("out/x.parquet"), format="parquet"))
    folder = Path(lake.resolve("out").uri)
    assert [p.name for p in folder.iterdir()] == ["x.parquet"]
    assert engine.to_rows(engine.read(ReadRequest(location=lake.resolve("out/x.parquet"),
                                                  format="parquet"))) == [{"x": 1}]


def test_failed_folder_overwrite_leaves_the_old_parts(engine, lake):
    engine.write(pd.DataFrame({"x": [1]}), WriteRequest(location=lake.resolve("out/t"),
                                                        format="csv"))
    with pytest.raises(DataError):
        engine.write(pd.DataFrame({"x": [1, "a"]}), WriteRequest(location=lake.resolve("out/t"),
                                                                 format="csv"))
    assert [p.name for p in Path(lake.resolve("out").uri).iterdir()] == ["t"]
    assert engine.to_rows(engine.read(ReadRequest(location=lake.resolve("out/t"),
                                                  format="csv"))) == [{"x": 1}]


def test_reading_a_delta_folder_as_parquet_is_explained(engine, lake):
    engine.write(pd.DataFrame({"x": [1]}), WriteRequest(location=lake.resolve("t"),
                                                        format="delta"))
    with pytest.raises(DataError, match=r"lake:t is a Delta table[\s\S]*format: delta"):
        engine.read(ReadRequest(location=lake.resolve("t"), format="parquet"))


def test_errors_never_show_secrets(engine, tmp_path):
    location = ResolvedLocation(connection="blob", uri=str(tmp_path / "s3cr3t-key" / "x.csv"),
                                display="blob:x.csv", storage_options={"account_key": "s3cr3t-key"})
    with pytest.raises(DataError) as info:
        engine.read(ReadRequest(location=location, format="csv", node="p.n"))
    assert "s3cr3t-key" not in str(info.value)
    assert "***" in str(info.value) and info.value.node == "p.n"


def test_write_result_names_the_absolute_path(engine, lake, tmp_path):
    result = engine.write(pd.DataFrame({"x": [1]}),
                          WriteRequest(location=lake.resolve("gold/x.csv"), format="csv"))
    assert result.location == str(tmp_path / "lake" / "gold" / "x.csv")
    assert result.mode == "overwrite" and result.delta_version is None
