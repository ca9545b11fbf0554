"""A streaming node killed with SIGKILL inside a micro-batch — before its Delta commit, or after
it and before Spark's checkpoint records the batch — and run again: the checkpoint replays the
batch, the Delta transaction of ``(app id, batch id)`` makes the replay write nothing twice, and
the target holds every record once. Real ``odibi run`` processes, each bounded by a timeout."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from deltalake import DeltaTable

from tests.processes import run_odibi
from tests.streaming.streams import APPEND_NODE, arrive, event, write_project


def _ids(root: Path) -> list[int]:
    target = root / "lake" / "silver" / "events"
    if not (target / "_delta_log").exists():
        return []
    return sorted(DeltaTable(str(target)).to_pyarrow_table().column("event_id").to_pylist())


@pytest.mark.parametrize("point", ["before_commit", "after_commit"])
def test_a_stream_killed_mid_batch_and_restarted_holds_each_record_once(
        tmp_path: Path, point: str) -> None:
    write_project(tmp_path, APPEND_NODE)
    arrive(tmp_path, "a", [event(1, "00"), event(2, "01"), event(3, "02")])

    crashed = run_odibi(tmp_path, crash_at=point)
    assert crashed.returncode == -signal.SIGKILL, crashed.stdout + crashed.stderr
    assert _ids(tmp_path) == ([] if point == "before_commit" else [1, 2, 3])
    checkpoint = tmp_path / "lake" / "_system" / "checkpoints" / "live" / "events"
    assert (checkpoint / "offsets" / "0").exists()  # Spark planned batch 0 ...
    assert not (checkpoint / "commits" / "0").exists()  # ... and never recorded it done

    arrive(tmp_path, "b", [event(4, "03")])  # new data arrives before the restart
    repeated = run_odibi(tmp_path)
    assert repeated.returncode == 0, repeated.stdout + repeated.stderr
    assert _ids(tmp_path) == [1, 2, 3, 4]
    assert (checkpoint / "commits" / "0").exists()

    again = run_odibi(tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr
    assert _ids(tmp_path) == [1, 2, 3, 4]
    # One Delta commit per batch that had rows: the replay of batch 0 wrote nothing.
    history = DeltaTable(str(tmp_path / "lake" / "silver" / "events")).history()
    writes = [h for h in history if h.get("operation") not in ("CREATE TABLE",)]
    assert len(writes) == 2, writes
