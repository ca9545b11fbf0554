"""High-water marks keep their type through the JSON store: dates, timestamps, exact decimals."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from odibi_core.incremental import HighWaterMark, HwmStore


@pytest.mark.parametrize("mark", [
    HighWaterMark("id", 42, "int64"),
    HighWaterMark("day", dt.date(2026, 11, 27), "date"),
    HighWaterMark("at", dt.datetime(2026, 11, 27, 6, 15, tzinfo=dt.timezone.utc), "timestamp"),
    HighWaterMark("amount", Decimal("12345678901234567890.123456789"), "decimal(38,9)"),
])
def test_a_mark_round_trips_through_the_store(tmp_path: Path, mark: HighWaterMark) -> None:
    store = HwmStore(tmp_path)
    store.save("p", "n", mark)
    assert store.load("p", "n") == mark
