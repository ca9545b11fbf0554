"""polars-specific behaviour: frames stay lazy from the read through transforms and validation
flags, a node run computes its plan once, views are uncomputed plans, hive-partitioned parquet,
user functions returning DataFrames, fingerprints stable across processes."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import polars as pl
import pytest

from odibi_core.connections import LocalConnection
from odibi_core.engines import get_engine
from odibi_core.engines.base import RowPredicate
from odibi_core.errors import ConfigError, DataError
from odibi_core.storage.requests import ReadRequest, WriteRequest
from odibi_core.testing import assert_frames_equal, frame_from_rows
from odibi_core.transforms import apply_transform, clear_user_transforms, transform

ROWS = [{"id": i, "amount": float(i * 10), "status": "open" if i % 2 else "shipped"}
        for i in range(1, 7)]


@pytest.fixture
def engine():
    return get_engine("polars")


@pytest.fixture
def lake(tmp_path: Path) -> LocalConnection:
    return LocalConnection("lake", "lake", tmp_path)


@pytest.fixture(autouse=True)
def _no_user_transforms():
    clear_user_transforms()
    yield
    clear_user_transforms()


@pytest.fixture
def collections(monkeypatch):
    """The plans collected that read the source file (``orders.parquet``). Steps may collect
    their expressions on an EMPTY frame to check names and types; those read no data."""
    calls = []
    original = pl.LazyFrame.collect

    def counting(self, *args, **kwargs):
        if "orders.parquet" in self.explain():
            calls.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(pl.LazyFrame, "collect", counting)
    return calls


def _parquet(engine, lake, path="in/orders.parquet"):
    engine.write(frame_from_rows(engine, ROWS), WriteRequest(location=lake.resolve(path),
                                                             format="parquet"))
    return engine.read(ReadRequest(location=lake.resolve(path), format="parquet"))


# ---- laziness ----------------------------------------------------------------------------------
@pytest.mark.parametrize("streaming", [True, False], ids=["streaming", "in-memory"])
def test_read_transforms_and_flags_build_a_plan_without_computing_it(lake, collections,
                                                                     streaming):
    """Streaming keeps the flags in the plan; in memory they are computed once, when added
    (the counts, the split and the write then read them instead of evaluating the tests
    again)."""
    engine = get_engine("polars", streaming=streaming)
    frame = _parquet(engine, lake)
    collections.clear()
    steps = [("filter_rows", {"condition": "amount > 10"}),
             ("derive_columns", {"columns": {"double": "amount * 2"}}),
             ("case_when", {"output_col": "size", "cases": [
                 {"condition": "amount >= 40", "value": "'big'"}], "default": "'small'"}),
             ("cast_columns", {"columns": {"id": "float64"}}),  # cannot fail: no probe
             ("sort", {"by": "amount DESC"}),
             ("deduplicate", {"keys": ["status"]}),
             ("rename_columns", {"columns": {"size": "bucket"}})]
    for name, params in steps:
        frame = apply_transform(engine, name, frame, params, {})
    flagged = engine.add_row_flags(frame, [
        RowPredicate("u", "", "unique", {"columns": ["status"]}),
        RowPredicate("r", "", "range", {"column": "amount", "min": 0}),
        RowPredicate("c", "double > 50")])
    assert isinstance(flagged, pl.LazyFrame)
    if not streaming:
        assert len(collections) == 1  # the flags, computed once
        assert "orders.parquet" not in flagged.explain()
        assert engine.count(flagged) == 2 and len(collections) == 1
        return
    assert collections == []  # nothing computed yet
    plan = flagged.explain()
    assert "SCAN" in plan and "orders.parquet" in plan  # still reads the file
    assert engine.columns(flagged)[-3:] == ["u", "r", "c"]
    assert collections == []  # names come from the plan, not the data
    assert engine.count(flagged) == 2 and len(collections) == 1


def test_collect_and_cache_return_a_computed_lazy_frame(engine, lake):
    frame = _parquet(engine, lake)
    computed = engine.collect(frame)
    assert isinstance(computed, pl.LazyFrame)
    assert "orders.parquet" not in computed.explain()  # an in-memory scan now
    assert "orders.parquet" not in engine.cache(frame).explain()


def test_a_node_run_computes_its_transform_once(engine, tmp_path):
    calls = []

    @transform
    def tag(df):
        def counted(series: pl.Series) -> pl.Series:
            calls.append(len(series))
            return series * 2

        return df.with_columns(pl.col("amount").map_batches(counted,
                                                            return_dtype=pl.Float64))

    project = _project(tmp_path, """\
        - name: orders
          read: {connection: lake, format: parquet, path: in/orders.parquet}
          transformer: tag
          validation:
            tests:
              - {type: not_null, columns: [id], on_fail: quarantine}
              - {type: unique, columns: [id]}
              - {type: custom_sql, condition: "amount > 30", on_fail: quarantine}
              - {type: row_count, min: 1}
            quarantine: {connection: lake, path: q}
          write: {connection: lake, format: delta, path: silver/orders}
        """)
    lake = LocalConnection("lake", "lake", tmp_path)
    _parquet(engine, lake)
    run = _run(project, engine)
    assert run.succeeded, run.result.error
    assert calls == [6]  # one pass over the 6 rows for read + transform
    assert run.result.rows_written == 5  # amount*2 > 30 keeps ids 2..6
    stored = engine.read(ReadRequest(location=lake.resolve("q"), format="delta"))
    assert [r["id"] for r in engine.to_rows(stored)] == [1]


def test_a_streaming_node_run_never_holds_its_output_in_memory(tmp_path, monkeypatch):
    """``polars: {streaming: true}``: the validated rows go from the scan to the Delta table in
    batches. Every frame collected from the source is a count, a sample or the rejected rows,
    never the output; the row counts and sample rows come from the streamed write."""
    rows = [{"id": i % 500, "amount": float(i % 97), "status": "open"} for i in range(2000)]
    engine = get_engine("polars", streaming=True)
    lake = LocalConnection("lake", "lake", tmp_path)
    engine.write(frame_from_rows(engine, rows), WriteRequest(
        location=lake.resolve("in/orders.parquet"), format="parquet"))
    project = _project(tmp_path, """\
        - name: orders
          read: {connection: lake, format: parquet, path: in/orders.parquet}
          validation:
            tests:
              - {type: range, column: amount, min: 0, max: 90, on_fail: quarantine}
              - {type: not_null, columns: [id]}
            quarantine: {connection: lake, path: q}
          write: {connection: lake, format: delta, path: silver/orders}
        """)
    heights: list[int] = []
    collect, collect_all = pl.LazyFrame.collect, pl.collect_all

    def counted(frames: list[pl.DataFrame], plans: list[pl.LazyFrame]) -> list[pl.DataFrame]:
        heights.extend(f.height for f, p in zip(frames, plans) if "orders.parquet" in p.explain())
        return frames

    monkeypatch.setattr(pl.LazyFrame, "collect",
                        lambda self, **kw: counted([collect(self, **kw)], [self])[0])
    monkeypatch.setattr(pl, "collect_all",
                        lambda plans, **kw: counted(collect_all(plans, **kw), list(plans)))
    run = _run(project, engine)
    assert run.succeeded, run.result.error
    rejected = sum(1 for r in rows if r["amount"] > 90)
    assert heights and max(heights) == rejected < len(rows) - rejected  # the quarantine only
    result = run.result
    assert (result.rows_out, result.rows_written) == (len(rows) - rejected,) * 2
    assert len(result.sample_rows) == 10 and all(r["amount"] <= 90 for r in result.sample_rows)
    stored = engine.read(ReadRequest(location=lake.resolve("silver/orders"), format="delta"))
    monkeypatch.undo()
    assert engine.count(stored) == len(rows) - rejected
    assert engine.count(engine.read(ReadRequest(location=lake.resolve("q"),
                                                format="delta"))) == rejected


def test_reads_are_scans(engine, lake):
    frame = _parquet(engine, lake, "folder")
    assert "SCAN" in frame.explain()
    engine.write(frame, WriteRequest(location=lake.resolve("t"), format="delta"))
    engine.write(frame, WriteRequest(location=lake.resolve("t"), format="delta", mode="append"))
    latest = engine.read(ReadRequest(location=lake.resolve("t"), format="delta"))
    first = engine.read(ReadRequest(location=lake.resolve("t"), format="delta", as_of_version=0))
    assert "SCAN" in latest.explain() and "SCAN" in first.explain()
    assert (engine.count(latest), engine.count(first)) == (12, 6)


def test_a_bad_cast_is_found_at_the_step_and_a_safe_one_reads_nothing(engine, lake,
                                                                      collections):
    engine.write(frame_from_rows(engine, [{"n": "1"}, {"n": "2"}, {"n": "x"}]),
                 WriteRequest(location=lake.resolve("orders.parquet"), format="parquet"))
    frame = engine.read(ReadRequest(location=lake.resolve("orders.parquet"), format="parquet"))
    collections.clear()
    ok = apply_transform(engine, "cast_columns", frame, {"columns": {"n": "string"}}, {})
    assert collections == [] and isinstance(ok, pl.LazyFrame)
    with pytest.raises(DataError, match=r"Column 'n' has a value that is not int64: 'x'"):
        apply_transform(engine, "cast_columns", frame, {"columns": {"n": "int64"}}, {})
    assert len(collections) == 1  # one pass to find the value that does not convert


def test_type_errors_in_expressions_are_reported_by_their_step_without_reading(engine, lake,
                                                                              collections):
    frame = _parquet(engine, lake)
    collections.clear()
    with pytest.raises(DataError, match=r"Transform 'derive_columns': arithmetic on dtypes str "
                                        r"[\s\S]*Expression: status \+ 1"):
        apply_transform(engine, "derive_columns", frame, {"columns": {"x": "status + 1"}}, {})
    with pytest.raises(DataError, match=r"Transform 'filter_rows': cannot compare string"):
        apply_transform(engine, "filter_rows", frame, {"condition": "status > 5"}, {})
    assert collections == []


# ---- frames from user code ---------------------------------------------------------------------
def test_user_functions_get_the_lazy_frame_and_may_return_a_data_frame(engine):
    seen = []

    @transform
    def eager(df):
        seen.append(type(df))
        return df.collect().with_columns(pl.lit(1).alias("one"))

    frame = frame_from_rows(engine, [{"a": 1}])
    out = apply_transform(engine, "eager", frame, {}, {})
    assert seen == [pl.LazyFrame] and isinstance(out, pl.LazyFrame)
    assert engine.to_rows(out) == [{"a": 1, "one": 1}]


def test_a_foreign_frame_is_a_data_error(engine):
    with pytest.raises(DataError, match=r"expects a polars LazyFrame, got list"):
        engine.count([1, 2])


# ---- views -------------------------------------------------------------------------------------
def test_a_view_is_an_uncomputed_plan_in_the_engine_sql_context(engine, lake, collections):
    frame = _parquet(engine, lake)
    collections.clear()
    view = engine.create_view("open_orders", apply_transform(
        engine, "filter_rows", frame, {"condition": "status = 'open'"}, {}))
    assert collections == [] and "orders.parquet" in view.explain()
    assert engine.view_names() == ["open_orders"]
    total = engine.sql("SELECT count(*) AS n FROM open_orders", {})
    assert engine.to_rows(total) == [{"n": 3}]
    # a table passed to the query wins over a view of the same name
    other = engine.sql("SELECT count(*) AS n FROM open_orders",
                       {"open_orders": frame_from_rows(engine, [{"x": 1}])})
    assert engine.to_rows(other) == [{"n": 1}]


# ---- files -------------------------------------------------------------------------------------
def test_parquet_partition_by_writes_a_hive_folder_that_reads_back(engine, lake):
    rows = [{"id": 1, "region": "EU"}, {"id": 2, "region": "US"}, {"id": 3, "region": None}]
    location = lake.resolve("by_region")
    result = engine.write(frame_from_rows(engine, rows),
                          WriteRequest(location=location, format="parquet",
                                       partition_by=("region",)))
    assert result.rows_written == 3 and result.files_written == 3
    folders = sorted(p.name for p in Path(location.uri).iterdir())
    assert folders == ["region=EU", "region=US", "region=__HIVE_DEFAULT_PARTITION__"]
    engine.write(frame_from_rows(engine, rows[:1]),
                 WriteRequest(location=location, format="parquet", mode="append",
                              partition_by=("region",)))
    back = engine.read(ReadRequest(location=location, format="parquet"))
    assert_frames_equal(engine, back, rows + rows[:1], check_column_order=False)
    schema = engine.read_schema(ReadRequest(location=location, format="parquet"))
    assert {c.name: c.type for c in schema} == {"id": "int64", "region": "string"}
    engine.write(frame_from_rows(engine, rows[1:2]),  # overwrite swaps the whole folder
                 WriteRequest(location=location, format="parquet", partition_by=("region",)))
    assert sorted(p.name for p in Path(location.uri).iterdir()) == ["region=US"]


def test_parquet_files_with_different_schemas_stack_like_pandas(engine, lake, tmp_path):
    folder = lake.resolve("parts")
    engine.write(frame_from_rows(engine, [{"id": 1}], {"id": "int32"}),
                 WriteRequest(location=folder, format="parquet"))
    engine.write(frame_from_rows(engine, [{"id": 2, "extra": "x"}], {"id": "int64"}),
                 WriteRequest(location=folder, format="parquet", mode="append"))
    for name in ("pandas", "polars"):
        other = get_engine(name)
        back = other.read(ReadRequest(location=folder, format="parquet"))
        assert_frames_equal(other, back, [{"id": 1, "extra": None}, {"id": 2, "extra": "x"}],
                            schema={"id": "int64", "extra": "string"})
    engine.write(frame_from_rows(engine, [{"id": "three"}]),
                 WriteRequest(location=folder, format="parquet", mode="append"))
    with pytest.raises(DataError, match=r"The 3 files of lake:parts do not share a schema"):
        engine.read(ReadRequest(location=folder, format="parquet"))


def test_csv_write_options_map_to_polars_and_pandas_only_ones_are_refused(engine, lake):
    frame = frame_from_rows(engine, [{"a": 1.234, "b": None}])
    engine.write(frame, WriteRequest(location=lake.resolve("o.csv"), format="csv", options={
        "sep": ";", "float_format": "%.1f", "null_value": "NA", "header": False}))
    assert Path(lake.resolve("o.csv").uri).read_text() == "1.2;NA\n"
    with pytest.raises(ConfigError, match=r"csv write option 'quoting' is not available on the "
                                          r"polars engine"):
        engine.write(frame, WriteRequest(location=lake.resolve("p.csv"), format="csv",
                                         options={"quoting": 1}))


# ---- determinism -------------------------------------------------------------------------------
def test_fingerprint_is_the_same_in_another_process(engine):
    rows = [{"id": 1, "at": "2026-01-01T00:00:00", "s": "x", "d": 1.5},
            {"id": 2, "at": None, "s": None, "d": None}]
    code = textwrap.dedent(f"""
        from odibi_core.engines import get_engine
        engine = get_engine("polars")
        print(engine.fingerprint(engine.from_rows({rows!r}, {{"at": "timestamp"}})))
    """)
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True).stdout.strip()
    here = engine.fingerprint(engine.from_rows(rows, {"at": "timestamp"}))
    assert other == here
    assert here != engine.fingerprint(engine.from_rows(rows[:1], {"at": "timestamp"}))


def test_sample_fraction_is_seeded_lazy_and_in_order(engine):
    frame = frame_from_rows(engine, [{"i": i} for i in range(101)])
    picked = engine.sample_fraction(frame, 0.3, seed=11)
    assert isinstance(picked, pl.LazyFrame)
    rows = [r["i"] for r in engine.to_rows(picked)]
    assert len(rows) == 30 and rows == sorted(rows)
    assert rows == [r["i"] for r in engine.to_rows(engine.sample_fraction(frame, 0.3, seed=11))]


# ---- helpers -----------------------------------------------------------------------------------
def _project(root: Path, nodes: str) -> Path:
    body = textwrap.indent(textwrap.dedent(nodes), " " * 6)
    (root / "odibi.yaml").write_text(textwrap.dedent("""\
        project: polars_tests
        engine: polars
        connections:
          lake: {type: local, base_path: ./lake}
        system: {connection: lake, path: _system}
        pipelines:
          - pipeline: p
            nodes:
        """) + body, encoding="utf-8")
    return root / "odibi.yaml"


def _run(path: Path, engine):
    from odibi_core.config import load_project
    from odibi_core.node import NodeRunner, RunContext

    project = load_project(path)
    (key,) = project.graph.topological_order()
    return NodeRunner(project, engine).run(key, inputs={}, context=RunContext(run_id="r1"))
