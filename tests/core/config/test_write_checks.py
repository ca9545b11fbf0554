"""Layouts that would append the same rows on every run are refused before anything runs, by
`odibi validate` and by loading, with file, line, key path and fix: ``watermark_lag`` with a
plain ``append``, and a plain ``append`` of a node that takes its input from a node whose
target is appended to (it is read back whole)."""

from __future__ import annotations

from pathlib import Path

import pytest

from odibi_core.config import load_project
from odibi_dagster.cli.main import main
from tests.core.config.conftest import LineOf, WriteFiles
from tests.core.config.one_node import problem_of

LAG = """\
project: demo
connections:
  src: {type: local, base_path: ./src}
  lake: {type: local, base_path: ./lake}
pipelines:
  - pipeline: sales
    nodes:
      - name: orders
        read:
          connection: src
          format: csv
          path: orders
          incremental: {mode: stateful, column: updated_at, watermark_lag: 1h}
        WRITE
"""

CHAIN = """\
project: demo
connections:
  src: {type: local, base_path: ./src}
  lake: {type: local, base_path: ./lake}
pipelines:
  - pipeline: sales
    PARTITIONS
    nodes:
      - name: a
        read: {connection: src, format: csv, path: orders}
        write: {connection: lake, format: delta, path: bronze/orders, mode: UPSTREAM}
      - name: b
        depends_on: [a]
        B_EXTRA
        write: {connection: lake, format: delta, path: silver/orders, mode: DOWNSTREAM}
"""

APPEND = "write: {connection: lake, format: delta, path: silver/orders, mode: append}"


def _chain(upstream: str = "append", downstream: str = "append", b_extra: str = "",
           partitions: str = "") -> str:
    return (CHAIN.replace("UPSTREAM", upstream).replace("DOWNSTREAM", downstream)
            .replace("B_EXTRA", b_extra).replace("PARTITIONS", partitions))


def test_watermark_lag_with_a_plain_append_is_refused_at_the_write_mode_line(
        write_files: WriteFiles, line_of: LineOf) -> None:
    path = write_files({"odibi.yaml": LAG.replace("WRITE", APPEND)})
    problem = problem_of(path, "watermark_lag")
    assert problem.key_path == "pipelines[0].nodes[0].write.mode"
    assert problem.line == line_of(path, "mode: append")
    assert "[sales.orders]" in problem.message and "a second time" in problem.message
    assert "mode: upsert" in problem.fix and "append_once" in problem.fix
    assert "options: {keys" in problem.fix


def test_a_rolling_window_with_a_plain_append_is_refused(write_files: WriteFiles) -> None:
    text = LAG.replace("WRITE", APPEND).replace(
        "{mode: stateful, column: updated_at, watermark_lag: 1h}",
        "{mode: rolling_window, column: updated_at, lookback: 3, unit: day}")
    problem = problem_of(write_files({"odibi.yaml": text}), "last 3 day")
    assert problem.key_path == "pipelines[0].nodes[0].write.mode"
    assert "a second time" in problem.message and "mode: upsert" in problem.fix


@pytest.mark.parametrize("write", [
    "write: {connection: lake, format: delta, path: silver/orders, mode: upsert, "
    "options: {keys: [id]}}",
    "write: {connection: lake, format: delta, path: silver/orders, mode: append_once, "
    "options: {keys: [id]}}",
    "write: {connection: lake, format: delta, path: silver/orders, mode: overwrite}",
    "materialized: incremental\n        " + APPEND,
], ids=["upsert", "append_once", "overwrite", "materialized_incremental"])
def test_watermark_lag_with_a_keyed_or_filtered_write_loads(write_files: WriteFiles,
                                                            write: str) -> None:
    load_project(write_files({"odibi.yaml": LAG.replace("WRITE", write)}), environ={})


def test_an_append_fed_by_an_appended_target_is_refused_with_the_three_fixes(
        write_files: WriteFiles, line_of: LineOf) -> None:
    path = write_files({"odibi.yaml": _chain()})
    problem = problem_of(path, "read back whole")
    assert problem.key_path == "pipelines[0].nodes[1].write.mode"
    assert problem.line == line_of(path, "path: silver/orders")
    assert "[sales.b]" in problem.message and "sales.a" in problem.message
    for fix in ("materialized: incremental", "append_once", "upsert", "read.change_feed",
                "delta.enableChangeDataFeed"):
        assert fix in problem.fix


@pytest.mark.parametrize(("upstream", "downstream", "b_extra", "partitions"), [
    ("overwrite", "append", "", ""),  # the upstream target holds only its last batch
    ("append", "overwrite", "", ""),
    ("append", "append_once, options: {keys: [id]}", "", ""),
    ("append", "upsert, options: {keys: [id]}", "", ""),
    ("append", "append", "read: {connection: lake, format: delta, path: bronze/orders, "
                         "change_feed: {starting_version: 0}}", ""),
    ("append", "append", "materialized: incremental", ""),
    ("append", "append", "", "partitions: {type: daily, start: 2026-01-01, column: day}"),
], ids=["upstream_overwrite", "downstream_overwrite", "append_once", "upsert", "change_feed",
        "materialized_incremental", "one_partition"])
def test_an_append_downstream_that_adds_each_row_once_loads(
        write_files: WriteFiles, upstream: str, downstream: str, b_extra: str,
        partitions: str) -> None:
    text = _chain(upstream, downstream, b_extra, partitions)
    if b_extra.startswith("materialized"):  # its column comes from a's incremental read
        text = text.replace("path: orders}", "path: orders, incremental: "
                                             "{mode: stateful, column: id}}")
    load_project(write_files({"odibi.yaml": text}), environ={})


def test_odibi_validate_reports_both_layouts_with_file_and_line(
        write_files: WriteFiles, line_of: LineOf, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_files({"odibi.yaml": _chain()})
    lag = path.parent / "lag.yaml"
    lag.write_text(LAG.replace("WRITE", APPEND), encoding="utf-8")

    assert main(["validate", str(path)]) == 1
    err = capsys.readouterr().err
    assert f"{path}:{line_of(path, 'path: silver/orders')}: pipelines[0].nodes[1].write.mode" \
        in err, err
    assert "Fix: Add materialized: incremental" in err

    assert main(["validate", str(lag)]) == 1
    err = capsys.readouterr().err
    assert f"{lag}:{line_of(lag, 'mode: append')}: pipelines[0].nodes[0].write.mode" in err, err
    assert "Fix: Write with mode: upsert" in err
