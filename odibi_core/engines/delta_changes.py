"""Delta change data feed reads: the rules every engine shares, and the delta-rs read.

A change feed read returns the table's columns (in the table's order) plus
``_change_type`` (string), ``_commit_version`` (int64) and ``_commit_timestamp`` (UTC
timestamp), the types delta-spark gives them. The first version read is
``starting_version``, or the first version committed at or after ``starting_timestamp``
(commit timestamps from the log, as time travel resolves them); the last is ``ending_version``
or the latest. A start past the last version is an empty frame with that schema.

Errors are :class:`DataError`\\ s naming the table and the fix: no Delta table there, change
data not recorded for a version asked (the feed was never enabled, or enabled later), and
versions whose files VACUUM removed (found from the log before reading for local tables).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

from odibi_core.engines.delta_io import _open, parse_timestamp, storage_errors
from odibi_core.errors import ConfigError, ConfigProblem, DataError
from odibi_core.storage.locations import ResolvedLocation
from odibi_core.storage.requests import ChangeFeedRead, ReadRequest

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["change_feed_schema", "check_change_request", "first_version_at",
           "missing_change_files", "not_enabled_error", "read_change_feed", "start_version",
           "vacuumed_error"]

ENABLE_PROPERTY = "delta.enableChangeDataFeed"
# "Reading a table version: 0 that does not ..." (delta-rs), "... for version [0]" (Spark)
_VERSION_IN_TEXT = re.compile(r"(?:table version: |for version \[)(\d+)")


def check_change_request(request: ReadRequest) -> ChangeFeedRead:
    """The request's change feed, refusing what cannot go with it."""
    feed = request.change_feed
    assert feed is not None
    if request.as_of_version is not None or request.as_of_timestamp is not None:
        raise ConfigError(ConfigProblem(
            message="change_feed and time_travel both choose which rows to read.",
            key_path="read.time_travel", fix="Remove time_travel."))
    if (feed.starting_version is None) == (feed.starting_timestamp is None):
        raise ConfigError(ConfigProblem(
            message="change_feed needs exactly one of starting_version or starting_timestamp.",
            key_path="read.change_feed", fix="Write {starting_version: 0}."))
    if request.options:
        raise ConfigError(ConfigProblem(
            message=f"Unknown delta read option '{next(iter(request.options))}'.",
            key_path="read.options", fix="Remove read.options (a change feed takes none)."))
    return feed


def first_version_at(history: Sequence[Mapping[str, Any]], moment: dt.datetime) -> int | None:
    """The first version committed at or after ``moment`` (None: every commit is earlier)."""
    target = int(moment.timestamp() * 1000)
    later = [int(h["version"]) for h in history if int(h["timestamp"]) >= target]
    return min(later) if later else None


def start_version(feed: ChangeFeedRead, history: Sequence[Mapping[str, Any]]) -> int | None:
    """The first version ``feed`` reads (``history``: version and commit timestamp in ms of
    each commit, needed only for a timestamp), or None when no commit is that late."""
    if feed.starting_version is not None:
        return int(feed.starting_version)
    return first_version_at(history, parse_timestamp(str(feed.starting_timestamp), "read.change_feed.starting_timestamp"))


def not_enabled_error(location: ResolvedLocation, engine_text: str) -> DataError:
    """Change data was not recorded for (some of) the versions asked; ``engine_text`` is
    delta-rs's or delta-spark's message (the version it names is kept)."""
    where = location.table or location.redact(location.uri)
    found = _VERSION_IN_TEXT.search(engine_text)
    which = f"version {found.group(1)}" if found else "the versions asked"
    return DataError(
        f"The Delta table {location.display} has no change data feed for {which}: change "
        "data was not recorded then (delta.enableChangeDataFeed was not set).",
        fix=f"Enable it where the table is written: `write.table_properties: "
            f"{{{ENABLE_PROPERTY}: true}}` on the node that writes it, or `ALTER TABLE "
            f"delta.`{where}` SET TBLPROPERTIES ({ENABLE_PROPERTY} = true)`. The feed starts "
            "at the version that enabled it: start change_feed there (or later).")


def vacuumed_error(location: ResolvedLocation, start: int, end: int,
                   missing: Sequence[str] = ()) -> DataError:
    """The files of versions in ``start..end`` are gone (VACUUM, or log clean-up);
    ``missing``: the files found missing, if known."""
    extra = f" (missing: {_shown(missing[0], location)}" \
        + (f" and {len(missing) - 1} more" if len(missing) > 1 else "") + ")" if missing else ""
    return DataError(
        f"The change data of versions {start} to {end} of the Delta table {location.display} "
        f"can no longer be read: files they need were removed by VACUUM{extra}.",
        fix="Start the change feed at a newer version (remove the node's state under "
            "<system>/state to restart from change_feed's start), or keep the table's files "
            "longer (vacuum retention).")


def missing_change_files(location: ResolvedLocation, start: int, end: int) -> list[str]:
    """Files versions ``start..end`` of a local table need for their change data that are
    not there (a version's commit file included). Remote tables: an empty list."""
    if not location.is_local:
        return []
    root = location.uri
    log = os.path.join(root, "_delta_log")
    missing: list[str] = []
    for version in range(start, end + 1):
        commit = os.path.join(log, f"{version:020d}.json")
        if not os.path.exists(commit):
            missing.append(commit)
            continue
        for path in _change_paths(commit):
            full = _local_path(path, root)
            if not os.path.exists(full):
                missing.append(full)
    return missing


def change_feed_schema(table_schema: pa.Schema) -> pa.Schema:
    """The schema of a change feed of a table with ``table_schema``."""
    import pyarrow as pa

    return pa.schema([*table_schema,
                      pa.field("_change_type", pa.string()),
                      pa.field("_commit_version", pa.int64()),
                      pa.field("_commit_timestamp", pa.timestamp("us", tz="UTC"))])


def read_change_feed(location: ResolvedLocation, feed: ChangeFeedRead) -> pa.Table:
    """The change feed of the Delta table at ``location`` through delta-rs, normalised."""
    with storage_errors(location, "read"):
        table = _open(location)
        latest = table.version()
        end = latest if feed.ending_version is None else min(int(feed.ending_version), latest)
        history = table.history() if feed.starting_version is None else []
        start = start_version(feed, history)
        schema = change_feed_schema(_table_schema(table))
        if start is None or start > end:
            return schema.empty_table()
        missing = missing_change_files(location, start, end)
        if missing:
            raise vacuumed_error(location, start, end, missing)
        try:
            data = _load(table, start, end)
        except Exception as exc:  # noqa: BLE001 - delta-rs raises plain DeltaErrors
            translated = _translated(exc, location, start, end)
            if translated is None:
                raise  # the engine's guard classifies it (e.g. a transient storage error)
            raise translated from exc
        return normalised(data, schema)


def normalised(data: pa.Table, schema: pa.Schema) -> pa.Table:
    """``data`` (delta-rs's feed: string views, ``uint64`` versions, naive ms timestamps,
    partition columns last) with exactly ``schema``'s columns, order and types, sorted by
    ``_commit_version``; a column the versions read did not have yet is null."""
    import pyarrow as pa
    import pyarrow.compute as pc

    columns = []
    for field in schema:
        if field.name not in data.column_names:
            columns.append(pa.nulls(data.num_rows, field.type))
            continue
        column = data.column(field.name)
        if field.name == "_commit_timestamp" and column.type.tz is None:
            column = pc.assume_timezone(column, "UTC")
        columns.append(column.cast(field.type))
    table = pa.Table.from_arrays(columns, schema=schema)
    return table.sort_by([("_commit_version", "ascending")])  # a stable sort


def _load(table: Any, start: int, end: int) -> pa.Table:
    import pyarrow as pa

    return pa.table(table.load_cdf(starting_version=start, ending_version=end).read_all())


def _table_schema(table: Any) -> pa.Schema:
    import pyarrow as pa

    return pa.schema(table.schema().to_arrow())


def _translated(exc: BaseException, location: ResolvedLocation, start: int,
                end: int) -> DataError | None:
    text = str(exc)
    if "does not have change data enabled" in text:
        return not_enabled_error(location, text)
    lowered = text.lower()
    if isinstance(exc, FileNotFoundError) or "not found" in lowered \
            or "no such file" in lowered:
        return vacuumed_error(location, start, end)
    return None


def _change_paths(commit: str) -> list[str]:
    """The data files a commit's change data is read from: its ``cdc`` files when it wrote
    some, else the files it added and removed (inserted and deleted rows)."""
    cdc: list[str] = []
    data: list[str] = []
    with open(commit, encoding="utf-8") as handle:
        for line in handle:
            if not line.strip():
                continue
            action = json.loads(line)
            if "cdc" in action:
                cdc.append(action["cdc"]["path"])
            for kind in ("add", "remove"):
                if kind in action and action[kind].get("dataChange", True):
                    data.append(action[kind]["path"])
    return cdc or data


def _local_path(path: str, root: str) -> str:
    parsed = urlparse(path)
    if parsed.scheme == "file":
        return unquote(parsed.path)
    if parsed.scheme:
        return path
    return os.path.join(root, unquote(path))


def _shown(path: str, location: ResolvedLocation) -> str:
    """``path`` relative to the table (a local path) or as it is, secrets redacted."""
    if location.is_local and os.path.isabs(path):
        return os.path.relpath(path, location.uri)
    root = location.uri.rstrip("/") + "/"
    return location.redact(path[len(root):] if path.startswith(root) else path)
