"""Batch identity (SPEC §7): what makes two runs of a node "the same batch".

- A partitioned asset: the Dagster partition key.
- A node with ``read``: a fingerprint of its input as it stood before the read — the source
  files' paths, sizes and modification times, or the source Delta table's version — plus the
  incremental window (the high-water mark the read starts from).
- A node without ``read``: a fingerprint of its upstream nodes' batch ids, as the run that
  produced those outputs recorded them, so a resumed run keeps the batches of the run it
  resumes.
- Anything else (a format with no cheap stat): a digest of the input's content.

Remote files (``azure_blob``) are fingerprinted like local ones, from the blob listing: paths
relative to the folder, sizes and modification times (Azure keeps whole seconds).

Batch ids are short, stable text: ``p-<key>``, ``i-<hex>``, ``u-<hex>``, ``c-<hex>``.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from odibi_core.engines import remote_files
from odibi_core.engines.delta_io import storage_errors
from odibi_core.storage.locations import ResolvedLocation

__all__ = ["BatchIdentity", "app_id_for", "content_identity", "explicit_identity",
           "input_identity", "partition_identity", "source_state", "upstream_identity"]


@dataclass(frozen=True)
class BatchIdentity:
    """A batch id and what it was derived from (shown in the story)."""

    batch_id: str
    source: str  # partition | explicit | input | upstream | content
    detail: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"batch_id": self.batch_id, "source": self.source, "detail": dict(self.detail)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> BatchIdentity:
        return cls(str(data["batch_id"]), str(data["source"]), dict(data.get("detail") or {}))


def app_id_for(project: str, node_key: str, batch_id: str) -> str:
    """The Delta transaction app id of one batch of one node.

    The app id names the batch and the version counts its generations (0, then +1 after each
    rollback), rather than one app id per node with the batch in the version: Delta skips any
    version at or below the last one recorded for an app id, and fingerprints have no order.
    """
    return f"odibi/{project}/{node_key}/{batch_id}"


def partition_identity(partition_key: str) -> BatchIdentity:
    return BatchIdentity(f"p-{partition_key}", "partition", {"partition_key": partition_key})


def explicit_identity(batch_id: str) -> BatchIdentity:
    return BatchIdentity(batch_id, "explicit", {})


def input_identity(node_key: str, state: Mapping[str, Any],
                   window: Mapping[str, Any] | None) -> BatchIdentity:
    """The batch of a node that reads ``state`` (see :func:`source_state`) through ``window``."""
    detail = {"source": dict(state), "window": dict(window) if window else None}
    return BatchIdentity("i-" + _digest([node_key, detail]), "input",
                         _summary(state, window))


def upstream_identity(node_key: str, upstream: Mapping[str, str]) -> BatchIdentity:
    """The batch of a node without ``read``: its upstream nodes' batch ids by node key."""
    return BatchIdentity("u-" + _digest([node_key, sorted(upstream.items())]), "upstream",
                         {"upstream": dict(sorted(upstream.items()))})


def content_identity(node_key: str, fingerprint: str) -> BatchIdentity:
    """The batch of a node whose input could only be identified by its content."""
    return BatchIdentity("c-" + _digest([node_key, fingerprint]), "content", {})


def source_state(location: ResolvedLocation, fmt: str, *,
                 as_of: str | None = None) -> dict[str, Any] | None:
    """What a read of ``location`` would see, cheaply: the files' (path, size, mtime) or the
    Delta table's version (local or remote; None: no table yet). None too when that cannot be
    known without reading (formats without files, nothing there); the caller then falls back to
    the content."""
    if fmt == "delta":
        if as_of is not None:
            return {"delta": location.display, "as_of": as_of}
        from deltalake import DeltaTable


        options = dict(location.storage_options) or None
        with storage_errors(location, "read"):
            if not DeltaTable.is_deltatable(location.uri, storage_options=options):
                return None
            return {"delta": location.display,
                    "version": DeltaTable(location.uri, storage_options=options).version()}
    if fmt not in ("csv", "parquet", "json"):
        return None
    if not location.is_local:
        if location.only_files is not None:  # file-arrival runs watch local folders
            return None
        remote = remote_files.source_state_files(location)
        return None if remote is None else {"files": remote}
    files = (_files_under(location.uri) if location.only_files is None
             else [(path, os.stat(path)) for path in sorted(location.only_files)
                   if os.path.isfile(path)])
    if files is None:
        return None
    return {"files": [[os.path.relpath(path, _anchor(location.uri)), stat.st_size,
                       stat.st_mtime_ns] for path, stat in files]}


def _files_under(uri: str) -> list[tuple[str, os.stat_result]] | None:
    import glob

    if os.path.isfile(uri):
        paths = [uri]
    elif os.path.isdir(uri):
        paths = []
        for root, dirs, names in os.walk(uri):
            dirs[:] = sorted(d for d in dirs if not d.startswith((".", "_")))
            paths.extend(os.path.join(root, n) for n in names if not n.startswith((".", "_")))
    elif any(ch in uri for ch in "*?["):
        paths = [p for p in glob.glob(uri, recursive=True) if os.path.isfile(p)]
    else:
        return None
    return [(path, os.stat(path)) for path in sorted(paths)]


def _anchor(uri: str) -> str:
    """The folder paths in a fingerprint are relative to (so moving the project keeps ids)."""
    head = uri
    while any(ch in head for ch in "*?["):
        head = os.path.dirname(head)
    return head if os.path.isdir(head) else os.path.dirname(head)


def _summary(state: Mapping[str, Any], window: Mapping[str, Any] | None) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    if "files" in state:
        summary["files"] = len(state["files"])
    if "delta" in state:
        summary["delta_version"] = state.get("version", state.get("as_of"))
    if window:
        summary["window"] = dict(window)
    return summary


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]
