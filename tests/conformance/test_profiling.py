"""Data profiling: the same profile of a node's output on every engine (nulls, exact and
approximate unique counts, min/max, histogram bins), sample_rows, and the node lifecycle."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path


from odibi_core.profiling import Profile, profile_frame, profile_html, profile_markdown, profile_of
from odibi_core.testing import frame_from_rows

from conformance_projects import run_nodes, write_project

UTC = dt.timezone.utc
ROWS = [
    {"i": 1, "f": 1.5, "s": "b", "d": dt.date(2026, 1, 1),
     "t": dt.datetime(2026, 1, 1, tzinfo=UTC), "n": None, "b": True},
    {"i": 5, "f": None, "s": "a", "d": dt.date(2026, 1, 11),
     "t": dt.datetime(2026, 1, 2, 6, tzinfo=UTC), "n": None, "b": False},
    {"i": 10, "f": -2.25, "s": None, "d": None, "t": None, "n": None, "b": None},
    {"i": 10, "f": 7.0, "s": "zz", "d": dt.date(2026, 1, 3),
     "t": dt.datetime(2026, 1, 3, tzinfo=UTC), "n": None, "b": True},
]
SCHEMA = {"i": "int64", "f": "float64", "s": "string", "d": "date", "t": "timestamp",
          "n": "int32", "b": "bool"}


def column(name: str, type_: str, nulls: int, unique: int, low, high, histogram=None) -> dict:
    return {"name": name, "type": type_, "null_count": nulls, "null_percentage": nulls * 25.0,
            "unique_count": unique, "approximate": False, "min": low, "max": high,
            "histogram": histogram}


def days(first: int, last: int) -> list[str]:
    return [(dt.date(2026, 1, 1) + dt.timedelta(days=d)).isoformat()
            for d in range(first, last + 1)]


EXPECTED_COLUMNS = [
    column("i", "int64", 0, 3, 1, 10, {
        "edges": [1.0, 1.9, 2.8, 3.7, 4.6, 5.5, 6.4, 7.3, 8.2, 9.1, 10.0],
        "counts": [1, 0, 0, 0, 1, 0, 0, 0, 0, 2]}),
    column("f", "float64", 1, 3, -2.25, 7.0, {
        "edges": [-2.25, -1.325, -0.4, 0.525, 1.45, 2.375, 3.3, 4.225, 5.15, 6.075, 7.0],
        "counts": [1, 0, 0, 0, 1, 0, 0, 0, 0, 1]}),
    column("s", "string", 1, 3, "a", "zz"),
    column("d", "date", 1, 3, "2026-01-01", "2026-01-11",
           {"edges": days(0, 10), "counts": [1, 0, 1, 0, 0, 0, 0, 0, 0, 1]}),
    column("t", "timestamp", 1, 3, "2026-01-01T00:00:00+00:00", "2026-01-03T00:00:00+00:00", {
        "edges": [(dt.datetime(2026, 1, 1, tzinfo=UTC) + dt.timedelta(minutes=288 * k))
                  .isoformat() for k in range(11)],
        "counts": [1, 0, 0, 0, 0, 0, 1, 0, 0, 1]}),
    column("n", "int32", 4, 0, None, None),  # all null: no min/max, no histogram
    column("b", "bool", 1, 2, False, True),
]


def test_profile_is_the_same_on_every_engine(engine):
    profile = profile_frame(engine, frame_from_rows(engine, ROWS, SCHEMA))
    data = profile.to_json()
    assert data["rows"] == 4 and data["sample_rows"] is None
    assert data["columns"] == EXPECTED_COLUMNS
    assert json.loads(json.dumps(data, allow_nan=False)) == data  # plain JSON
    assert Profile.from_json(data) == profile


def test_decimals_wall_clock_timestamps_and_binary(engine):
    rows = [{"p": Decimal("1.25"), "w": dt.datetime(2026, 1, 1, 12), "x": b"ab"},
            {"p": Decimal("3.50"), "w": dt.datetime(2026, 1, 2), "x": None}]
    frame = frame_from_rows(engine, rows, {"p": "decimal(10,2)", "w": "timestamp_ntz",
                                           "x": "binary"})
    profile = profile_frame(engine, frame)
    p, w, x = profile.columns
    assert (p.min, p.max, p.histogram.edges[5], p.histogram.counts[0]) == (1.25, 3.5, 2.375, 1)
    assert (w.min, w.max) == ("2026-01-01T12:00:00", "2026-01-02T00:00:00")
    assert w.histogram.edges[1] == "2026-01-01T13:12:00" and w.histogram.counts[-1] == 1
    assert (x.null_count, x.unique_count, x.min, x.histogram) == (1, None, None, None)


def test_empty_frame_has_no_percentages_values_or_bins(engine):
    profile = profile_frame(engine, frame_from_rows(engine, [], SCHEMA)).to_json()
    assert profile["rows"] == 0
    for col in profile["columns"]:
        assert (col["null_count"], col["null_percentage"], col["unique_count"], col["min"],
                col["max"], col["histogram"]) == (0, None, 0, None, None, None), col["name"]


def test_one_distinct_value_is_one_bin(engine):
    frame = frame_from_rows(engine, [{"x": 3.5}, {"x": 3.5}, {"x": None}], {"x": "float64"})
    histogram = profile_frame(engine, frame).column("x").histogram
    assert histogram is not None
    assert (histogram.edges, histogram.counts) == ((3.5, 3.5), (2,))


# Relative error of each engine's HyperLogLog estimate: DuckDB's and Spark's (rsd 1%) are within
# a few %; polars' approx_n_unique is coarser (4-9% off on this data).
TOLERANCE = {"pandas": 0.03, "spark": 0.03, "polars": 0.10}


def test_unique_counts_are_approximate_above_the_limit_and_say_so(engine):
    rows = [{"k": n % 4000, "name": f"customer-{n % 4000}"} for n in range(6000)]
    frame = frame_from_rows(engine, rows, {"k": "int64", "name": "string"})
    approximate = profile_frame(engine, frame, exact_limit=1000, include=["unique_count"])
    for col in approximate.columns:
        assert col.approximate is True, col.name
        error = abs(col.unique_count - 4000) / 4000
        assert error <= TOLERANCE[engine.name], (col.name, col.unique_count)
    exact = profile_frame(engine, frame, include=["unique_count"])
    assert [(c.unique_count, c.approximate) for c in exact.columns] == [(4000, False)] * 2
    assert "~" in profile_markdown(approximate.to_json())


def test_sample_rows_bounds_the_rows_profiled(engine):
    frame = frame_from_rows(engine, [{"id": n} for n in range(1000)], {"id": "int64"})
    profile = profile_frame(engine, frame, sample_rows=100)
    assert profile.rows == 100 and profile.sample_rows == 100
    ids = profile.column("id")
    assert (ids.min, ids.max, ids.unique_count) == (0, 99, 100)  # the first 100 rows
    assert sum(ids.histogram.counts) == 100


def test_include_selects_the_metrics(engine):
    profile = profile_frame(engine, frame_from_rows(engine, ROWS, SCHEMA),
                            include=["null_percentage"])
    assert profile.include == ("null_percentage",)
    for col in profile.columns:
        assert col.null_count is not None
        assert (col.unique_count, col.min, col.max, col.histogram) == (None, None, None, None)


NODE = """\
- name: people
  read: {connection: src, format: csv, path: people.csv}
  privacy: {method: mask, columns: [email]}
  validation:
    tests:
      - {type: range, column: age, min: 0, max: 120, on_fail: quarantine}
    quarantine: {connection: lake, path: _quarantine/people}
  write: {connection: lake, format: delta, path: people}
"""
PEOPLE = ("id,email,age\n1,ada@example.com,36\n2,,\n3,grace.hopper@navy.mil,85\n"
          "4,bad@example.com,999\n")


def enable_profiling(path: Path, block: str) -> None:
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("pipelines:", f"profiling: {block}\npipelines:", 1),
                    encoding="utf-8")


def test_node_profiles_its_masked_validated_output_before_the_write(engine, tmp_path):
    path = write_project(tmp_path, engine, NODE, files={"people.csv": PEOPLE})
    enable_profiling(path, "{enabled: true}")
    run = run_nodes(path, engine)["people"]
    assert run.succeeded, run.result.error
    phases = [t.phase for t in run.result.timings]
    assert phases.index("quarantine") < phases.index("profile") < phases.index("write")
    profile = profile_of(run.result)
    assert profile is not None and profile.rows == 3  # the quarantined row is not profiled
    age = profile.column("age")
    assert (age.min, age.max, age.null_count, age.histogram.counts[-1]) == (36, 85, 1, 1)
    email = profile.column("email")
    assert (email.min, email.max) == ("*****************.mil", "***********.com")
    text = json.dumps(run.result.extra["profile"])
    assert "ada@" not in text and "hopper" not in text  # masked columns never leak raw values
    assert "<svg" in profile_html(run.result.extra["profile"])


def test_profiling_is_off_by_default_and_sample_rows_comes_from_the_project(engine, tmp_path):
    path = write_project(tmp_path, engine, NODE, files={"people.csv": PEOPLE})
    run = run_nodes(path, engine)["people"]
    assert run.succeeded and "profile" not in run.result.extra
    assert "profile" not in [t.phase for t in run.result.timings]
    assert profile_of(run.result) is None

    enable_profiling(path, "{enabled: true, include: [null_percentage, min_max], sample_rows: 2}")
    run = run_nodes(path, engine, run_id="r2")["people"]
    profile = profile_of(run.result)
    assert profile is not None and profile.rows == 2 and profile.sample_rows == 2
    assert profile.column("id").unique_count is None and profile.column("id").max == 2


def test_rendering_escapes_every_text():
    profile = {"rows": 2, "sample_rows": None, "exact_unique_limit": 10, "include": [],
               "columns": [{"name": "<b>|x", "type": "string", "null_count": 0,
                            "null_percentage": 0.0, "unique_count": 2, "approximate": True,
                            "min": "<script>", "max": "a|b", "histogram": None},
                           {"name": "v", "type": "int64", "null_count": 1,
                            "null_percentage": 50.0, "unique_count": 1, "approximate": False,
                            "min": 1, "max": 1, "histogram": {"edges": [1, 1], "counts": [1]}}]}
    page = profile_html(profile)
    assert "<script>" not in page and "&lt;script&gt;" in page and "&lt;b&gt;|x" in page
    assert page.count("<svg") == 1 and "<title>[1, 1]: 1</title>" in page
    table = profile_markdown(profile)
    assert "&lt;b&gt;\\|x" in table and "a\\|b" in table and "| ~2 |" in table
    assert "approximate" in table
    assert profile_markdown({"error": "boom"}) == "_Profiling failed: boom_"
