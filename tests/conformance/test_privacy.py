"""privacy: hash (salted SHA-256), mask and redact give the same text on every engine."""

from __future__ import annotations

import datetime as dt
import hashlib
from types import SimpleNamespace

import pytest

from odibi_core.errors import DataError
from odibi_core.privacy import apply_privacy
from odibi_core.testing import assert_frames_equal, frame_from_rows

from conformance_projects import run_nodes, write_project

ROWS = [
    {"id": 1, "email": "ada@example.com", "vip": True, "born": dt.date(1815, 12, 10)},
    {"id": 22, "email": None, "vip": False, "born": None},
    {"id": 333, "email": "tim", "vip": None, "born": dt.date(1955, 6, 8)},
]
SCHEMA = {"id": "int64", "email": "string", "vip": "bool", "born": "date"}


def sha(text: str | None, salt: str = "pepper") -> str | None:
    return None if text is None else hashlib.sha256((salt + text).encode()).hexdigest()


def policy(method: str, columns: list[str], salt: str | None = None) -> SimpleNamespace:
    return SimpleNamespace(method=method, columns=columns, salt=salt)


def test_hash_is_salted_sha256_of_the_canonical_text(engine):
    frame = frame_from_rows(engine, ROWS, SCHEMA)
    out = apply_privacy(engine, frame, policy("hash", ["id", "email", "vip", "born"], "pepper"))
    assert_frames_equal(engine, out, [
        {"id": sha("1"), "email": sha("ada@example.com"), "vip": sha("true"),
         "born": sha("1815-12-10")},
        {"id": sha("22"), "email": None, "vip": sha("false"), "born": None},
        {"id": sha("333"), "email": sha("tim"), "vip": None, "born": sha("1955-06-08")},
    ], schema={"id": "string", "email": "string", "vip": "string", "born": "string"},
        check_order=True)


def test_hash_without_salt_and_other_columns_untouched(engine):
    frame = frame_from_rows(engine, ROWS, SCHEMA)
    out = apply_privacy(engine, frame, policy("hash", ["email"]))
    rows = engine.to_rows(engine.collect(out))
    assert [r["email"] for r in rows] == [sha("ada@example.com", ""), None, sha("tim", "")]
    assert [r["id"] for r in rows] == [1, 22, 333]
    assert [c.type for c in engine.schema(out)] == ["int64", "string", "bool", "date"]


def test_mask_keeps_the_last_four_characters(engine):
    frame = frame_from_rows(engine, ROWS, SCHEMA)
    out = apply_privacy(engine, frame, policy("mask", ["email", "id"]))
    rows = engine.to_rows(engine.collect(out))
    assert [r["email"] for r in rows] == ["***********.com", None, "***"]
    assert [r["id"] for r in rows] == ["*", "**", "***"]


def test_redact_replaces_values_and_keeps_nulls(engine):
    frame = frame_from_rows(engine, ROWS, SCHEMA)
    out = apply_privacy(engine, frame, policy("redact", ["email", "born"]))
    rows = engine.to_rows(engine.collect(out))
    assert [r["email"] for r in rows] == ["[REDACTED]", None, "[REDACTED]"]
    assert [r["born"] for r in rows] == ["[REDACTED]", None, "[REDACTED]"]


def test_unhashable_type_and_missing_column_are_refused(engine):
    frame = frame_from_rows(engine, [{"price": 1.5, "name": "x"}])
    with pytest.raises(DataError, match=r"not on price \(float64\)[\s\S]*Cast those columns"):
        apply_privacy(engine, frame, policy("hash", ["price"]))
    with pytest.raises(DataError, match=r"does not have: mail"):
        apply_privacy(engine, frame, policy("hash", ["mail"]))


def test_node_protects_before_validation_and_write(engine, tmp_path):
    path = write_project(tmp_path, engine, """\
        - name: people
          read: {connection: src, format: csv, path: people.csv}
          privacy: {method: hash, salt: s1, columns: [email]}
          validation:
            tests:
              - {type: regex_match, column: email, pattern: "^[0-9a-f]{64}$"}
          write: {connection: lake, format: delta, path: people}
        """, files={"people.csv": "id,email\n1,a@x.io\n2,b@y.io\n"})
    runs = run_nodes(path, engine)
    assert runs["people"].succeeded, runs["people"].result.error
    from deltalake import DeltaTable  # the stored table, read independently of the engine

    stored = DeltaTable(str(tmp_path / "lake" / "people")).to_pyarrow_table().to_pylist()
    assert sorted(r["email"] for r in stored) == sorted([sha("a@x.io", "s1"), sha("b@y.io", "s1")])
    assert "privacy" in [t.phase for t in runs["people"].result.timings]
