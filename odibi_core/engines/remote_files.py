"""csv, parquet and json files in Azure Blob Storage, for the engines that hold Arrow data.

The files are listed, read and written through the location's filesystem
(``odibi_core.storage.azure_blob``). The engines' own
file readers and writers work on local paths, so:

- reading: :func:`list_uris` applies the rules of ``file_layout.list_source_files`` (a file, a
  glob, or the files of the format directly in a folder; hidden ``.``/``_`` names skipped; a Delta
  folder refused), and :func:`local_copies` downloads the files into a temporary folder for the
  duration of the read (a hive-partitioned folder: :func:`local_mirror`);
- writing: the file or part file is written to a temporary local folder, then uploaded. A blob
  becomes visible only when its upload is committed, so a reader never sees half a file.
  Overwriting a folder uploads the new part files first and then deletes the old ones: unlike on
  a local disk (where a rename swaps the folder in), a reader listing the folder in between sees
  old and new parts together. Use Delta for atomic replacement.

Errors are translated as ``odibi_core.storage.azure_blob`` describes (no secret leaves).
"""

from __future__ import annotations

import os
import posixpath
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, TypeVar

from odibi_core.engines.file_names import FILE_EXTENSIONS, is_single_file_target, part_name
from odibi_core.engines.hive_parquet import is_hive_folder as is_local_hive_folder
from odibi_core.engines.hive_parquet import read_hive_folder, write_hive_folder
from odibi_core.errors import DataError
from odibi_core.storage.azure_blob import (
    GLOB_CHARS,
    filesystem,
    fs_path,
    glob_files,
    is_hidden,
    remote_errors,
    static_prefix,
    uri_of,
)
from odibi_core.storage.locations import ResolvedLocation
from odibi_core.storage.requests import WriteMode

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.fs as pafs

    from odibi_core.storage.requests import LowerBound

T = TypeVar("T")

__all__ = [
    "RemoteFile",
    "batch_part_files",
    "file_stats",
    "is_hive_folder",
    "list_uris",
    "local_copies",
    "local_mirror",
    "parquet_schema",
    "publish_folder",
    "remote_errors",
    "remove_files",
    "replace_batch_file",
    "source_state_files",
    "write_target",
]

_CHUNK = 4 * 1024 * 1024


@dataclass(frozen=True)
class RemoteFile:
    """One blob: its ``abfss://`` URI, size in bytes and modification time (ns; Azure keeps
    whole seconds)."""

    uri: str
    size: int
    mtime_ns: int


# ---- the filesystem -------------------------------------------------------------------------


# ---- errors ---------------------------------------------------------------------------------


# ---- reading --------------------------------------------------------------------------------
def list_uris(location: ResolvedLocation, fmt: str) -> list[str]:
    """The URIs of the files a read of ``location`` covers, sorted (see the module docstring).

    Raises:
        DataError: nothing matches, the folder holds no file of the format, or it is a Delta
            table.
    """
    return [f.uri for f in list_files(location, fmt)]


def list_files(location: ResolvedLocation, fmt: str) -> list[RemoteFile]:
    """:func:`list_uris` with each file's size and modification time."""
    import pyarrow.fs as pafs

    fs = filesystem(location)
    path = fs_path(location.uri)
    with remote_errors(location, "read"):
        if any(ch in path for ch in GLOB_CHARS):
            matches = [info for info in glob_files(fs, path) if not is_hidden(info.path)]
            if not matches:
                folder = static_prefix(path)
                state = "exists" if fs.get_file_info(folder).type != pafs.FileType.NotFound \
                    else "does not exist"
                raise DataError(
                    f"No file matches {location.display} (glob '{posixpath.basename(path)}' "
                    f"searched in {uri_of(location, folder)}, which {state}).",
                    fix="Check the path and the pattern, or wait for the files to arrive.")
            return _remote(location, matches)
        info = fs.get_file_info(path)
        if info.type == pafs.FileType.File:
            return _remote(location, [info])
        if info.type == pafs.FileType.Directory:
            children = fs.get_file_info(pafs.FileSelector(path, recursive=False))
            if any(c.base_name == "_delta_log" for c in children):
                raise DataError(f"{location.display} is a Delta table, not a folder of {fmt} "
                                "files.", fix="Read it with `format: delta`.")
            files = [c for c in children if c.type == pafs.FileType.File
                     and not is_hidden(c.path) and c.base_name.lower().endswith(
                         FILE_EXTENSIONS[fmt])]
            if not files:
                raise DataError(
                    f"The folder {location.display} ({location.uri}) holds no {fmt} files "
                    f"({', '.join(FILE_EXTENSIONS[fmt])}).",
                    fix=f"Check `path` and `format`, or point `path` at the {fmt} files.")
            return _remote(location, files)
    raise DataError(
        f"{location.display} does not exist ({location.uri}).",
        fix=f"Check `path` and the container of connection '{location.connection}'.")


def file_stats(location: ResolvedLocation, uris: Sequence[str]) -> list[tuple[int, int]]:
    """(size, mtime in ns) of each of ``uris`` (local paths when ``location`` is local)."""
    if location.is_local:
        return [(s.st_size, s.st_mtime_ns) for s in map(os.stat, uris)]
    fs = filesystem(location)
    with remote_errors(location, "read"):
        infos = fs.get_file_info([fs_path(u) for u in uris])
    return [(int(i.size or 0), int(i.mtime_ns or 0)) for i in infos]


@contextmanager
def local_copies(location: ResolvedLocation, uris: Sequence[str]) -> Iterator[list[str]]:
    """Local paths holding ``uris`` for the block: the paths themselves for a local location,
    else downloads in a temporary folder (removed afterwards; names keep their extension)."""
    if location.is_local:
        yield list(uris)
        return
    fs = filesystem(location)
    with tempfile.TemporaryDirectory(prefix="odibi-remote-") as folder:
        paths = []
        with remote_errors(location, "read"):
            for index, uri in enumerate(uris):
                local = os.path.join(folder, f"{index:05d}-{posixpath.basename(uri)}")
                _download(fs, fs_path(uri), local)
                paths.append(local)
        yield paths


@contextmanager
def local_mirror(location: ResolvedLocation) -> Iterator[str]:
    """A temporary local copy of the folder at ``location`` (every visible file, sub-folders
    included, same layout), for readers of whole folders such as hive-partitioned parquet."""
    import pyarrow.fs as pafs

    fs = filesystem(location)
    root = fs_path(location.uri).rstrip("/")
    with tempfile.TemporaryDirectory(prefix="odibi-remote-") as folder:
        with remote_errors(location, "read"):
            for info in fs.get_file_info(pafs.FileSelector(root, recursive=True)):
                relative = info.path[len(root) + 1:]
                if info.type != pafs.FileType.File or any(
                        part.startswith((".", "_")) for part in relative.split("/")):
                    continue
                local = os.path.join(folder, *relative.split("/"))
                os.makedirs(os.path.dirname(local), exist_ok=True)
                _download(fs, info.path, local)
        yield folder


def is_hive_folder(location: ResolvedLocation) -> bool:
    """True when the remote folder at ``location`` holds only ``key=value`` sub-folders (and no
    ``_delta_log``)."""
    import pyarrow.fs as pafs

    fs = filesystem(location)
    path = fs_path(location.uri)
    if any(ch in path for ch in GLOB_CHARS):
        return False
    with remote_errors(location, "read"):
        if fs.get_file_info(path).type != pafs.FileType.Directory:
            return False
        children = fs.get_file_info(pafs.FileSelector(path, recursive=False))
    if any(c.base_name == "_delta_log" for c in children):
        return False
    folders = [c for c in children if c.type == pafs.FileType.Directory
               and not c.base_name.startswith((".", "_"))]
    return bool(folders) and all("=" in c.base_name for c in folders)


def parquet_schema(location: ResolvedLocation, uris: Sequence[str]) -> pa.Schema:
    """The unified schema of the remote parquet files ``uris`` (footers only)."""
    import pyarrow.dataset as ds

    with remote_errors(location, "read"):
        return ds.dataset([fs_path(u) for u in uris], filesystem=filesystem(location),
                          format="parquet").schema


def source_state_files(location: ResolvedLocation) -> list[list[Any]] | None:
    """``[relative path, size, mtime_ns]`` of every visible file a read of ``location`` may
    cover (a file, a glob's matches, a folder's files recursively), for batch fingerprints;
    None when nothing is there."""
    import pyarrow.fs as pafs

    fs = filesystem(location)
    path = fs_path(location.uri).rstrip("/")
    with remote_errors(location, "read"):
        if any(ch in path for ch in GLOB_CHARS):
            infos = [i for i in glob_files(fs, path) if i.type == pafs.FileType.File]
            anchor = static_prefix(path)
        else:
            info = fs.get_file_info(path)
            if info.type == pafs.FileType.File:
                infos, anchor = [info], posixpath.dirname(path)
            elif info.type == pafs.FileType.Directory:
                anchor = path
                infos = [i for i in fs.get_file_info(pafs.FileSelector(path, recursive=True))
                         if i.type == pafs.FileType.File and not any(
                             p.startswith((".", "_")) for p in i.path[len(path) + 1:].split("/"))]
            else:
                return None
    return [[posixpath.relpath(i.path, anchor), int(i.size or 0), int(i.mtime_ns or 0)]
            for i in sorted(infos, key=lambda i: i.path)]


# ---- writing --------------------------------------------------------------------------------
def write_target(location: ResolvedLocation, fmt: str, mode: WriteMode,
                 write_one: Callable[[str], None], *, token: str | None = None) -> int:
    """``file_layout.write_file_target`` for a remote location: one file, or a part file of a
    folder (``append`` adds one, ``overwrite`` replaces the folder's files). Returns 1.

    Raises:
        DataError: a folder where a file is expected, or the other way round.
    """
    import pyarrow.fs as pafs

    fs = filesystem(location)
    path = fs_path(location.uri).rstrip("/")
    with remote_errors(location, "write"):
        kind = fs.get_file_info(path).type
    if is_single_file_target(location.uri, fmt):
        if kind == pafs.FileType.Directory:
            raise DataError(f"{location.display} is a folder, not a {fmt} file "
                            f"({location.uri}).", fix="Remove the folder or write to another path.")
        with tempfile.TemporaryDirectory(prefix="odibi-upload-") as folder:
            local = os.path.join(folder, posixpath.basename(path))
            write_one(local)
            with remote_errors(location, "write"):
                _upload(fs, local, path)
        return 1
    if kind == pafs.FileType.File:
        raise DataError(
            f"{location.display} is a file, but a path without a '.{fmt}' extension is written "
            f"as a folder of part files ({location.uri}).",
            fix=f"Add the extension to write one file (`{location.display}.{fmt}`), or remove "
                "the file.")
    existing = 0
    if mode == "append" and kind == pafs.FileType.Directory:
        with remote_errors(location, "write"):
            existing = sum(1 for i in fs.get_file_info(pafs.FileSelector(path))
                           if i.base_name.startswith("part-"))
    name = part_name(existing, fmt, token)
    publish_folder(location, mode, lambda staging: write_one(os.path.join(staging, name)))
    return 1


def publish_folder(location: ResolvedLocation, mode: WriteMode,
                   fill: Callable[[str], T]) -> T:
    """``fill(staging)`` writes files into an empty local folder; they are uploaded under the
    folder at ``location`` (same relative layout). ``overwrite`` then deletes every other file
    under it. Returns what ``fill`` returned."""
    import pyarrow.fs as pafs

    fs = filesystem(location)
    root = fs_path(location.uri).rstrip("/")
    with tempfile.TemporaryDirectory(prefix="odibi-upload-") as staging:
        result = fill(staging)
        uploaded = set()
        with remote_errors(location, "write"):
            for folder, _dirs, names in os.walk(staging):
                for name in sorted(names):
                    local = os.path.join(folder, name)
                    target = posixpath.join(root, *os.path.relpath(local, staging).split(os.sep))
                    _upload(fs, local, target)
                    uploaded.add(target)
            if mode == "overwrite":
                old = [i.path for i in fs.get_file_info(pafs.FileSelector(
                    root, recursive=True, allow_not_found=True))
                    if i.type == pafs.FileType.File and i.path not in uploaded]
                for path in old:
                    fs.delete_file(path)
    return result


def replace_batch_file(location: ResolvedLocation, name: str,
                       write_one: Callable[[str], None]) -> None:
    """Write the part file ``name`` of the folder at ``location``, replacing it if present
    (one blob upload: readers see the old or the new file)."""
    fs = filesystem(location)
    root = fs_path(location.uri).rstrip("/")
    with tempfile.TemporaryDirectory(prefix="odibi-upload-") as folder:
        local = os.path.join(folder, name)
        write_one(local)
        with remote_errors(location, "write"):
            _upload(fs, local, f"{root}/{name}")


def batch_part_files(location: ResolvedLocation, token: str) -> list[str]:
    """URIs of the part files under the folder at ``location`` (recursively) whose name carries
    the batch ``token``."""
    import pyarrow.fs as pafs

    fs = filesystem(location)
    root = fs_path(location.uri).rstrip("/")
    with remote_errors(location, "read"):
        infos = fs.get_file_info(pafs.FileSelector(root, recursive=True, allow_not_found=True))
    found = []
    for info in infos:
        relative = info.path[len(root) + 1:].split("/")
        if info.type == pafs.FileType.File and not any(
                p.startswith((".", "_")) for p in relative[:-1]) \
                and info.base_name.startswith("part-") and f"-{token}-" in info.base_name:
            found.append(uri_of(location, info.path))
    return sorted(found)


def remove_files(location: ResolvedLocation, uris: Sequence[str]) -> None:
    """Delete the blobs ``uris``."""
    fs = filesystem(location)
    with remote_errors(location, "write"):
        for uri in uris:
            fs.delete_file(fs_path(uri))


# ---- helpers --------------------------------------------------------------------------------
def _remote(location: ResolvedLocation, infos: Sequence[Any]) -> list[RemoteFile]:
    return sorted((RemoteFile(uri_of(location, i.path), int(i.size or 0), int(i.mtime_ns or 0))
                   for i in infos), key=lambda f: f.uri)


def _download(fs: pafs.AzureFileSystem, path: str, local: str) -> None:
    with fs.open_input_stream(path) as source, open(local, "wb") as target:
        while True:
            chunk = source.read(_CHUNK)
            if not chunk:
                break
            target.write(chunk)


def _upload(fs: pafs.AzureFileSystem, local: str, path: str) -> None:
    with open(local, "rb") as source, fs.open_output_stream(path) as target:
        shutil.copyfileobj(source, target, _CHUNK)


def local_location(location: ResolvedLocation, folder: str) -> ResolvedLocation:
    """``location`` pointed at a local folder (same connection and display), for writers that
    fill a staging folder."""
    return replace(location, uri=folder, is_local=True, storage_options={})


# ---- hive-partitioned parquet folders, local or remote ----------------------------------------
def is_hive_location(location: ResolvedLocation) -> bool:
    """``hive_parquet.is_hive_folder`` for a local or remote location."""
    return is_local_hive_folder(location.uri) if location.is_local else is_hive_folder(location)


def read_hive_location(location: ResolvedLocation, *,
                       lower_bound: LowerBound | None = None) -> pa.Table:
    """``hive_parquet.read_hive_folder`` for a local or remote location (a remote folder is
    mirrored locally for the read)."""
    if location.is_local:
        return read_hive_folder(location.uri, lower_bound=lower_bound)
    with local_mirror(location) as folder:
        return read_hive_folder(folder, lower_bound=lower_bound)


def write_hive_location(table: pa.Table, location: ResolvedLocation, mode: WriteMode,
                        keys: Sequence[str], *, token: str | None = None) -> int:
    """``hive_parquet.write_hive_folder`` for a local or remote location (remote: the folder is
    laid out in a local staging folder and published with :func:`publish_folder`)."""
    missing = [k for k in keys if k not in table.column_names]
    if location.is_local or mode not in ("overwrite", "append") or missing \
            or location.uri.lower().endswith(".parquet"):
        return write_hive_folder(table, location, mode, keys, token=token)  # or its refusal
    return publish_folder(location, mode, lambda staging: write_hive_folder(
        table, local_location(location, staging), "append", keys, token=token))
