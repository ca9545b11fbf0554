"""Spark-specific behaviour on a real local session: laziness and the number of Spark jobs,
caching, temp views that do not leak, order kept across partitions, csv types, the SQL dialect,
error translation and single-file writes."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from odibi_core.connections import LocalConnection
from odibi_core.engines import get_engine
from odibi_core.engines.base import RowPredicate
from odibi_core.engines.spark_sql import spark_sql_text
from odibi_core.errors import DataError, TransientError
from odibi_core.storage.requests import ReadRequest, WriteRequest
from odibi_core.testing import assert_frames_equal, frame_from_rows
from odibi_core.transforms import apply_transform



@pytest.fixture
def engine(spark_session):
    return get_engine("spark")


@pytest.fixture
def lake(tmp_path: Path) -> LocalConnection:
    return LocalConnection("lake", "lake", tmp_path)


def jobs(engine, call: Callable[[], Any]) -> tuple[Any, int]:
    """``call()`` and the number of Spark jobs it ran."""
    import uuid

    context = engine.session.sparkContext
    group = f"odibi-test-{uuid.uuid4().hex}"
    context.setJobGroup(group, group)
    try:
        value = call()
    finally:
        context.setLocalProperty("spark.jobGroup.id", None)
    return value, len(context.statusTracker().getJobIdsForGroup(group))


def spread(engine, rows: list[dict], partitions: int = 3):
    """A frame of ``rows`` spread over several partitions, in order."""
    import pyarrow as pa

    frame = engine.session.createDataFrame(pa.Table.from_pylist(rows))
    return frame.repartitionByRange(partitions, "i").sortWithinPartitions("i")


# ---- laziness and jobs -------------------------------------------------------------------------
def test_row_flags_are_one_lazy_projection_and_summaries_two_jobs(engine) -> None:
    frame = frame_from_rows(engine, [{"k": i % 3, "i": i} for i in range(30)])
    predicates = [RowPredicate("even", '"i" % 2 = 0'), RowPredicate("small", '"i" < 10'),
                  RowPredicate("u", 'count(*) OVER (PARTITION BY "k") = 1')]
    flagged, started = jobs(engine, lambda: engine.add_row_flags(frame, predicates))
    assert started == 0
    summary, started = jobs(engine, lambda: engine.summarize_flags(
        flagged, {"even": ["i"], "small": [], "u": ["k"]}, sample_size=2))
    assert started == 2  # one aggregation for every count, one job for every sample
    assert dict(summary.failing) == {"even": 15, "small": 20, "u": 30}
    assert summary.samples["even"] == [{"i": 1}, {"i": 3}]
    assert summary.samples["small"] == [{"k": 1, "i": 10}, {"k": 2, "i": 11}]


def test_builtins_and_sql_build_plans_without_running_jobs(engine) -> None:
    frame = frame_from_rows(engine, [{"id": 1, "v": "a"}, {"id": 2, "v": "b"}])

    def steps():
        out = apply_transform(engine, "derive_columns", frame, {"columns": {"w": "upper(v)"}},
                              {})
        out = apply_transform(engine, "sort", out, {"by": "id DESC"}, {})
        out = apply_transform(engine, "deduplicate", out, {"keys": ["w"]}, {})
        return engine.sql('SELECT "id", w FROM df WHERE "id" > 0', {"df": out})

    result, started = jobs(engine, steps)
    assert started == 0
    assert engine.to_rows(result) == [{"id": 2, "w": "B"}, {"id": 1, "w": "A"}]


def test_cache_marks_the_frame_cached(engine) -> None:
    frame = frame_from_rows(engine, [{"id": 1}])
    assert not frame.is_cached
    cached = engine.cache(frame)
    assert cached.is_cached and engine.count(cached) == 1
    cached.unpersist()


def test_collect_persists_node_outputs_and_lets_go_of_the_oldest(spark_session) -> None:
    engine = get_engine("spark", session=spark_session, kept_frames=2)
    frames = [engine.collect(frame_from_rows(engine, [{"id": i}])) for i in range(3)]
    assert [f.is_cached for f in frames] == [False, True, True]
    pinned = engine.cache(frames[1])  # cache: true is never let go of by the engine
    engine.collect(frame_from_rows(engine, [{"id": 9}]))
    engine.collect(frame_from_rows(engine, [{"id": 10}]))
    assert pinned.is_cached and not frames[2].is_cached
    assert engine.to_rows(frames[0]) == [{"id": 0}]  # an unpersisted frame is computed again
    pinned.unpersist()


def test_a_cached_read_never_answers_for_a_later_read_of_changed_files(engine, lake,
                                                                       tmp_path) -> None:
    source = tmp_path / "lake" / "in.csv"
    source.parent.mkdir(parents=True)
    source.write_text("id\n1\n")
    first = engine.collect(engine.read(ReadRequest(location=lake.resolve("in.csv"),
                                                   format="csv")))
    assert engine.to_rows(first) == [{"id": 1}]
    source.write_text("id\n1\n2\n")
    second = engine.read(ReadRequest(location=lake.resolve("in.csv"), format="csv"))
    assert engine.to_rows(second) == [{"id": 1}, {"id": 2}]
    assert engine.to_rows(first) == [{"id": 1}]  # still what it read


# ---- order across partitions -------------------------------------------------------------------
def test_sort_deduplicate_and_distinct_keep_input_order_across_partitions(engine) -> None:
    rows = [{"i": i, "g": i % 4, "x": i % 2} for i in range(40)]
    frame = spread(engine, rows)
    assert frame.rdd.getNumPartitions() == 3
    ordered = apply_transform(engine, "sort", frame, {"by": "x"}, {})
    assert [r["i"] for r in engine.to_rows(ordered)] == \
        [i for i in range(40) if i % 2 == 0] + [i for i in range(40) if i % 2 == 1]
    first = apply_transform(engine, "deduplicate", frame, {"keys": ["g"]}, {})
    assert [r["i"] for r in engine.to_rows(first)] == [0, 1, 2, 3]
    latest = apply_transform(engine, "deduplicate", frame, {"keys": ["g"], "order_by": "i DESC"},
                             {})
    assert [r["i"] for r in engine.to_rows(latest)] == [36, 37, 38, 39]
    distinct = apply_transform(engine, "distinct", frame, {"columns": ["x", "g"]}, {})
    assert engine.to_rows(distinct) == [{"x": 0, "g": 0}, {"x": 1, "g": 1}, {"x": 0, "g": 2},
                                        {"x": 1, "g": 3}]


def test_window_flags_come_back_in_frame_order(engine) -> None:
    frame = spread(engine, [{"i": i, "k": i % 5} for i in range(60)])
    flagged = engine.add_row_flags(frame, [RowPredicate(
        "first", 'row_number() OVER (PARTITION BY "k" ORDER BY "i") = 1')])
    rows = engine.to_rows(flagged)
    assert [r["i"] for r in rows] == list(range(60))
    assert [r["first"] for r in rows] == [i < 5 for i in range(60)]


# ---- SQL ---------------------------------------------------------------------------------------
def test_sql_views_are_dropped_and_existing_views_put_back(engine) -> None:
    from odibi_core.engines.spark_sql import _temp_views

    kept = engine.create_view("orders_view", frame_from_rows(engine, [{"id": 7}]))
    assert engine.to_rows(kept) == [{"id": 7}]
    before = _temp_views(engine.session)
    other = frame_from_rows(engine, [{"id": 1}, {"id": 2}])
    result = engine.sql("SELECT count(*) AS n FROM orders_view JOIN df USING (id)",
                        {"orders_view": other, "df": other})
    assert engine.to_rows(result) == [{"n": 2}]
    assert _temp_views(engine.session) == before  # df gone, orders_view back
    assert engine.to_rows(engine.sql("SELECT id FROM orders_view", {})) == [{"id": 7}]
    assert "orders_view" in engine.view_names()


def test_duckdb_type_names_are_rewritten_outside_quotes() -> None:
    query = ("SELECT CAST(a AS TIMESTAMPTZ) AS t, b::VARCHAR AS s, CAST(c AS VARCHAR(3)), "
             "'CAST(x AS TIMESTAMPTZ)' AS text, \"timestamptz\" FROM df")
    assert spark_sql_text(query) == (
        "SELECT CAST(a AS TIMESTAMP_LTZ) AS t, b::STRING AS s, CAST(c AS VARCHAR(3)), "
        "'CAST(x AS TIMESTAMPTZ)' AS text, \"timestamptz\" FROM df")


def test_backslashes_in_string_literals_are_literal_as_in_ansi_sql(engine) -> None:
    frame = frame_from_rows(engine, [{"s": "a1"}, {"s": "ab"}])
    result = engine.sql(r"SELECT s, regexp_like(s, '\d') AS digit, length('\d') AS n FROM df",
                        {"df": frame})
    assert engine.to_rows(result) == [{"s": "a1", "digit": True, "n": 2},
                                      {"s": "ab", "digit": False, "n": 2}]
    flagged = engine.add_row_flags(frame, [RowPredicate(
        "ok", engine.sql_regex_match('"s"', r"^[a-z]\d$"))])
    assert [r["ok"] for r in engine.to_rows(flagged)] == [True, False]


def test_spark_errors_are_translated(engine) -> None:
    from odibi_core.engines.spark_sql import foreign_error

    frame = frame_from_rows(engine, [{"amount": 1}])
    with pytest.raises(DataError, match=r"Column 'amout' does not exist. Did you mean 'amount'"):
        engine.add_columns(frame, {"x": "amout + 1"})
    bad = engine.sql("SELECT CAST('x' AS BIGINT) AS n FROM df", {"df": frame})
    with pytest.raises(DataError, match=r"CAST_INVALID_INPUT") as info:
        engine.to_rows(bad)
    assert "\tat org.apache" not in info.value.message  # no JVM stack trace
    lost = RuntimeError("Job aborted: ExecutorLostFailure (executor 1 exited)")
    assert isinstance(foreign_error(lost, "counting rows", "fix"), TransientError)


# ---- files -------------------------------------------------------------------------------------
def test_csv_is_typed_like_the_other_engines_in_one_validation_job(engine, lake,
                                                                   tmp_path) -> None:
    source = tmp_path / "lake" / "in.csv"
    source.parent.mkdir(parents=True)
    source.write_text("id,price,ok,day,note\n1,2.5,true,2024-01-01,NA\n2,3,false,,x\n")
    frame, started = jobs(engine, lambda: engine.read(ReadRequest(
        location=lake.resolve("in.csv"), format="csv")))
    assert started == 1  # one job types and checks every column (the header is read here)
    assert [(c.name, c.type) for c in engine.schema(frame)] == [
        ("id", "int64"), ("price", "float64"), ("ok", "bool"), ("day", "string"),
        ("note", "string")]
    assert engine.to_rows(frame) == [
        {"id": 1, "price": 2.5, "ok": True, "day": "2024-01-01", "note": None},
        {"id": 2, "price": 3.0, "ok": False, "day": None, "note": "x"}]


def test_single_file_targets_are_one_file_and_json_an_array(engine, lake) -> None:
    frame = spread(engine, [{"i": i, "s": f"v{i}"} for i in range(9)])
    result = engine.write(frame, WriteRequest(location=lake.resolve("out/all.json"),
                                              format="json"))
    assert (result.rows_written, result.files_written) == (9, 1)
    folder = Path(lake.resolve("out").uri)
    assert sorted(p.name for p in folder.iterdir()) == ["all.json"]
    assert [r["i"] for r in json.loads((folder / "all.json").read_text())] == list(range(9))
    many = engine.write(frame, WriteRequest(location=lake.resolve("parts"), format="parquet"))
    names = sorted(p.name for p in Path(lake.resolve("parts").uri).iterdir())
    assert many.files_written == len(names) == 3
    assert [n[:11] for n in names] == ["part-00000-", "part-00001-", "part-00002-"]
    assert_frames_equal(engine, engine.read(ReadRequest(location=lake.resolve("parts"),
                                                        format="parquet")),
                        [{"i": i, "s": f"v{i}"} for i in range(9)])
