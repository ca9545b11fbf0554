"""Where non-Delta files are read from and how they are written, the same for every engine.

Reading: ``path`` is a file, a glob (``orders/*.csv``) or a folder of part files (hidden files
and files starting with ``_`` or ``.`` are skipped, as Spark does).

Writing: a path ending in the format's extension is ONE file; any other path is a folder of part
files ``part-00000-<uuid>.<ext>``. Nothing is ever half-written where a reader looks: a file is
written under a hidden temporary name in the same folder and moved into place with
``os.replace``; an overwritten folder is staged beside the target and swapped in.

Remote locations (an ``azure_blob`` connection) follow the same rules through
``odibi_core.engines.remote_files``: listing, single files and part files are the same; only the
swap of an overwritten folder is not atomic there (see that module).
"""

from __future__ import annotations

import glob
import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from odibi_core.engines import remote_files
from odibi_core.engines.file_names import (
    FILE_EXTENSIONS,
    is_single_file_target,
    part_extension,
    part_name,
    swap_in_folder,
)
from odibi_core.errors import DataError
from odibi_core.storage import azure_blob
from odibi_core.storage.locations import ResolvedLocation
from odibi_core.storage.requests import WriteMode

T = TypeVar("T")

__all__ = [
    "batch_part_files",
    "check_file_mode",
    "list_source_files",
    "location_exists",
    "remove_batch_parts",
    "replace_batch_file",
    "write_file_target",
]

_GLOB_CHARS = ("*", "?", "[")


def list_source_files(location: ResolvedLocation, fmt: str) -> list[str]:
    """The files a read of ``location`` covers, sorted by path.

    Raises:
        DataError: nothing matches (naming the glob and the folder searched), or the folder holds
            no file of the format.
    """
    if location.is_local:
        files = _source_files(location, fmt)
    else:
        files = remote_files.list_uris(location, fmt)
    if location.only_files is None:
        return files
    same = os.path.abspath if location.is_local else str
    wanted = {same(path) for path in location.only_files}
    arrived = [path for path in files if same(path) in wanted]
    if not arrived:
        raise DataError(
            f"None of the run's {len(wanted)} arrived file(s) is among the files of "
            f"{location.display} (were they moved or deleted after the sensor saw them?).",
            fix="Re-run the pipeline without the arrival (odibi run), or check the landing "
                "folder.")
    return arrived


def location_exists(location: ResolvedLocation) -> bool:
    """Whether there may be something to read at ``location``: a glob counts as existing
    (reading it says what it matched), anything else is looked up (remote ones too)."""
    if location.is_local:
        return os.path.exists(location.uri) or any(ch in location.uri for ch in _GLOB_CHARS)
    if any(ch in location.uri for ch in _GLOB_CHARS):
        return True
    return azure_blob.path_exists(location)


def _source_files(location: ResolvedLocation, fmt: str) -> list[str]:
    uri = location.uri
    if not os.path.exists(uri) and any(ch in uri for ch in _GLOB_CHARS):
        matches = sorted(p for p in glob.glob(uri, recursive=True)
                         if os.path.isfile(p) and not _hidden(p))
        if not matches:
            folder = _static_prefix(uri)
            state = "exists" if os.path.isdir(folder) else "does not exist"
            raise DataError(
                f"No file matches {location.display} (glob '{os.path.basename(uri)}' searched "
                f"in {folder}, which {state}).",
                fix="Check the path and the pattern, or wait for the files to arrive.",
            )
        return matches
    if os.path.isfile(uri):
        return [uri]
    if os.path.isdir(uri):
        if os.path.isdir(os.path.join(uri, "_delta_log")):
            raise DataError(
                f"{location.display} is a Delta table, not a folder of {fmt} files.",
                fix="Read it with `format: delta`.",
            )
        files = sorted(
            os.path.join(uri, name) for name in os.listdir(uri)
            if not _hidden(name) and name.lower().endswith(FILE_EXTENSIONS[fmt])
            and os.path.isfile(os.path.join(uri, name))
        )
        if not files:
            raise DataError(
                f"The folder {location.display} ({uri}) holds no {fmt} files "
                f"({', '.join(FILE_EXTENSIONS[fmt])}).",
                fix=f"Check `path` and `format`, or point `path` at the {fmt} files.",
            )
        return files
    raise DataError(
        f"{location.display} does not exist ({uri}).",
        fix=f"Check `path` and the base path of connection '{location.connection}'.",
    )


def write_file_target(location: ResolvedLocation, fmt: str, mode: WriteMode,
                      write_one: Callable[[str], None], *, token: str | None = None) -> int:
    """Write a file target with ``write_one(path)``, atomically; returns the files written.

    ``overwrite`` replaces the file or folder; ``append`` adds a part file to a folder. A
    batch ``token`` goes into the part file's name (``part-00003-<token>-<uuid>.parquet``).

    Raises:
        DataError: ``append`` to a single-file target, ``upsert``/``append_once`` (Delta only), or
            the target is the wrong kind of thing (a folder where a file is expected, ...).
    """
    check_file_mode(location, fmt, mode)
    if not location.is_local:
        return remote_files.write_target(location, fmt, mode, write_one, token=token)
    uri = location.uri
    if is_single_file_target(uri, fmt):
        if os.path.isdir(uri):
            raise DataError(f"{location.display} is a folder, not a {fmt} file ({uri}).",
                            fix="Remove the folder or write to another path.")
        _write_atomically(uri, write_one)
        return 1
    if os.path.isfile(uri):
        raise DataError(
            f"{location.display} is a file, but a path without a '.{fmt}' extension is "
            f"written as a folder of part files ({uri}).",
            fix=f"Add the extension to write one file (`{location.display}.{fmt}`), or remove "
                "the file.",
        )
    if mode == "append":
        os.makedirs(uri, exist_ok=True)
        existing = [n for n in os.listdir(uri) if n.startswith("part-")]
        _write_atomically(os.path.join(uri, part_name(len(existing), fmt, token)), write_one)
    else:
        _replace_folder(uri, fmt, write_one, token)
    return 1


def replace_batch_file(location: ResolvedLocation, fmt: str, value: str,
                       write_one: Callable[[str], None]) -> None:
    """Write one batch (``value`` identifies it) as its own part file of the folder at
    ``location``, replacing the batch's earlier part file in one ``os.replace``.

    Raises:
        DataError: the target is a single file, where one batch's rows cannot be replaced.
    """
    import hashlib

    if is_single_file_target(location.uri, fmt):
        raise DataError(
            f"{location.display} is a single {fmt} file, so one batch's rows cannot be "
            "replaced in it.",
            fix="Give a folder path (no extension): each batch is its own part file.")
    digest = hashlib.sha256(value.encode()).hexdigest()[:32]
    if not location.is_local:
        remote_files.replace_batch_file(location, f"part-batch-{digest}{part_extension(fmt)}",
                                        write_one)
        return
    _write_atomically(os.path.join(location.uri, f"part-batch-{digest}{part_extension(fmt)}"),
                      write_one)


def batch_part_files(location: ResolvedLocation, token: str) -> list[str]:
    """The part files under the folder at ``location`` (recursively: partitioned folders
    too) whose name carries the batch ``token``."""
    found: list[str] = []
    if not location.is_local:
        return remote_files.batch_part_files(location, token)
    if not os.path.isdir(location.uri):
        return found
    for root, dirs, files in os.walk(location.uri):
        dirs[:] = [d for d in dirs if not d.startswith((".", "_"))]
        found.extend(os.path.join(root, name) for name in files
                     if name.startswith("part-") and f"-{token}-" in name)
    return sorted(found)


def remove_batch_parts(location: ResolvedLocation, token: str) -> list[str]:
    """Delete the part files of batch ``token`` (a half-published or rolled-back append);
    returns the paths removed."""
    removed = batch_part_files(location, token)
    if not location.is_local:
        remote_files.remove_files(location, removed)
        return removed
    for path in removed:
        os.remove(path)
    return removed


def check_file_mode(location: ResolvedLocation, fmt: str, mode: WriteMode) -> None:
    """Refuse a mode a file target cannot honour, before anything is written.

    Raises:
        DataError: ``upsert`` / ``append_once`` (Delta only), or ``append`` to a single file.
    """
    if mode in ("upsert", "append_once"):
        raise DataError(
            f"Mode '{mode}' needs a Delta target; {location.display} is written as {fmt}.",
            fix="Write with `format: delta`, or use mode overwrite / append.",
        )
    if mode == "append" and is_single_file_target(location.uri, fmt):
        raise DataError(
            f"Cannot append to {location.display}: a path ending in "
            f"'{os.path.splitext(location.uri)[1]}' is a single {fmt} file.",
            fix="Write to a folder path (no extension) to append part files, or use "
                "`format: delta`.",
        )


def _write_atomically(path: str, write_one: Callable[[str], None]) -> None:
    folder, name = os.path.split(path)
    os.makedirs(folder or ".", exist_ok=True)
    # Hidden (readers skip it) and ending in the real extension (writers infer compression).
    temp = os.path.join(folder, f".tmp-{uuid.uuid4().hex}-{name}")
    try:
        write_one(temp)
        os.replace(temp, path)
    finally:
        if os.path.exists(temp):
            os.remove(temp)


def _replace_folder(uri: str, fmt: str, write_one: Callable[[str], None],
                    token: str | None = None) -> None:
    swap_in_folder(uri, lambda staging: write_one(os.path.join(staging,
                                                               part_name(0, fmt, token))))


def _hidden(path: str) -> bool:
    return Path(path).name.startswith((".", "_"))


def _static_prefix(pattern: str) -> str:
    """The folder part of a glob before its first wildcard."""
    head = pattern
    while any(ch in head for ch in _GLOB_CHARS):
        head = os.path.dirname(head)
    return head
