"""``read.change_feed`` and ``write.table_properties`` in the project file: valid blocks load,
each mistake is refused at load time with its file, line, key and fix (SPEC §4, §7)."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from odibi_core.config import load_project

from tests.core.config.one_node import one_node_project, problem_of

FEED = "read: {connection: lake, format: delta, path: bronze/orders, change_feed: %s}"
WRITE = "write: {connection: lake, format: delta, path: silver/changes, mode: append}"


def project(write_files, node: str) -> Path:
    return one_node_project(write_files, node, pipeline="p", name="changes")


def test_valid_change_feeds_load(write_files) -> None:
    version = FEED % "{starting_version: 3}"
    path = project(write_files, f"{version}\n{WRITE}")
    read = load_project(path, environ={}).config.node("p.changes").read
    assert read.change_feed is not None and read.change_feed.starting_version == 3
    assert read.change_feed.starting_timestamp is None

    stamp = FEED % '{starting_timestamp: "2026-01-01T00:00:00Z"}'
    path = project(write_files, f"{stamp}\n{WRITE}")
    feed = load_project(path, environ={}).config.node("p.changes").read.change_feed
    assert feed.starting_version is None
    assert feed.starting_timestamp == datetime(2026, 1, 1, tzinfo=timezone.utc)


@pytest.mark.parametrize(("node", "match", "key"), [
    (FEED % "{}", r"exactly one of starting_version or starting_timestamp", "change_feed"),
    (FEED % '{starting_version: 0, starting_timestamp: "2026-01-01T00:00:00Z"}',
     r"exactly one of starting_version or starting_timestamp", "change_feed"),
    (FEED % "{starting_version: -1}", r"greater than or equal to 0",
     "change_feed.starting_version"),
    ("read: {connection: lake, format: parquet, path: o, change_feed: {starting_version: 0}}",
     r"change_feed reads a Delta table's changes, not parquet", "change_feed"),
    ("read: {connection: lake, format: delta, path: o, change_feed: {starting_version: 0}, "
     "time_travel: {as_of_version: 1}}", r"change_feed and time_travel both choose",
     "time_travel"),
    ("read: {connection: lake, format: delta, path: o, change_feed: {starting_version: 0}, "
     "incremental: {mode: stateful, column: id}}", r"change_feed and incremental both choose",
     "incremental"),
])
def test_change_feed_mistakes_are_refused(write_files, node: str, match: str,
                                          key: str) -> None:
    problem = problem_of(project(write_files, f"{node}\n{WRITE}"), match)
    assert problem.key_path.endswith(key), problem.key_path


def test_a_streaming_read_has_no_change_feed(write_files) -> None:
    node = ("read: {connection: lake, format: delta, path: o, streaming: true, "
            "change_feed: {starting_version: 0}}")
    problem = problem_of(project(write_files, f"{node}\n{WRITE}"),
                         r"streaming read cannot use change_feed")
    assert problem.key_path.endswith("change_feed")


def test_table_properties_are_text(write_files) -> None:
    write = ("write: {connection: lake, format: delta, path: silver/orders, table_properties: "
             "{delta.enableChangeDataFeed: true, delta.logRetentionDuration: 'interval 7 days', "
             "delta.checkpointInterval: 5}}")
    path = project(write_files, f"read: {{connection: lake, format: csv, path: o.csv}}\n{write}")
    config = load_project(path, environ={}).config.node("p.changes").write
    assert config.table_properties == {"delta.enableChangeDataFeed": "true",
                                       "delta.logRetentionDuration": "interval 7 days",
                                       "delta.checkpointInterval": "5"}


def test_table_properties_need_delta(write_files) -> None:
    write = ("write: {connection: lake, format: parquet, path: silver/orders, "
             "table_properties: {delta.enableChangeDataFeed: true}}")
    problem = problem_of(project(write_files,
                                 f"read: {{connection: lake, format: csv, path: o.csv}}\n{write}"),
                         r"table_properties are Delta table properties; this write is parquet")
    assert problem.key_path.endswith("write.table_properties")
