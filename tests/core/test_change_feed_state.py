"""A change feed node's state: where a run starts, and the mark it leaves for the write to
commit (``odibi_core.change_feed``)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from odibi_core.change_feed import change_feed_read, change_feed_window, last_consumed
from odibi_core.config.node import ChangeFeedConfig
from odibi_core.engines import get_engine
from odibi_core.incremental import HighWaterMark, HwmStore
from odibi_core.storage.requests import ChangeFeedRead
from odibi_core.testing import frame_from_rows


def test_a_first_run_starts_where_the_config_says() -> None:
    by_version = ChangeFeedConfig(starting_version=3)
    assert change_feed_read(by_version, None, ending_version=9) == ChangeFeedRead(
        starting_version=3, ending_version=9)
    by_time = ChangeFeedConfig(starting_timestamp=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc))
    assert change_feed_read(by_time, None, ending_version=None) == ChangeFeedRead(
        starting_timestamp="2026-01-01T00:00:00+00:00")


def test_later_runs_start_after_the_last_version_consumed(tmp_path: Path) -> None:
    store = HwmStore(tmp_path)
    assert last_consumed(store, "p", "n") is None
    store.save("p", "n", HighWaterMark("updated_at", 7, "int64"))  # another read's mark
    assert last_consumed(store, "p", "n") is None
    store.save("p", "n", HighWaterMark("_commit_version", 4, "int64"))
    mark = last_consumed(store, "p", "n")
    assert change_feed_read(ChangeFeedConfig(starting_version=0), mark, ending_version=6) \
        == ChangeFeedRead(starting_version=5, ending_version=6)


def test_the_window_marks_the_newest_version_read() -> None:
    engine = get_engine("pandas")
    schema = {"id": "int64", "_commit_version": "int64"}
    read = frame_from_rows(engine, [{"id": 1, "_commit_version": 5},
                                    {"id": 2, "_commit_version": 6}], schema=schema)
    previous = HighWaterMark("_commit_version", 4, "int64")
    window = change_feed_window(engine, read, previous)
    assert window.summary() == {"mode": "change_feed", "column": "_commit_version",
                                "lower_bound": 4, "new_high_water_mark": 6}
    nothing = frame_from_rows(engine, [], schema=schema)
    assert change_feed_window(engine, nothing, previous).pending == previous
    first = change_feed_window(engine, nothing, None)
    assert first.pending is None and first.lower_bound is None
