"""A stateful incremental read's mark pushed into the pandas engine's eager reads: parquet
files, hive folders and Delta tables skip the rows at or below it while reading; a mark that
does not convert exactly to the column's type is not pushed (the node filters anyway)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from deltalake import write_deltalake

from odibi_core.connections import LocalConnection
from odibi_core.engines import get_engine
from odibi_core.engines.arrow_filters import rows_after_filter
from odibi_core.storage.requests import LowerBound, ReadRequest

TABLE = pa.table({
    "id": pa.array([1, 2, 3, 4, 5, None], pa.int64()),
    "at": pa.array([dt.datetime(2026, 1, d) for d in (1, 2, 3, 4, 5, 6)], pa.timestamp("us")),
    "day": pa.array(["2026-01-01", "2026-01-01", "2026-01-02", "2026-01-02", "2026-01-03",
                     "2026-01-03"]),
})


@pytest.fixture
def lake(tmp_path: Path) -> LocalConnection:
    root = tmp_path / "lake"  # the connection's base folder
    root.mkdir()
    pq.write_table(TABLE, root / "one.parquet", row_group_size=2)
    pq.write_to_dataset(TABLE, root / "hive", partition_cols=["day"])
    write_deltalake(str(root / "delta"), TABLE)
    return LocalConnection("lake", "lake", tmp_path)


def _ids(lake: LocalConnection, path: str, fmt: str, bound: LowerBound | None) -> list:
    engine = get_engine("pandas")
    frame = engine.read(ReadRequest(location=lake.resolve(path), format=fmt, lower_bound=bound))
    return sorted(r["id"] for r in engine.to_rows(frame) if r["id"] is not None)


@pytest.mark.parametrize(("path", "fmt"), [("one.parquet", "parquet"), ("hive", "parquet"),
                                           ("delta", "delta")])
def test_rows_at_or_below_the_mark_are_not_read(lake, path, fmt) -> None:
    assert _ids(lake, path, fmt, None) == [1, 2, 3, 4, 5]
    assert _ids(lake, path, fmt, LowerBound("id", 3)) == [4, 5]  # and the null id is dropped
    aware = dt.datetime(2026, 1, 4, tzinfo=dt.timezone.utc)  # naive column: compared in UTC
    assert _ids(lake, path, fmt, LowerBound("at", aware)) == [5]


def test_a_partition_column_bound_prunes_partitions(lake) -> None:
    assert _ids(lake, "hive", "parquet", LowerBound("day", "2026-01-02")) == [5]


@pytest.mark.parametrize("bound", [LowerBound("id", 2.5), LowerBound("id", "3"),
                                   LowerBound("missing", 3), LowerBound("at", "yesterday")])
def test_a_mark_that_does_not_convert_exactly_is_not_pushed(lake, bound) -> None:
    schema = pq.read_schema(lake.resolve("one.parquet").uri)
    assert rows_after_filter(bound, schema) is None
    assert _ids(lake, "one.parquet", "parquet", bound) == [1, 2, 3, 4, 5]
