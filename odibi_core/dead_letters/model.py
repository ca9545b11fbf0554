"""Dead letters as plain records: one malformed source record, and the batch a read produced.

Engine-free and dependency-free: engines build these, the store writes them, the story counts them.
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from odibi_core.storage.locations import ResolvedLocation

__all__ = [
    "DeadLetter",
    "DeadLetterBatch",
    "SourceFile",
    "build_batch_id",
    "relative_source",
]

_GLOB_CHARS = ("*", "?", "[")


@dataclass(frozen=True)
class DeadLetter:
    """One record that could not be read.

    Attributes:
        source_file: the file, relative to the read's connection (never a URL with credentials).
        line: 1-based physical line where the record starts (a CSV header is line 1).
        raw: the record's original text; undecodable bytes appear as U+FFFD.
        error: what was wrong, e.g. ``expected 3 fields, got 4``.
        header: CSV only: the header line the record belongs to (generated ``_c0,_c1,...`` names
            when the file has no header), so the record can be parsed again on replay.
        format: ``csv`` or ``json``.
    """

    source_file: str
    line: int
    raw: str
    error: str
    header: str | None = None
    format: str = "csv"

    @property
    def key(self) -> tuple[str, int]:
        return (self.source_file, self.line)


@dataclass(frozen=True)
class SourceFile:
    """A file a read covered; its size and mtime make the batch fingerprint."""

    path: str  # relative to the connection
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class DeadLetterBatch:
    """What one read set aside.

    ``records_read`` counts every record of the read, valid ones and dead letters, so that
    ``bad_fraction`` is dead letters / all records.
    """

    batch_id: str
    records_read: int
    dead_letters: tuple[DeadLetter, ...] = ()
    files: tuple[SourceFile, ...] = ()
    node: str | None = None
    format: str = "csv"

    @property
    def bad_records(self) -> int:
        return len(self.dead_letters)

    @property
    def bad_fraction(self) -> float:
        return self.bad_records / self.records_read if self.records_read else 0.0

    def bad_by_file(self) -> dict[str, int]:
        """Dead letters per source file, in file order."""
        counts: dict[str, int] = {}
        for letter in self.dead_letters:
            counts[letter.source_file] = counts.get(letter.source_file, 0) + 1
        return counts


def build_batch_id(node: str | None, files: Sequence[SourceFile]) -> str:
    """A deterministic batch id: the same node reading the same files (paths, sizes, mtimes)
    gets the same id, so a re-read replaces its dead letters instead of adding them again.

    Example:
        >>> build_batch_id("p.n", [SourceFile("raw/a.csv", 10, 1)]).startswith("b-")
        True
    """
    payload = json.dumps([node, sorted((f.path, f.size, f.mtime_ns) for f in files)])
    return "b-" + hashlib.sha256(payload.encode("utf-8")).hexdigest()[:24]


def relative_source(location: ResolvedLocation, file: str) -> str:
    """``file`` (a path the read opened) relative to the connection of ``location``.

    The path is derived from ``location.display`` (``<connection>:<path as written>``), so the
    connection's base path and any credentials never appear.
    """
    prefix = f"{location.connection}:"
    shown = location.display[len(prefix):] if location.display.startswith(prefix) \
        else location.display
    shown = shown.rstrip("/")
    sep = os.sep if location.is_local else "/"
    relpath = os.path.relpath if location.is_local else posixpath.relpath
    if file == location.uri:
        return shown or posixpath.basename(file.replace(sep, "/"))
    uri_parts = location.uri.rstrip(sep).split(sep)
    dropped = 0
    while dropped < len(uri_parts) and any(ch in sep.join(uri_parts[:len(uri_parts) - dropped])
                                           for ch in _GLOB_CHARS):
        dropped += 1
    folder = sep.join(uri_parts[:len(uri_parts) - dropped]) or sep
    shown_parts = shown.split("/") if shown else []
    shown_folder = "/".join(shown_parts[:max(len(shown_parts) - dropped, 0)])
    inner = relpath(file, folder).replace(sep, "/")
    return posixpath.join(shown_folder, inner) if shown_folder else inner
