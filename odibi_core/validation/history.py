"""A node's earlier runs, read from the run records under the project's ``system`` store.

``volume_drop`` compares today's row count with the average of earlier successful runs, and a
``schema`` test without ``columns`` compares with the columns of the last successful run. The
records are the ``NodeResult`` files ``<system>/runs/<run_id>/<pipeline>/<node>.json`` that every
run writes (see :mod:`odibi_core.runs`).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path

from odibi_core.results import NodeResult

__all__ = ["RunHistory"]


class RunHistory:
    """The earlier successful, non-dry runs of one node.

    Args:
        runs_root: the ``runs`` folder of the system store, or a callable giving it (resolved
            only when a test needs history).
        pipeline: the node's pipeline.
        node: the node's name.
        current_run_id: the run in progress, never counted as an earlier run.

    Example:
        >>> from pathlib import Path
        >>> history = RunHistory(Path("/no/such/runs"), "sales", "orders", current_run_id="r9")
        >>> history.row_counts("validation", now=dt.datetime.now(dt.timezone.utc),
        ...                    lookback_days=7)
        []
    """

    def __init__(self, runs_root: Path | Callable[[], Path], pipeline: str, node: str, *,
                 current_run_id: str | None = None) -> None:
        self._root = runs_root
        self.pipeline = pipeline
        self.node = node
        self.current_run_id = current_run_id

    def results(self, *, since: dt.datetime | None = None) -> list[NodeResult]:
        """Earlier successful runs started at or after ``since``, newest first."""
        root = self._root() if callable(self._root) else self._root
        if not root.is_dir():
            return []
        found = []
        for path in root.glob(f"*/{self.pipeline}/{self.node}.json"):
            if path.parent.parent.name == self.current_run_id:
                continue
            if since is not None and _modified(path) < since:
                continue  # written after its run started, so the run started before `since`
            try:
                result = NodeResult.from_dict(json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError, TypeError, KeyError):
                continue  # a record being written, or from an incompatible version
            if result.status != "success" or result.dry_run:
                continue
            if since is not None and _parse(result.started_at) < since:
                continue
            found.append(result)
        return sorted(found, key=lambda r: r.started_at, reverse=True)

    def row_counts(self, kind: str, *, now: dt.datetime, lookback_days: int) -> list[int]:
        """Rows the tests of ``kind`` saw in each earlier run of the last ``lookback_days``.

        ``validation`` counts the validated output (``rows_out`` for runs without validation);
        ``contract`` counts the input (``rows_in``).
        """
        since = now - dt.timedelta(days=lookback_days)
        counts = []
        for result in self.results(since=since):
            checked = result.contracts if kind == "contract" else result.validation
            count = checked.total_rows if checked is not None else (
                result.rows_in if kind == "contract" else result.rows_out)
            if count is not None:
                counts.append(int(count))
        return counts

    def last_columns(self, kind: str) -> list[str] | None:
        """Columns of the input (``contract``) or output (``validation``) of the last
        successful run; None when there was none."""
        for result in self.results():
            schema = result.schema_in if kind == "contract" else result.schema_out
            if schema:
                return [c.name for c in schema]
        return None


def _parse(text: str) -> dt.datetime:
    moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


def _modified(path: Path) -> dt.datetime:
    return dt.datetime.fromtimestamp(path.stat().st_mtime, dt.timezone.utc)
