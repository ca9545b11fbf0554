"""Files arriving in a watched folder: what is there now, what is new since last time, and the
set of new files one run processes.

A file is known by its path relative to the connection's base and a version (its size and
modification time), so a file is new once, and again only when it is rewritten. The state a
watcher keeps between looks is the versions of the files it has seen that still exist, so it
stays as small as the folder.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from odibi_core.storage.locations import ResolvedLocation

__all__ = ["FileArrival", "FileVersions", "absolute_files", "list_files", "new_file_sets"]

# relative path -> "<mtime_ns>:<size>"
FileVersions = dict[str, str]


@dataclass(frozen=True)
class FileArrival:
    """The new files a run processes: ``files`` (relative to ``connection``'s base) matched by
    the watched glob ``path``. Nodes that read exactly ``connection`` + ``path`` read only them.
    """

    connection: str
    path: str
    files: tuple[str, ...]

    def applies_to(self, connection: str, path: str | None) -> bool:
        return connection == self.connection and path == self.path


def list_files(base: ResolvedLocation, pattern: str) -> FileVersions:
    """The files under the local folder ``base`` matching the glob ``pattern`` (``**`` recurses),
    hidden files and ``_``-prefixed ones skipped as readers skip them, with their versions."""
    root = base.uri
    found: FileVersions = {}
    for path in glob.glob(os.path.join(root, pattern), recursive=True):
        relative = os.path.relpath(path, root).replace(os.sep, "/")
        if any(part.startswith((".", "_")) for part in relative.split("/")):
            continue
        try:
            stat = os.stat(path)
        except FileNotFoundError:  # removed while listing
            continue
        if os.path.isfile(path):
            found[relative] = f"{stat.st_mtime_ns}:{stat.st_size}"
    return found


def new_file_sets(now: Mapping[str, str], seen: Mapping[str, str],
                  max_files: int) -> list[list[str]]:
    """The files of ``now`` that ``seen`` lacks (or saw in another version), oldest first, in
    sets of at most ``max_files``; each set is one run."""
    new = [path for path, version in now.items() if seen.get(path) != version]
    new.sort(key=lambda path: (int(now[path].split(":", 1)[0]), path))
    return [new[i:i + max_files] for i in range(0, len(new), max_files)]


def absolute_files(base: ResolvedLocation, files: Sequence[str]) -> tuple[str, ...]:
    """``files`` (relative to the local folder ``base``) as absolute paths."""
    return tuple(os.path.join(base.uri, *relative.split("/")) for relative in files)
