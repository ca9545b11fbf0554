"""Delta tables are shared between delta-spark (the Spark engine) and delta-rs (pandas, polars):
each reads what the other wrote, appends included, on the default protocol."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from odibi_core.connections import LocalConnection
from odibi_core.engines import get_engine
from odibi_core.storage.requests import ReadRequest, WriteRequest
from odibi_core.testing import assert_frames_equal, frame_from_rows

import deltalake

ROWS = [{"id": 1, "name": "ada", "day": "2024-01-01"},
        {"id": 2, "name": "tim", "day": "2024-01-02"}]
SCHEMA = {"id": "int64", "name": "string", "day": "date"}


@pytest.fixture
def spark(spark_session):
    return get_engine("spark")


@pytest.fixture
def lake(tmp_path: Path) -> LocalConnection:
    return LocalConnection("lake", "lake", tmp_path)


def _rows(path: str) -> list[dict]:
    table = deltalake.DeltaTable(path).to_pyarrow_table()
    return sorted(table.to_pylist(), key=lambda r: r["id"])


def test_spark_writes_delta_rs_reads_and_appends_spark_reads_again(spark, lake) -> None:
    import datetime as dt

    import pyarrow as pa

    location = lake.resolve("shared")
    result = spark.write(frame_from_rows(spark, ROWS, SCHEMA),
                         WriteRequest(location=location, format="delta"))
    assert (result.delta_version, result.rows_written) == (0, 2)
    table = deltalake.DeltaTable(location.uri)
    protocol = table.protocol()
    assert (protocol.min_reader_version, protocol.min_writer_version) == (1, 2)
    assert _rows(location.uri) == [
        {"id": 1, "name": "ada", "day": dt.date(2024, 1, 1)},
        {"id": 2, "name": "tim", "day": dt.date(2024, 1, 2)}]

    deltalake.write_deltalake(location.uri, pa.table({
        "id": pa.array([3], pa.int64()), "name": ["al"],
        "day": pa.array([dt.date(2024, 1, 3)])}), mode="append")
    back = spark.read(ReadRequest(location=location, format="delta"))
    assert_frames_equal(spark, back, [*ROWS, {"id": 3, "name": "al", "day": "2024-01-03"}],
                        schema=SCHEMA)
    assert spark.write(frame_from_rows(spark, [{"id": 4, "name": "bo", "day": "2024-01-04"}],
                                       SCHEMA),
                       WriteRequest(location=location, format="delta", mode="append")
                       ).delta_version == 2
    assert [r["id"] for r in _rows(location.uri)] == [1, 2, 3, 4]


def test_delta_rs_writes_spark_reads_time_travels_and_upserts(spark, lake) -> None:
    pandas = get_engine("pandas")
    location = lake.resolve("from_rs")
    pandas.write(frame_from_rows(pandas, ROWS, SCHEMA),
                 WriteRequest(location=location, format="delta"))
    pandas.write(frame_from_rows(pandas, [{"id": 3, "name": "al", "day": "2024-01-03"}], SCHEMA),
                 WriteRequest(location=location, format="delta", mode="append"))
    assert_frames_equal(spark, spark.read(ReadRequest(location=location, format="delta",
                                                      as_of_version=0)), ROWS, schema=SCHEMA)
    result = spark.write(
        frame_from_rows(spark, [{"id": 2, "name": "TIM", "day": "2024-01-02"}], SCHEMA),
        WriteRequest(location=location, format="delta", mode="upsert", options={"keys": ["id"]}))
    assert (result.delta_version, result.rows_written) == (2, 1)
    assert [r["name"] for r in _rows(location.uri)] == ["ada", "TIM", "al"]
    assert pandas.count(pandas.read(ReadRequest(location=location, format="delta"))) == 3


def test_partitioned_delta_write_makes_partition_folders(spark, lake) -> None:
    location = lake.resolve("parts")
    spark.write(frame_from_rows(spark, ROWS + [{"id": 3, "name": "al", "day": "2024-01-01"}],
                                SCHEMA),
                WriteRequest(location=location, format="delta", partition_by=("day",)))
    folders = sorted(n for n in os.listdir(location.uri) if not n.startswith(("_", ".")))
    assert folders == ["day=2024-01-01", "day=2024-01-02"]
    assert deltalake.DeltaTable(location.uri).metadata().partition_columns == ["day"]
    assert len(_rows(location.uri)) == 3


def test_wall_clock_timestamps_upgrade_the_protocol_and_both_sides_still_append(spark,
                                                                               lake) -> None:
    """A timestamp_ntz column needs Delta's timestampNtz table feature (reader 3 / writer 7):
    delta-rs appends to and reads such a table too."""
    pandas = get_engine("pandas")
    location = lake.resolve("wall_clock")
    schema = {"id": "int64", "at": "timestamp_ntz"}
    spark.write(frame_from_rows(spark, [{"id": 1, "at": "2024-01-01T10:00:00"}], schema),
                WriteRequest(location=location, format="delta"))
    protocol = deltalake.DeltaTable(location.uri).protocol()
    assert "timestampNtz" in (protocol.reader_features or [])
    pandas.write(frame_from_rows(pandas, [{"id": 2, "at": "2024-01-02T10:00:00"}], schema),
                 WriteRequest(location=location, format="delta", mode="append"))
    assert_frames_equal(spark, spark.read(ReadRequest(location=location, format="delta")),
                        [{"id": 1, "at": "2024-01-01T10:00:00"},
                         {"id": 2, "at": "2024-01-02T10:00:00"}], schema=schema)
