"""Batch markers, ``replace_where`` and ``rows_between`` on every engine.

A write carrying a :class:`BatchMarker` records it with the data: on Delta as the transaction
identifier of the write's own commit (``transaction_version(app_id) == version``, read back with
delta-rs) and the batch id in the commit info; on a folder of part files as the batch token in
the name of every part file the write publishes. ``replace_where`` (Delta, overwrite) replaces
only the rows matching a predicate, and refuses rows outside it.
"""

from __future__ import annotations

import datetime as dt
import json
import os

import pytest

from odibi_core.errors import ConfigError, DataError
from odibi_core.storage.requests import BatchMarker, BatchReplace, ReadRequest, WriteRequest
from odibi_core.testing import frame_from_rows

APP_ID = "odibi-test/orders"
MARKER = BatchMarker(batch_id="batch-2026-01-02", app_id=APP_ID, version=7)
SCHEMA = {"id": "int64", "amount": "int64"}
DAY_SCHEMA = {"id": "int64", "order_date": "date", "amount": "int64"}
DAY_2 = "order_date >= DATE '2026-01-02' AND order_date < DATE '2026-01-03'"


def _write(engine, lake, path, rows, *, fmt="delta", mode="append", schema=None, **fields):
    request = WriteRequest(location=lake.resolve(path), format=fmt, mode=mode, **fields)
    return engine.write(frame_from_rows(engine, rows, schema or SCHEMA), request)


def _table(lake, path):
    from deltalake import DeltaTable  # the stored table, read independently of the engine

    return DeltaTable(lake.resolve(path).uri)


def _stored(lake, path) -> list[dict]:
    return sorted(_table(lake, path).to_pyarrow_table().to_pylist(),
                  key=lambda r: (r["id"], r["amount"]))


def _part_files(root: str) -> set[str]:
    """Every published part file under ``root`` (hidden and ``_`` entries skipped), relative."""
    found = set()
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith((".", "_"))]
        found.update(os.path.relpath(os.path.join(folder, name), root)
                     for name in files if not name.startswith((".", "_")))
    return found


# ---- Delta: the transaction identifier travels in the write's commit ---------------------------
@pytest.mark.parametrize("mode, expected", [
    ("append", [(1, 10), (2, 20), (2, 21), (3, 30)]),
    ("overwrite", [(2, 21), (3, 30)]),
    ("upsert", [(1, 10), (2, 21), (3, 30)]),
    ("append_once", [(1, 10), (2, 20), (3, 30)]),
])
def test_delta_write_records_the_marker_as_the_commits_transaction(engine, lake, mode,
                                                                   expected):
    _write(engine, lake, "orders", [{"id": 1, "amount": 10}, {"id": 2, "amount": 20}])
    assert _table(lake, "orders").transaction_version(APP_ID) is None
    before = _table(lake, "orders").version()

    _write(engine, lake, "orders", [{"id": 2, "amount": 21}, {"id": 3, "amount": 30}],
           mode=mode, marker=MARKER,
           options={"keys": ["id"]} if mode in ("upsert", "append_once") else {})

    table = _table(lake, "orders")
    assert table.version() == before + 1
    assert table.transaction_version(APP_ID) == MARKER.version
    assert MARKER.batch_id in json.dumps(table.history(1)[0])
    assert [(r["id"], r["amount"]) for r in _stored(lake, "orders")] == expected


@pytest.mark.parametrize("mode", ["upsert", "append_once"])
def test_delta_merge_records_the_marker(engine, lake, mode):
    _write(engine, lake, "orders", [{"id": 1, "amount": 10}])
    _write(engine, lake, "orders", [{"id": 1, "amount": 11}, {"id": 2, "amount": 20}],
           mode=mode, marker=MARKER, options={"keys": ["id"]})
    table = _table(lake, "orders")
    assert table.transaction_version(APP_ID) == MARKER.version
    assert MARKER.batch_id in json.dumps(table.history(1)[0])
    assert [r["operation"] for r in table.history(1)] == ["MERGE"]
    amount = 11 if mode == "upsert" else 10
    assert [(r["id"], r["amount"]) for r in _stored(lake, "orders")] == [(1, amount), (2, 20)]


def test_delta_write_creating_the_table_records_the_marker(engine, lake):
    result = _write(engine, lake, "orders", [{"id": 1, "amount": 10}], marker=MARKER)
    table = _table(lake, "orders")
    assert result.delta_version == table.version() == 0
    assert result.rows_written == 1
    assert table.transaction_version(APP_ID) == MARKER.version


def test_a_later_generation_of_the_batch_records_its_version(engine, lake):
    _write(engine, lake, "orders", [{"id": 1, "amount": 10}], marker=MARKER)
    again = BatchMarker(MARKER.batch_id, APP_ID, MARKER.version + 1)
    _write(engine, lake, "orders", [{"id": 2, "amount": 20}], marker=again)
    table = _table(lake, "orders")
    assert table.transaction_version(APP_ID) == again.version
    assert [(r["id"], r["amount"]) for r in _stored(lake, "orders")] == [(1, 10), (2, 20)]


def test_delta_batch_replacement_records_the_marker(engine, lake):
    rows = [{"id": 1, "amount": 10, "batch": "a"}, {"id": 2, "amount": 20, "batch": "a"}]
    schema = {**SCHEMA, "batch": "string"}
    replace_a = BatchReplace("batch", "a")
    _write(engine, lake, "orders", [{"id": 9, "amount": 90, "batch": "z"}], schema=schema)
    _write(engine, lake, "orders", rows, schema=schema, replace_batch=replace_a)
    _write(engine, lake, "orders", rows, schema=schema, replace_batch=replace_a, marker=MARKER)
    table = _table(lake, "orders")
    assert table.transaction_version(APP_ID) == MARKER.version
    assert [(r["id"], r["batch"]) for r in _stored(lake, "orders")] == [
        (1, "a"), (2, "a"), (9, "z")]


def test_delta_write_without_marker_records_no_transaction(engine, lake):
    _write(engine, lake, "orders", [{"id": 1, "amount": 10}])
    _write(engine, lake, "orders", [{"id": 2, "amount": 20}], mode="overwrite")
    assert _table(lake, "orders").transaction_version(APP_ID) is None


# ---- folders of part files: the batch token in every part file's name --------------------------
FOLDERS = [("csv", ()), ("parquet", ()), ("json", ()), ("parquet", ("region",))]
FOLDER_IDS = ["csv", "parquet", "json", "parquet-partitioned"]
ROWS = [{"id": 1, "amount": 10, "region": "east"}, {"id": 2, "amount": 20, "region": "west"},
        {"id": 3, "amount": 30, "region": "east"}]
ROW_SCHEMA = {**SCHEMA, "region": "string"}


def _count(engine, lake, path, fmt):
    return engine.count(engine.read(ReadRequest(location=lake.resolve(path), format=fmt)))


@pytest.mark.parametrize("fmt, partition_by", FOLDERS, ids=FOLDER_IDS)
def test_folder_append_puts_the_token_in_every_part_file_name(engine, lake, fmt,
                                                              partition_by):
    root = lake.resolve("orders").uri
    _write(engine, lake, "orders", ROWS[:1], fmt=fmt, schema=ROW_SCHEMA,
           partition_by=partition_by)
    plain = _part_files(root)
    assert plain and not any(MARKER.token in name for name in plain)

    result = _write(engine, lake, "orders", ROWS[1:], fmt=fmt, schema=ROW_SCHEMA,
                    partition_by=partition_by, marker=MARKER)

    published = _part_files(root) - plain
    assert published, "the marked append published no part file"
    assert all(f"-{MARKER.token}-" in os.path.basename(name) for name in published), published
    assert all(os.path.basename(name).startswith("part-") for name in published)
    assert result.rows_written == 2
    assert _count(engine, lake, "orders", fmt) == 3


@pytest.mark.parametrize("fmt, partition_by", FOLDERS, ids=FOLDER_IDS)
def test_folder_overwrite_puts_the_token_in_every_part_file_name(engine, lake, fmt,
                                                                 partition_by):
    root = lake.resolve("orders").uri
    _write(engine, lake, "orders", ROWS, fmt=fmt, schema=ROW_SCHEMA, partition_by=partition_by)
    _write(engine, lake, "orders", ROWS, fmt=fmt, schema=ROW_SCHEMA, partition_by=partition_by,
           mode="overwrite", marker=MARKER)
    published = _part_files(root)
    assert published
    assert all(f"-{MARKER.token}-" in os.path.basename(name) for name in published), published
    assert _count(engine, lake, "orders", fmt) == 3


@pytest.mark.parametrize("fmt, partition_by", FOLDERS, ids=FOLDER_IDS)
def test_folder_write_without_marker_has_no_token(engine, lake, fmt, partition_by):
    _write(engine, lake, "orders", ROWS, fmt=fmt, schema=ROW_SCHEMA, partition_by=partition_by)
    _write(engine, lake, "orders", ROWS, fmt=fmt, schema=ROW_SCHEMA, partition_by=partition_by)
    published = _part_files(lake.resolve("orders").uri)
    assert published and not any(MARKER.token in name for name in published)


def test_single_file_target_keeps_its_name_with_a_marker(engine, lake, tmp_path):
    _write(engine, lake, "orders.parquet", ROWS, fmt="parquet", schema=ROW_SCHEMA,
           mode="overwrite", marker=MARKER)
    assert sorted(os.listdir(tmp_path / "lake")) == ["orders.parquet"]
    assert _count(engine, lake, "orders.parquet", "parquet") == 3


# ---- replace_where -----------------------------------------------------------------------------
DAYS = [{"id": 1, "order_date": "2026-01-01", "amount": 10},
        {"id": 2, "order_date": "2026-01-02", "amount": 20},
        {"id": 3, "order_date": "2026-01-02", "amount": 21},
        {"id": 4, "order_date": "2026-01-03", "amount": 30}]


def _days(lake, path="orders") -> list[tuple]:
    return [(r["id"], r["order_date"].isoformat(), r["amount"]) for r in _stored(lake, path)]


def test_replace_where_replaces_only_the_matching_rows(engine, lake):
    _write(engine, lake, "orders", DAYS, schema=DAY_SCHEMA, mode="overwrite")
    result = _write(engine, lake, "orders",
                    [{"id": 5, "order_date": "2026-01-02", "amount": 50}],
                    schema=DAY_SCHEMA, mode="overwrite", replace_where=DAY_2, marker=MARKER)
    assert _days(lake) == [(1, "2026-01-01", 10), (4, "2026-01-03", 30),
                           (5, "2026-01-02", 50)]
    assert result.rows_written == 1
    assert _table(lake, "orders").transaction_version(APP_ID) == MARKER.version


def test_replace_where_with_quoted_columns_creates_a_missing_table(engine, lake):
    predicate = ('"order_date" >= DATE \'2026-01-02\' AND "order_date" < DATE \'2026-01-03\'')
    _write(engine, lake, "orders", DAYS[1:3], schema=DAY_SCHEMA, mode="overwrite",
           replace_where=predicate)
    assert _days(lake) == [(2, "2026-01-02", 20), (3, "2026-01-02", 21)]
    _write(engine, lake, "orders", DAYS[1:2], schema=DAY_SCHEMA, mode="overwrite",
           replace_where=predicate)
    assert _days(lake) == [(2, "2026-01-02", 20)]


@pytest.mark.parametrize("existing", [True, False], ids=["existing-table", "new-table"])
def test_replace_where_refuses_rows_outside_the_predicate(engine, lake, existing):
    if existing:
        _write(engine, lake, "orders", DAYS, schema=DAY_SCHEMA, mode="overwrite")
    rows = [{"id": 5, "order_date": "2026-01-02", "amount": 50},
            {"id": 6, "order_date": "2026-01-05", "amount": 60}]
    with pytest.raises(DataError) as raised:
        _write(engine, lake, "orders", rows, schema=DAY_SCHEMA, mode="overwrite",
               replace_where=DAY_2)
    message = raised.value.message
    assert "replace_where" in message and "outside" in message, message
    assert raised.value.fix
    if existing:
        assert _days(lake) == [(r["id"], r["order_date"], r["amount"]) for r in DAYS]
        assert _table(lake, "orders").version() == 0
    else:
        assert not os.path.exists(os.path.join(lake.resolve("orders").uri, "_delta_log")) \
            or _table(lake, "orders").to_pyarrow_table().num_rows == 0


def test_replace_where_refuses_a_null_in_the_predicates_column(engine, lake):
    _write(engine, lake, "orders", DAYS, schema=DAY_SCHEMA, mode="overwrite")
    with pytest.raises(DataError, match="replace_where"):
        _write(engine, lake, "orders", [{"id": 7, "order_date": None, "amount": 70}],
               schema=DAY_SCHEMA, mode="overwrite", replace_where=DAY_2)
    assert len(_days(lake)) == len(DAYS)


def test_replace_where_on_parquet_is_a_config_error(engine, lake):
    with pytest.raises(ConfigError, match="replace_where"):
        _write(engine, lake, "orders", DAYS, fmt="parquet", schema=DAY_SCHEMA,
               mode="overwrite", replace_where=DAY_2)
    assert not os.path.exists(lake.resolve("orders").uri)


def test_replace_where_with_mode_append_is_a_config_error(engine, lake):
    _write(engine, lake, "orders", DAYS, schema=DAY_SCHEMA, mode="overwrite")
    with pytest.raises(ConfigError, match="overwrite"):
        _write(engine, lake, "orders", DAYS[1:2], schema=DAY_SCHEMA, mode="append",
               replace_where=DAY_2)
    assert len(_days(lake)) == len(DAYS)


# ---- rows_between ------------------------------------------------------------------------------
def _ids(engine, frame) -> list[int]:
    return sorted(r["id"] for r in engine.to_rows(frame))


def test_rows_between_on_a_date_column(engine):
    rows = [{"id": 1, "d": dt.date(2026, 1, 1)}, {"id": 2, "d": dt.date(2026, 1, 2)},
            {"id": 3, "d": dt.date(2026, 1, 3)}, {"id": 4, "d": None}]
    frame = frame_from_rows(engine, rows, {"id": "int64", "d": "date"})
    between = engine.rows_between(frame, "d", dt.date(2026, 1, 2), dt.date(2026, 1, 3))
    assert _ids(engine, between) == [2]
    wide = engine.rows_between(frame, "d", dt.date(2026, 1, 1), dt.date(2026, 1, 4))
    assert _ids(engine, wide) == [1, 2, 3]
    assert _ids(engine, engine.rows_between(frame, "d", dt.date(2026, 1, 4),
                                            dt.date(2026, 1, 5))) == []


def test_rows_between_on_a_timestamp_ntz_column(engine):
    rows = [{"id": 1, "t": dt.datetime(2026, 1, 1, 23, 59, 59)},
            {"id": 2, "t": dt.datetime(2026, 1, 2, 0, 0)},
            {"id": 3, "t": dt.datetime(2026, 1, 2, 23, 59, 59)},
            {"id": 4, "t": dt.datetime(2026, 1, 3, 0, 0)},
            {"id": 5, "t": None}]
    frame = frame_from_rows(engine, rows, {"id": "int64", "t": "timestamp_ntz"})
    between = engine.rows_between(frame, "t", dt.datetime(2026, 1, 2), dt.datetime(2026, 1, 3))
    assert _ids(engine, between) == [2, 3]


def test_rows_between_on_a_utc_timestamp_column_with_aware_bounds(engine):
    utc = dt.timezone.utc
    rows = [{"id": 1, "t": dt.datetime(2026, 1, 1, 23, 0, tzinfo=utc)},
            {"id": 2, "t": dt.datetime(2026, 1, 2, 0, 0, tzinfo=utc)},
            {"id": 3, "t": dt.datetime(2026, 1, 2, 12, 0, tzinfo=utc)},
            {"id": 4, "t": dt.datetime(2026, 1, 3, 0, 0, tzinfo=utc)}]
    frame = frame_from_rows(engine, rows, {"id": "int64", "t": "timestamp"})
    start, end = dt.datetime(2026, 1, 2, tzinfo=utc), dt.datetime(2026, 1, 3, tzinfo=utc)
    assert _ids(engine, engine.rows_between(frame, "t", start, end)) == [2, 3]
    # the same instants in another zone select the same rows
    plus_two = dt.timezone(dt.timedelta(hours=2))
    shifted = engine.rows_between(frame, "t", start.astimezone(plus_two),
                                  end.astimezone(plus_two))
    assert _ids(engine, shifted) == [2, 3]


# ---- Spark only --------------------------------------------------------------------------------
# delta-spark itself skips a commit whose transaction version the table already recorded (delta-rs
# commits it: the exactly-once guard checks first on every engine), and the Spark engine writes
# remote folders through Hadoop's FileSystem.
def test_spark_skips_a_transaction_version_the_table_already_recorded(spark_session, lake):
    from odibi_core.engines import get_engine

    engine = get_engine("spark")
    _write(engine, lake, "orders", [{"id": 1, "amount": 10}], marker=MARKER)
    again = _write(engine, lake, "orders", [{"id": 2, "amount": 20}], marker=MARKER)
    merged = _write(engine, lake, "orders", [{"id": 3, "amount": 30}], mode="upsert",
                    marker=MARKER, options={"keys": ["id"]})
    assert (again.rows_written, again.delta_version) == (0, 0)
    assert (merged.rows_written, merged.delta_version) == (0, 0)
    assert [(r["id"], r["amount"]) for r in _stored(lake, "orders")] == [(1, 10)]
    assert engine.session.conf.get("spark.databricks.delta.write.txnAppId", None) is None


@pytest.mark.parametrize("fmt, partition_by", FOLDERS, ids=FOLDER_IDS)
def test_spark_remote_folder_write_puts_the_token_in_every_part_file_name(
        spark_session, tmp_path, fmt, partition_by):
    from odibi_core.engines import get_engine
    from odibi_core.storage.locations import ResolvedLocation

    engine = get_engine("spark")
    root = tmp_path / "remote"
    location = ResolvedLocation(connection="remote", uri=root.as_uri(), display="remote:orders",
                                is_local=False)  # a URL Spark opens through Hadoop

    def write(rows, mode, marker):
        return engine.write(frame_from_rows(engine, rows, ROW_SCHEMA), WriteRequest(
            location=location, format=fmt, mode=mode, marker=marker,
            partition_by=partition_by))

    write(ROWS[:1], "overwrite", None)
    plain = _part_files(str(root))
    assert plain and not any(MARKER.token in name for name in plain)
    result = write(ROWS[1:], "append", MARKER)
    published = _part_files(str(root)) - plain
    assert published and result.files_written == len(published)
    assert all(f"-{MARKER.token}-" in os.path.basename(name) for name in published), published
    read = ReadRequest(location=location, format=fmt)
    assert engine.count(engine.read(read)) == 3
    write(ROWS, "overwrite", MARKER)
    assert all(f"-{MARKER.token}-" in os.path.basename(name)
               for name in _part_files(str(root)))
    assert engine.count(engine.read(read)) == 3
