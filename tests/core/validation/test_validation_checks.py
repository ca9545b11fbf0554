"""Each test type: its SQL, how it judges, its messages; one-pass evaluation on the pandas
engine."""

from __future__ import annotations

import datetime as dt
import typing

import pytest

from odibi_core.config.validation import TestConfig, ValidationConfig
from odibi_core.engines import get_engine
from odibi_core.errors import DataError
from odibi_core.validation import EvaluationContext, build_check, evaluate_tests
from odibi_core.validation.checks import AggregateFacts

NOW = dt.datetime(2026, 1, 10, 12, tzinfo=dt.timezone.utc)


@pytest.fixture
def engine():
    return get_engine("pandas")


def models_of(*tests: dict) -> list:
    return ValidationConfig.model_validate({"tests": list(tests)}).tests


def evaluate(engine, rows, *tests, schema=None, **kw):
    frame = engine.from_rows(rows, schema)
    context = EvaluationContext(node="p.n", now=kw.pop("now", NOW), history=kw.pop("history", None))
    return evaluate_tests(engine, frame, models_of(*tests), context, **kw).result


def test_every_test_type_has_a_check() -> None:
    union = typing.get_args(typing.get_args(TestConfig)[0])
    types = [typing.get_args(model.model_fields["type"].annotation)[0] for model in union]
    assert len(types) == 11
    for name in types:
        assert build_check(type("T", (), {"type": name})()).type == name


@pytest.mark.parametrize(("test", "sql"), [
    ({"type": "not_null", "columns": ["a", "b"]},
     'COALESCE(("a" IS NOT NULL AND "b" IS NOT NULL), TRUE)'),
    ({"type": "unique", "columns": ["a", "b"]},
     'COALESCE(("a" IS NULL OR "b" IS NULL OR count(*) OVER (PARTITION BY "a", "b") = 1), '
     'TRUE)'),
    ({"type": "accepted_values", "column": "s", "values": ["x", "it's", 3, None]},
     "COALESCE((\"s\" IN ('x', 'it''s', 3)), TRUE)"),
    ({"type": "accepted_values", "column": "s", "values": [None]}, 'COALESCE(("s" IS NULL), TRUE)'),
    ({"type": "range", "column": "v", "min": 0, "max": 9.5},
     'COALESCE(("v" >= 0 AND "v" <= 9.5), TRUE)'),
    ({"type": "range", "column": "d", "min": "2026-01-01"},
     "COALESCE((\"d\" >= '2026-01-01'), TRUE)"),
    ({"type": "regex_match", "column": "e", "pattern": "^a'b$"},
     "COALESCE((regexp_matches(CAST(\"e\" AS VARCHAR), '^a''b$')), TRUE)"),
    ({"type": "custom_sql", "condition": "a <= b"}, "COALESCE((a <= b), TRUE)"),
])
def test_row_tests_compile_to_one_null_safe_sql_boolean(engine, test, sql) -> None:
    predicate = build_check(models_of(test)[0]).predicate("f", engine)
    assert predicate.sql == sql and predicate.flag == "f" and predicate.test_type == test["type"]


def test_null_semantics_follow_sql(engine) -> None:
    rows = [{"k": None, "v": None, "s": None}, {"k": None, "v": 5, "s": "a"},
            {"k": 1, "v": 50, "s": "zz"}]
    result = evaluate(engine, rows,
                      {"type": "not_null", "columns": ["v"]},
                      {"type": "unique", "columns": ["k"]},
                      {"type": "range", "column": "v", "max": 10},
                      {"type": "accepted_values", "column": "s", "values": ["a"]},
                      {"type": "regex_match", "column": "s", "pattern": "^a$"},
                      {"type": "custom_sql", "condition": "v < 10"},
                      schema={"k": "int64", "v": "int64", "s": "string"})
    assert [t.failing_rows for t in result.tests] == [1, 0, 1, 1, 1, 1]


def test_unique_fails_every_row_of_a_duplicated_key(engine) -> None:
    rows = [{"a": 1, "b": "x"}, {"a": 1, "b": "x"}, {"a": 1, "b": "y"}, {"a": 2, "b": "x"}]
    result = evaluate(engine, rows, {"type": "unique", "columns": ["a", "b"]},
                      {"type": "unique", "columns": ["a"], "name": "a_only"})
    assert [(t.failing_rows, t.sample) for t in result.tests] == [
        (2, ({"a": 1, "b": "x"},)), (3, (1,))]


def test_range_bounds_are_inclusive_and_dates_compare_as_dates(engine) -> None:
    rows = [{"d": "2026-01-01", "v": 0}, {"d": "2025-12-31", "v": 10}, {"d": "2026-02-01", "v": 11}]
    result = evaluate(engine, rows, {"type": "range", "column": "v", "min": 0, "max": 10},
                      {"type": "range", "column": "d", "min": dt.date(2026, 1, 1)},
                      schema={"d": "date"})
    assert [t.failing_rows for t in result.tests] == [1, 1]
    assert result.tests[1].sample == ("2025-12-31",)
    assert result.tests[1].message == "1 of 3 rows fail: d below 2026-01-01"


def test_custom_sql_threshold_is_the_fraction_allowed_to_fail(engine) -> None:
    rows = [{"a": i} for i in range(100)]
    result = evaluate(engine, rows,
                      {"type": "custom_sql", "name": "one", "condition": "a <> 0",
                       "threshold": 0.01},
                      {"type": "custom_sql", "name": "two", "condition": "a > 1",
                       "threshold": 0.01},
                      {"type": "custom_sql", "name": "strict", "condition": "a <> 0"})
    assert [t.passed for t in result.tests] == [True, False, False]
    assert result.tests[0].message == "1 of 100 rows (1.00%) fail a <> 0; 1.00% may fail"
    assert result.tests[0].failing_rows == 1 and result.tests[0].pass_rate == 0.99


def test_row_count(engine) -> None:
    rows = [{"a": 1}, {"a": 2}]
    result = evaluate(engine, rows, {"type": "row_count", "min": 1, "max": 2},
                      {"type": "row_count", "min": 3})
    assert [(t.passed, t.message, t.observed) for t in result.tests] == [
        (True, "2 rows; expected at least 1 and at most 2", 2),
        (False, "2 rows; expected at least 3", 2)]
    assert result.tests[1].pass_rate == 0.0 and result.tests[1].failing_rows is None


@pytest.mark.parametrize(("values", "logical", "passed", "shown"), [
    (["2026-01-09T13:00:00Z", "2026-01-01T00:00:00Z"], "timestamp", True, "23h old"),
    (["2026-01-09T11:00:00"], "timestamp_ntz", False, "1d 1h old"),
    (["2026-01-10"], "date", True, "12h old"),
    (["2026-01-09T12:00:00+00:00"], "string", True, "1d old"),
])
def test_freshness(engine, values, logical, passed, shown) -> None:
    result = evaluate(engine, [{"t": v} for v in values],
                      {"type": "freshness", "column": "t", "max_age": "1d"}, schema={"t": logical})
    assert result.tests[0].passed is passed
    assert shown in result.tests[0].message and "max_age 1d" in result.tests[0].message


def test_freshness_of_an_empty_or_unparseable_column(engine) -> None:
    empty = evaluate(engine, [{"t": None}], {"type": "freshness", "column": "t", "max_age": "1h"},
                     schema={"t": "timestamp"})
    assert not empty.tests[0].passed
    assert empty.tests[0].message == "t has no values, so its freshness is unknown"
    with pytest.raises(DataError, match=r"Test 'freshness' \(validation.tests\[0\]\): freshness: "
                                        r"column 't' holds 'soon', which is not a date"):
        evaluate(engine, [{"t": "soon"}], {"type": "freshness", "column": "t", "max_age": "1h"})


def test_schema_declared_and_strict(engine) -> None:
    rows = [{"a": 1, "b": 2, "c": 3}]
    result = evaluate(engine, rows, {"type": "schema", "columns": ["a", "b"]},
                      {"type": "schema", "columns": ["a", "b"], "strict": True},
                      {"type": "schema", "columns": ["a", "z"]})
    assert [t.passed for t in result.tests] == [True, False, False]
    assert result.tests[1].message == "unexpected columns: c (expected declared: a, b)"
    assert result.tests[2].message == "missing columns: z (expected declared: a, z)"


@pytest.mark.parametrize(("metric", "threshold", "value"), [
    ("mean", "== 2.5", 2.5), ("median", ">= 2.5", 2.5), ("min", "== 1", 1), ("max", "< 4.5", 4),
    ("sum", "!= 0", 10), ("stddev", "> 1.29", 1.2909944487), ("null_percentage", "== 20", 20),
])
def test_distribution_metrics(engine, metric, threshold, value) -> None:
    rows = [{"v": v} for v in (1, 2, 3, 4, None)]
    result = evaluate(engine, rows, {"type": "distribution", "column": "v", "metric": metric,
                                     "threshold": threshold}, schema={"v": "int64"})
    test = result.tests[0]
    assert test.passed, test.message
    assert test.observed == pytest.approx(value)


def test_distribution_without_values_fails(engine) -> None:
    result = evaluate(engine, [{"v": None}], {"type": "distribution", "column": "v",
                                              "metric": "mean", "threshold": "> 1"},
                      schema={"v": "float64"})
    assert result.tests[0].message == ("mean of v has no value (no rows, or only nulls); "
                                       "expected > 1")


class FakeHistory:
    def __init__(self, counts, columns=None):
        self.counts, self.columns, self.asked = counts, columns, []

    def row_counts(self, kind, *, now, lookback_days):
        self.asked.append((kind, now, lookback_days))
        return self.counts

    def last_columns(self, kind):
        return self.columns


def test_volume_drop_against_the_average_of_earlier_runs(engine) -> None:
    history = FakeHistory([10, 30])
    rows = [{"a": 1}] * 9
    result = evaluate(engine, rows, {"type": "volume_drop", "threshold": 0.5, "lookback_days": 3},
                      {"type": "volume_drop", "threshold": 0.6, "name": "lenient"},
                      history=history)
    assert [t.passed for t in result.tests] == [False, True]
    assert result.tests[0].message == ("9 rows, 55.0% below the average of 20 over 2 earlier "
                                       "run(s) in 3 days; at most 50.0% allowed")
    assert history.asked[0] == ("validation", NOW, 3)


def test_volume_drop_and_schema_without_history_pass_and_say_so(engine) -> None:
    result = evaluate(engine, [{"a": 1}], {"type": "volume_drop", "threshold": 0.5},
                      {"type": "schema"})
    assert all(t.passed for t in result.tests)
    assert "no earlier successful run in the last 7 days" in result.tests[0].message
    assert "no earlier successful run to compare with" in result.tests[1].message


def test_aggregate_judges_read_only_their_own_metrics() -> None:
    check = build_check(models_of({"type": "row_count", "max": 0})[0])
    facts = AggregateFacts(rows=1, columns=["a"], metrics={}, now=NOW, kind="contract")
    assert not check.judge(facts, {}).passed


def test_all_row_tests_are_one_engine_pass_and_aggregates_one_query(engine, monkeypatch) -> None:
    calls = {"flags": 0, "aggregate": 0, "cache": 0}
    for name in calls:
        method = getattr(engine, {"flags": "add_row_flags"}.get(name, name))

        def spy(*args, _method=method, _name=name, **kwargs):
            calls[_name] += 1
            return _method(*args, **kwargs)

        monkeypatch.setattr(engine, {"flags": "add_row_flags"}.get(name, name), spy)
    rows = [{"a": i, "s": "x", "t": "2026-01-10T00:00:00Z"} for i in range(10)]
    evaluate(engine, rows,
             {"type": "not_null", "columns": ["a"]}, {"type": "unique", "columns": ["a"]},
             {"type": "accepted_values", "column": "s", "values": ["x"]},
             {"type": "range", "column": "a", "min": 0},
             {"type": "regex_match", "column": "s", "pattern": "x"},
             {"type": "custom_sql", "condition": "a >= 0"},
             {"type": "freshness", "column": "t", "max_age": "1d"},
             {"type": "distribution", "column": "a", "metric": "mean", "threshold": "> 0"},
             {"type": "distribution", "column": "a", "metric": "max", "threshold": "> 0"},
             schema={"t": "timestamp"}, cache=True)
    assert calls == {"flags": 1, "aggregate": 1, "cache": 1}


def test_missing_columns_are_reported_together_with_a_suggestion(engine) -> None:
    with pytest.raises(DataError, match=(
            r"\[p.n\] test 'not_null' \(validation.tests\[0\]\) names column 'amout', which the "
            r"output does not have. Did you mean 'amount'\?; test 'range' "
            r"\(validation.tests\[1\]\) names column 'qty', which the output does not have. "
            r"Available columns: amount, id.")):
        evaluate(engine, [{"amount": 1, "id": 1}], {"type": "not_null", "columns": ["amout"]},
                 {"type": "range", "column": "qty", "min": 0})


def test_a_pattern_outside_the_engine_regex_dialect_is_named(engine) -> None:
    with pytest.raises(DataError, match=r"Test 'regex_match' \(validation.tests\[0\]\) cannot be "
                                        r"evaluated on the output: .*invalid perl operator"):
        evaluate(engine, [{"e": "x"}], {"type": "regex_match", "column": "e",
                                        "pattern": "(?=x)x"})


def test_an_aggregate_on_the_wrong_type_is_named(engine) -> None:
    with pytest.raises(DataError, match=r"Test 'distribution' \(validation.tests\[1\]\) cannot be "
                                        r"computed on the output: Binder Error: No function "
                                        r"matches.*avg\(VARCHAR\)") as info:
        evaluate(engine, [{"s": "x"}], {"type": "row_count", "min": 0},
                 {"type": "distribution", "column": "s", "metric": "mean", "threshold": "> 1"})
    assert "Candidate functions" not in info.value.message
    assert info.value.fix.startswith("Check the column's type")


def test_a_bad_custom_sql_condition_is_named(engine) -> None:
    with pytest.raises(DataError, match=r"Test 'ok' \(validation.tests\[1\]\) cannot be evaluated"
                                        r".*Column 'nope' does not exist"):
        evaluate(engine, [{"a": 1}], {"type": "not_null", "columns": ["a"]},
                 {"type": "custom_sql", "name": "ok", "condition": "nope > 1"})


def test_mode_warn_turns_fail_into_warn(engine) -> None:
    result = evaluate(engine, [{"a": None}], {"type": "not_null", "columns": ["a"]},
                      {"type": "row_count", "min": 2}, mode="warn", schema={"a": "int64"})
    assert [t.on_fail for t in result.tests] == ["warn", "warn"]


def test_an_empty_frame_passes_row_tests(engine) -> None:
    frame = engine.head(engine.from_rows([{"a": 1}]), 0)
    result = evaluate_tests(engine, frame, models_of({"type": "not_null", "columns": ["a"]}),
                            EvaluationContext(node="p.n")).result
    assert (result.total_rows, result.rows_passing, result.tests[0].pass_rate) == (0, 0, 1.0)
    assert result.pass_rate == 1.0 and result.passed
