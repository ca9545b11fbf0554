"""Delta tables: versions, modes, time travel by version and timestamp, vacuumed versions."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from odibi_core.errors import ConfigError, DataError
from odibi_core.storage.requests import ReadRequest, WriteRequest
from odibi_core.testing import assert_frames_equal, frame_from_rows


def _write(engine, lake, rows, mode="overwrite", path="silver/orders", **kw):
    frame = frame_from_rows(engine, rows)
    return engine.write(frame, WriteRequest(location=lake.resolve(path), format="delta",
                                            mode=mode, **kw))


def _read(engine, lake, path="silver/orders", **kw):
    return engine.read(ReadRequest(location=lake.resolve(path), format="delta", **kw))


def _history(lake, path="silver/orders"):
    from deltalake import DeltaTable  # the test inspects the table with delta-rs directly

    return DeltaTable(lake.resolve(path).uri).history()


V0 = [{"id": 1, "v": "a"}, {"id": 2, "v": "b"}]
V1 = [{"id": 3, "v": "c"}]
V2 = [{"id": 9, "v": "z"}]


def test_versions_and_time_travel_by_version(engine, lake):
    assert _write(engine, lake, V0).delta_version == 0
    assert _write(engine, lake, V1, mode="append").delta_version == 1
    result = _write(engine, lake, V2, mode="overwrite")
    assert result.delta_version == 2 and result.rows_written == 1 and result.format == "delta"

    assert_frames_equal(engine, _read(engine, lake), V2)
    assert_frames_equal(engine, _read(engine, lake, as_of_version=0), V0)
    assert_frames_equal(engine, _read(engine, lake, as_of_version=1), V0 + V1)
    assert_frames_equal(engine, _read(engine, lake, as_of_version=2), V2)


def test_time_travel_by_timestamp(engine, lake):
    for rows, mode in ((V0, "overwrite"), (V1, "append"), (V2, "overwrite")):
        _write(engine, lake, rows, mode=mode)
        time.sleep(0.02)
    stamps = {h["version"]: h["timestamp"] for h in _history(lake)}

    def iso(ms: int) -> str:
        return dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc).isoformat()

    assert_frames_equal(engine, _read(engine, lake, as_of_timestamp=iso(stamps[0])), V0)
    assert_frames_equal(engine, _read(engine, lake, as_of_timestamp=iso(stamps[1] + 1)), V0 + V1)
    later = dt.datetime.fromtimestamp(stamps[2] / 1000 + 3600, dt.timezone.utc)
    assert_frames_equal(engine, _read(engine, lake,
                                      as_of_timestamp=later.strftime("%Y-%m-%dT%H:%M:%SZ")), V2)
    with pytest.raises(DataError, match=r"has no version at 2000-01-01T00:00:00\+00:00: its "
                                        r"first available version \(0\) was committed at"):
        _read(engine, lake, as_of_timestamp="2000-01-01T00:00:00Z")


def test_missing_version_lists_the_range(engine, lake):
    _write(engine, lake, V0)
    _write(engine, lake, V1, mode="append")
    with pytest.raises(DataError, match=r"Version 7 of the Delta table lake:silver/orders does "
                                        r"not exist: its log holds versions 0 to 1"):
        _read(engine, lake, as_of_version=7)


def test_vacuumed_version_says_so(engine, lake):
    from deltalake import DeltaTable

    _write(engine, lake, V0)
    _write(engine, lake, V2)
    DeltaTable(lake.resolve("silver/orders").uri).vacuum(
        retention_hours=0, enforce_retention_duration=False, dry_run=False)
    with pytest.raises(DataError, match=r"Version 0 of the Delta table lake:silver/orders can no "
                                        r"longer be read: its data files were removed \(VACUUM\)"
                                        r"\. The log holds versions 0 to \d+"):
        _read(engine, lake, as_of_version=0)
    assert_frames_equal(engine, _read(engine, lake), V2)


def test_bad_timestamp_is_a_config_error(engine, lake):
    _write(engine, lake, V0)
    with pytest.raises(ConfigError, match=r"as_of_timestamp 'yesterday' is not an ISO-8601"):
        _read(engine, lake, as_of_timestamp="yesterday")


def test_not_a_delta_table(engine, lake):
    with pytest.raises(DataError, match=r"There is no Delta table at lake:silver/none"):
        _read(engine, lake, path="silver/none")


def test_partition_by_and_merge_schema(engine, lake):
    rows = [{"id": 1, "day": "2024-01-01"}, {"id": 2, "day": "2024-01-02"}]
    _write(engine, lake, rows, partition_by=("day",))
    from deltalake import DeltaTable

    assert DeltaTable(lake.resolve("silver/orders").uri).metadata().partition_columns == ["day"]
    wider = [{"id": 3, "day": "2024-01-03", "extra": "x"}]
    with pytest.raises(DataError, match=r"merge_schema: true"):
        _write(engine, lake, wider, mode="append")
    assert _write(engine, lake, wider, mode="append", merge_schema=True).delta_version == 1
    assert_frames_equal(engine, _read(engine, lake), [
        {"id": 1, "day": "2024-01-01", "extra": None},
        {"id": 2, "day": "2024-01-02", "extra": None},
        {"id": 3, "day": "2024-01-03", "extra": "x"}], check_column_order=False)


def test_partition_by_unknown_column(engine, lake):
    with pytest.raises(DataError, match=r"partition_by names nope, which the frame does not have"):
        _write(engine, lake, V0, partition_by=("nope",))


def test_upsert_updates_matches_and_inserts_the_rest(engine, lake):
    _write(engine, lake, V0)
    result = _write(engine, lake, [{"id": 2, "v": "B"}, {"id": 4, "v": "d"}], mode="upsert",
                    options={"keys": ["id"]})
    assert result.delta_version == 1 and result.rows_written == 2
    assert_frames_equal(engine, _read(engine, lake),
                        [{"id": 1, "v": "a"}, {"id": 2, "v": "B"}, {"id": 4, "v": "d"}])


def test_append_once_inserts_only_new_keys(engine, lake):
    _write(engine, lake, V0)
    result = _write(engine, lake, [{"id": 2, "v": "B"}, {"id": 5, "v": "e"}],
                    mode="append_once", options={"keys": "id"})
    assert result.rows_written == 1
    assert_frames_equal(engine, _read(engine, lake), V0 + [{"id": 5, "v": "e"}])


def test_upsert_creates_a_missing_table(engine, lake):
    assert _write(engine, lake, V0, mode="upsert", options={"keys": ["id"]}).delta_version == 0
    assert_frames_equal(engine, _read(engine, lake), V0)


def test_upsert_needs_keys_and_unique_keys(engine, lake):
    _write(engine, lake, V0)
    with pytest.raises(ConfigError, match=r"Mode 'upsert' needs the key columns"):
        _write(engine, lake, V1, mode="upsert")
    with pytest.raises(DataError, match=r"several rows for id=3"):
        _write(engine, lake, [{"id": 3, "v": "x"}, {"id": 3, "v": "y"}], mode="upsert",
               options={"keys": ["id"]})
    with pytest.raises(DataError, match=r"columns the Delta table lake:silver/orders does not: "
                                        r"extra"):
        _write(engine, lake, [{"id": 3, "v": "x", "extra": 1}], mode="upsert",
               options={"keys": ["id"]})


def test_delta_keeps_types(engine, lake):
    schema = {"id": "int32", "amount": "decimal(10,2)", "day": "date",
              "at": "timestamp", "local": "timestamp_ntz", "n": "int64"}
    frame = frame_from_rows(engine, [
        {"id": 1, "amount": "12.50", "day": "2024-02-29", "at": "2024-01-01T10:00:00",
         "local": "2024-01-01T10:00:00", "n": None},
    ], schema=schema)
    engine.write(frame, WriteRequest(location=lake.resolve("t"), format="delta"))
    assert_frames_equal(engine, engine.read(ReadRequest(location=lake.resolve("t"),
                                                        format="delta")), [
        {"id": 1, "amount": 12.5, "day": "2024-02-29", "at": "2024-01-01T10:00:00+00:00",
         "local": "2024-01-01T10:00:00", "n": None}], schema=schema)
