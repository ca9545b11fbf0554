"""Data quality on every engine: row flags in one pass, exact valid / quarantined rows, the
quarantine columns, batch replacement on Delta and part-file folders, aggregates, fingerprints."""

from __future__ import annotations

import datetime as dt
import os

import pytest

from odibi_core.config.validation import ValidationConfig
from odibi_core.engines.base import RowPredicate
from odibi_core.errors import DataError
from odibi_core.storage.requests import BatchReplace, ReadRequest, WriteRequest
from odibi_core.testing import assert_frames_equal, frame_from_rows, frame_to_rows
from odibi_core.validation import (
    QUARANTINE_COLUMNS,
    EvaluationContext,
    evaluate_tests,
    split_rows,
    write_quarantine,
)

# Rows with known defects; `rid` identifies each row.
ORDERS = [
    {"rid": 1, "order_id": 1, "email": "ada@example.com", "status": "open", "amount": 10.5,
     "created_at": "2026-01-01T10:00:00Z", "updated_at": "2026-01-01T11:00:00Z"},
    {"rid": 2, "order_id": 2, "email": None, "status": "shipped", "amount": 0.0,
     "created_at": "2026-01-02T10:00:00Z", "updated_at": "2026-01-02T10:00:00Z"},
    {"rid": 3, "order_id": 3, "email": "not-an-email", "status": None, "amount": 100000.0,
     "created_at": "2026-01-02T10:00:00Z", "updated_at": "2026-01-03T10:00:00Z"},
    {"rid": 4, "order_id": 4, "email": "eve@example.com", "status": "open", "amount": None,
     "created_at": "2026-01-03T10:00:00Z", "updated_at": "2026-01-03T11:00:00Z"},   # null
    {"rid": 5, "order_id": 5, "email": "joe@example.com", "status": "lost", "amount": 60.0,
     "created_at": "2026-01-03T10:00:00Z", "updated_at": "2026-01-03T11:00:00Z"},   # status
    {"rid": 6, "order_id": 6, "email": "kim@example.com", "status": "open", "amount": -5.0,
     "created_at": "2026-01-04T10:00:00Z", "updated_at": "2026-01-04T11:00:00Z"},   # range
    {"rid": 7, "order_id": 7, "email": "lee@example.com", "status": "open", "amount": 80.0,
     "created_at": "2026-01-04T10:00:00Z", "updated_at": "2026-01-04T11:00:00Z"},   # dup
    {"rid": 8, "order_id": 7, "email": "lea@example.com", "status": "open", "amount": 81.0,
     "created_at": "2026-01-04T10:00:00Z", "updated_at": "2026-01-04T11:00:00Z"},   # dup
    {"rid": 9, "order_id": 9, "email": "max@example.com", "status": "open", "amount": 90.0,
     "created_at": "2026-01-05T10:00:00Z", "updated_at": "2026-01-04T09:00:00Z"},   # dates
    {"rid": 10, "order_id": None, "email": "nul@example.com", "status": "open", "amount": 1.0,
     "created_at": "2026-01-05T10:00:00Z", "updated_at": "2026-01-05T11:00:00Z"},   # null id
    {"rid": 11, "order_id": 11, "email": "dan@example.com", "status": "shipped",
     "amount": 100000.5, "created_at": None, "updated_at": "2026-01-06T11:00:00Z"},   # range
]
SCHEMA = {"rid": "int64", "order_id": "int64", "email": "string", "status": "string",
          "amount": "float64", "created_at": "timestamp", "updated_at": "timestamp"}
VALID = [1, 2, 3]
QUARANTINED = [4, 5, 6, 7, 8, 9, 10, 11]

VALIDATION = {
    "tests": [
        {"type": "not_null", "columns": ["order_id", "amount"], "on_fail": "quarantine"},
        {"type": "unique", "columns": ["order_id"], "on_fail": "quarantine"},
        {"type": "accepted_values", "column": "status", "values": ["open", "shipped"],
         "on_fail": "quarantine"},
        {"type": "range", "column": "amount", "min": 0, "max": 100000, "on_fail": "quarantine"},
        {"type": "regex_match", "column": "email", "pattern": "^[^@]+@[^@]+$",
         "on_fail": "warn"},
        {"type": "custom_sql", "name": "dates_ordered", "condition": "created_at <= updated_at",
         "on_fail": "quarantine"},
        {"type": "row_count", "min": 1, "max": 100},
        {"type": "freshness", "column": "updated_at", "max_age": "30d"},
        {"type": "schema", "columns": ["rid", "order_id", "amount"]},
        {"type": "distribution", "column": "amount", "metric": "max", "threshold": "<= 200000"},
        {"type": "volume_drop", "threshold": 0.5},
    ],
    "quarantine": {"connection": "lake", "path": "_quarantine/orders"},
}
NOW = dt.datetime(2026, 1, 10, tzinfo=dt.timezone.utc)


def _orders(engine):
    return frame_from_rows(engine, ORDERS, schema=SCHEMA)


def _evaluate(engine, frame, validation=VALIDATION, **kw):
    config = ValidationConfig.model_validate(validation)
    context = EvaluationContext(node="sales.orders", now=NOW)
    return config, evaluate_tests(engine, frame, config.tests, context, mode=config.mode,
                                  fail_fast=config.fail_fast, cache=config.cache_df, **kw)


def _rids(engine, frame):
    return sorted(row["rid"] for row in frame_to_rows(engine, frame))


def test_every_test_type_is_evaluated_with_exact_failing_rows(engine):
    _, evaluation = _evaluate(engine, _orders(engine))
    result = evaluation.result
    outcome = {t.name: (t.passed, t.failing_rows) for t in result.tests}
    assert outcome == {
        "not_null": (False, 2), "unique": (False, 2), "accepted_values": (False, 1),
        "range": (False, 2), "regex_match": (False, 1), "dates_ordered": (False, 1),
        "row_count": (True, None), "freshness": (True, None), "schema": (True, None),
        "distribution": (True, None), "volume_drop": (True, None),
    }
    assert result.total_rows == 11 and result.rows_passing == 2  # rid 1 and 2 (3 fails regex)
    tests = {t.name: t for t in result.tests}
    assert tests["not_null"].sample == ({"order_id": 4, "amount": None},
                                        {"order_id": None, "amount": 1.0})
    assert tests["unique"].sample == (7,)
    assert tests["accepted_values"].sample == ("lost",)
    assert tests["range"].sample == (-5.0, 100000.5)
    assert tests["regex_match"].sample == ("not-an-email",)
    assert tests["dates_ordered"].sample[0]["rid"] == 9
    assert tests["range"].pass_rate == pytest.approx(9 / 11)
    assert "newest updated_at is 2026-01-06T11:00:00+00:00" in tests["freshness"].message
    assert "no earlier successful run" in tests["volume_drop"].message


def test_nulls_fail_not_null_only(engine):
    """rid 2 (null email), rid 3 (null status) and rid 11 (null created_at) are NULLs under
    regex_match, accepted_values and custom_sql: they pass those tests."""
    _, evaluation = _evaluate(engine, _orders(engine))
    split = split_rows(engine, evaluation)
    assert _rids(engine, split.output) == VALID
    assert _rids(engine, split.rejected) == QUARANTINED
    assert split.rejected_rows == 8
    assert engine.columns(split.output) == list(SCHEMA)  # no flag columns left


def test_quarantine_rows_carry_reasons_and_batch(engine, lake):
    config, evaluation = _evaluate(engine, _orders(engine))
    split = split_rows(engine, evaluation)
    location = lake.resolve("_quarantine/orders")
    result = write_quarantine(engine, split, config=config.quarantine, location=location,
                              batch_id="b-1", node="sales.orders", now=NOW)
    assert (result.rows, result.rows_written, result.batch_id) == (8, 8, "b-1")
    assert result.tests == ("not_null", "unique", "accepted_values", "range", "dates_ordered")
    written = engine.read(ReadRequest(location=location, format="delta"))
    assert engine.columns(written) == [*SCHEMA, *QUARANTINE_COLUMNS]
    rows = {r["rid"]: r for r in frame_to_rows(engine, written)}
    assert sorted(rows) == QUARANTINED
    assert rows[4]["_failed_tests"] == "not_null"
    assert rows[4]["_rejection_reason"] == "not_null: null in order_id or amount"
    assert rows[11]["_failed_tests"] == "range"
    assert rows[10]["_failed_tests"] == "not_null"  # a null key is not a duplicate
    assert rows[7]["_rejection_reason"] == "unique: duplicate order_id"
    assert rows[9]["_rejection_reason"] == "dates_ordered: not (created_at <= updated_at)"
    assert rows[4]["_rejected_at"] == "2026-01-10T00:00:00+00:00"
    assert {r["_source_batch_id"] for r in rows.values()} == {"b-1"}
    types = {c.name: c.type for c in engine.schema(written)}
    assert types["_rejected_at"] == "timestamp" and types["_failed_tests"] == "string"


def test_a_row_failing_several_tests_lists_them_all(engine, lake):
    rows = [{"id": 1, "v": -1, "s": "x"}, {"id": 1, "v": 5, "s": "a"}, {"id": 2, "v": 5, "s": "a"}]
    validation = {"tests": [
        {"type": "unique", "columns": ["id"], "on_fail": "quarantine"},
        {"type": "range", "column": "v", "min": 0, "name": "v_positive", "on_fail": "warn"},
        {"type": "accepted_values", "column": "s", "values": ["a"], "on_fail": "quarantine"},
    ], "quarantine": {"connection": "lake", "path": "q"}}
    config, evaluation = _evaluate(engine, frame_from_rows(engine, rows), validation)
    split = split_rows(engine, evaluation)
    write_quarantine(engine, split, config=config.quarantine, location=lake.resolve("q"),
                     batch_id="b", node="p.n", now=NOW)
    written = sorted(frame_to_rows(engine, engine.read(ReadRequest(location=lake.resolve("q"),
                                                                   format="delta"))),
                     key=lambda r: r["v"])
    assert [(r["v"], r["_failed_tests"]) for r in written] == [
        (-1, "unique,v_positive,accepted_values"), (5, "unique")]
    assert written[0]["_rejection_reason"] == (
        "unique: duplicate id; v_positive: v below 0; accepted_values: s not in [a]")


def test_rerunning_a_batch_leaves_one_copy_of_its_quarantine_rows(engine, lake):
    config, evaluation = _evaluate(engine, _orders(engine))
    split = split_rows(engine, evaluation)
    location = lake.resolve("_quarantine/orders")
    for _ in range(2):
        result = write_quarantine(engine, split, config=config.quarantine, location=location,
                                  batch_id=None, node="sales.orders", now=NOW)
    written = engine.read(ReadRequest(location=location, format="delta"))
    assert engine.count(written) == 8 and result.delta_version == 1
    # Another batch is kept beside it.
    write_quarantine(engine, split, config=config.quarantine, location=location,
                     batch_id="other", node="sales.orders", now=NOW)
    assert engine.count(engine.read(ReadRequest(location=location, format="delta"))) == 16


def test_a_run_batch_without_rejects_clears_its_earlier_quarantine_rows(engine, lake):
    config, evaluation = _evaluate(engine, _orders(engine))
    location = lake.resolve("_quarantine/orders")
    write_quarantine(engine, split_rows(engine, evaluation), config=config.quarantine,
                     location=location, batch_id="2026-01-05", node="p.n", now=NOW)
    write_quarantine(engine, split_rows(engine, evaluation), config=config.quarantine,
                     location=location, batch_id="other", node="p.n", now=NOW)
    fixed = frame_from_rows(engine, [ORDERS[0]], schema=SCHEMA)
    _, clean = _evaluate(engine, fixed)
    result = write_quarantine(engine, split_rows(engine, clean), config=config.quarantine,
                              location=location, batch_id="2026-01-05", node="p.n", now=NOW)
    assert (result.rows, result.rows_written, result.batch_id) == (0, 0, "2026-01-05")
    left = frame_to_rows(engine, engine.read(ReadRequest(location=location, format="delta")))
    assert {r["_source_batch_id"] for r in left} == {"other"} and len(left) == 8
    # Without a run batch id nothing is written for a clean frame.
    nothing = write_quarantine(engine, split_rows(engine, clean), config=config.quarantine,
                               location=lake.resolve("elsewhere"), batch_id=None, node="p.n")
    assert nothing.batch_id is None and not os.path.exists(lake.resolve("elsewhere").uri)


def test_fingerprint_batch_id_is_deterministic_and_content_based(engine):
    frame = _orders(engine)
    reordered = frame_from_rows(engine, list(reversed(ORDERS)), schema=SCHEMA)
    changed = frame_from_rows(engine, ORDERS[:-1], schema=SCHEMA)
    assert engine.fingerprint(frame) == engine.fingerprint(_orders(engine))
    assert engine.fingerprint(frame) == engine.fingerprint(reordered)
    assert engine.fingerprint(frame) != engine.fingerprint(changed)


def test_max_rows_and_sample_fraction_limit_what_is_written_not_the_counts(engine, lake):
    validation = {**VALIDATION, "quarantine": {"connection": "lake", "path": "q", "max_rows": 3}}
    config, evaluation = _evaluate(engine, _orders(engine), validation)
    split = split_rows(engine, evaluation)
    capped = write_quarantine(engine, split, config=config.quarantine, location=lake.resolve("q"),
                              batch_id="b", node="p.n", now=NOW)
    assert (capped.rows, capped.rows_written) == (8, 3)

    validation["quarantine"] = {"connection": "lake", "path": "s", "sample_fraction": 0.5}
    config, evaluation = _evaluate(engine, _orders(engine), validation)
    sampled = write_quarantine(engine, split_rows(engine, evaluation),
                               config=config.quarantine, location=lake.resolve("s"),
                               batch_id="b", node="p.n", now=NOW)
    assert (sampled.rows, sampled.rows_written) == (8, 4)


def test_quarantine_to_a_parquet_folder_replaces_the_batch_part_file(engine, lake):
    validation = {**VALIDATION, "quarantine": {"connection": "lake", "path": "qp",
                                               "format": "parquet"}}
    config, evaluation = _evaluate(engine, _orders(engine), validation)
    split = split_rows(engine, evaluation)
    for _ in range(2):
        write_quarantine(engine, split, config=config.quarantine, location=lake.resolve("qp"),
                         batch_id="b-1", node="p.n", now=NOW)
    written = engine.read(ReadRequest(location=lake.resolve("qp"), format="parquet"))
    assert _rids(engine, written) == QUARANTINED


def test_replace_batch_on_a_single_file_target_is_refused(engine, lake):
    frame = frame_from_rows(engine, [{"a": 1, "_source_batch_id": "b"}])
    with pytest.raises(DataError, match=r"single parquet file, so one batch's rows cannot be "
                                        r"replaced"):
        engine.write(frame, WriteRequest(location=lake.resolve("q.parquet"), format="parquet",
                                         mode="append",
                                         replace_batch=BatchReplace("_source_batch_id", "b")))


def test_row_flags_keep_row_order_with_window_predicates(engine):
    rows = [{"k": i % 7, "i": i} for i in range(500)]
    frame = frame_from_rows(engine, rows)
    flagged = engine.add_row_flags(frame, [
        RowPredicate("u", 'count(*) OVER (PARTITION BY "k") = 1 OR "i" = 3'),
        RowPredicate("even", '"i" % 2 = 0'),
    ])
    got = frame_to_rows(engine, flagged)
    assert [r["i"] for r in got] == list(range(500))
    assert [r["even"] for r in got] == [i % 2 == 0 for i in range(500)]
    assert [r["u"] for r in got] == [i == 3 for i in range(500)]
    summary = engine.summarize_flags(flagged, {"u": ["i"], "even": []}, sample_size=2)
    assert summary.rows == 500 and dict(summary.failing) == {"u": 499, "even": 250}
    assert summary.samples["u"] == [{"i": 0}, {"i": 1}]
    assert summary.samples["even"] == [{"k": 1, "i": 1}, {"k": 3, "i": 3}]
    assert engine.count_rows(flagged, all_true=["even"], any_false=["u"]) == 250
    assert_frames_equal(engine, engine.drop_columns(
        engine.filter_rows(flagged, all_true=["u"]), ["u", "even"]), [{"k": 3, "i": 3}])


def test_constants_sql_columns_head_and_sample(engine):
    frame = frame_from_rows(engine, [{"a": 1}, {"a": 2}, {"a": 3}, {"a": 4}])
    at = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)
    out = engine.with_constants(engine.add_columns(frame, {"b": "a * 10"}),
                                {"at": at, "tag": "x"})
    assert_frames_equal(engine, engine.head(out, 1),
                        [{"a": 1, "b": 10, "at": "2026-01-02T03:04:05+00:00", "tag": "x"}],
                        schema={"at": "timestamp", "tag": "string"})
    half = engine.sample_fraction(frame, 0.5, seed=7)
    assert engine.count(half) == 2
    assert frame_to_rows(engine, half) == frame_to_rows(engine,
                                                        engine.sample_fraction(frame, 0.5, seed=7))
    assert engine.aggregate(frame, {"n": "count(*)", "m": "max(a)"}) == {"n": 4, "m": 4}


def test_fail_fast_reports_later_tests_as_skipped_and_does_not_act_on_them(engine):
    validation = {**VALIDATION, "fail_fast": True}
    _, evaluation = _evaluate(engine, _orders(engine), validation)
    tests = evaluation.result.tests
    assert tests[0].failed and evaluation.result.stopped_at == "not_null"
    assert all(t.skipped and not t.passed for t in tests[1:])
    assert "fail_fast stopped at 'not_null'" in tests[1].message
    split = split_rows(engine, evaluation)
    assert _rids(engine, split.rejected) == [4, 10]  # only the not_null failures act


def test_an_engine_error_in_one_test_names_that_test(engine):
    validation = {"tests": [
        {"type": "not_null", "columns": ["order_id"]},
        {"type": "custom_sql", "name": "bad", "condition": "amount >>> 1"},
    ]}
    with pytest.raises(DataError, match=r"Test 'bad' \(validation.tests\[1\]\) cannot be "
                                        r"evaluated on the output"):
        _evaluate(engine, _orders(engine), validation)


def test_the_quality_fixture_file_splits_into_the_same_rows_on_every_engine(engine):
    """tests/fixtures/quality/orders.csv: the same split test_validation_node.py asserts."""
    from pathlib import Path

    from odibi_core.connections import LocalConnection

    folder = Path(__file__).resolve().parents[1] / "fixtures" / "quality"
    source = LocalConnection("fixtures", str(folder), folder).resolve("orders.csv")
    frame = engine.sql(
        "SELECT order_id, email, status, amount, TRY_CAST(created_at AS TIMESTAMP) AS "
        "created_at, TRY_CAST(updated_at AS TIMESTAMP) AS updated_at FROM df",
        {"df": engine.read(ReadRequest(location=source, format="csv"))})
    validation = {"tests": [
        {"type": "not_null", "columns": ["order_id", "amount", "created_at"],
         "on_fail": "quarantine"},
        *VALIDATION["tests"][1:6]], "quarantine": VALIDATION["quarantine"]}
    _, evaluation = _evaluate(engine, frame, validation)
    split = split_rows(engine, evaluation)

    def emails(part):
        return sorted((r["email"] or "-") for r in frame_to_rows(engine, part))

    assert emails(split.output) == ["-", "ada@example.com", "ann@example.com",
                                    "bob@example.com", "not-an-email", "tim@example.com"]
    assert emails(split.rejected) == [
        "cat@example.com", "dan@example.com", "eve@example.com", "joe@example.com",
        "kim@example.com", "lee2@example.com", "lee@example.com", "max@example.com",
        "nul@example.com"]
