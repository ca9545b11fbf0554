"""csv, parquet and json files in Azure Blob Storage, for the engines that hold Arrow data.

The files are listed, read and written through ``pyarrow.fs.AzureFileSystem`` (no extra
dependency), built from a remote location's storage options (the delta-rs keys an
``azure_blob`` connection resolves to; see ``odibi_core.connections.azure``). The engines' own
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

Errors: messages of the storage client are cleaned before they go anywhere (a SAS signature in a
URL becomes ``sig=***``; every secret of the location is redacted) and the original exception is
not chained, so no log or Dagster event can show it. A missing container and a refused
credential become :class:`DataError` with a fix; Azure's ``OperationTimedOut`` (HTTP 500) becomes
a ``TimeoutError``; throttling, server-busy and network failures keep their type and text:
``odibi_core.error_taxonomy`` classifies all three as transient.
"""

from __future__ import annotations

import fnmatch
import os
import posixpath
import re
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from odibi_core.errors import ConfigError, ConfigProblem, DataError, OdibiError
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
    "clean_message",
    "container_exists",
    "file_stats",
    "filesystem",
    "is_auth_failure",
    "is_hive_folder",
    "list_uris",
    "local_copies",
    "local_mirror",
    "parquet_schema",
    "path_exists",
    "publish_folder",
    "remote_errors",
    "remove_files",
    "replace_batch_file",
    "source_state_files",
    "write_target",
]

_GLOB_CHARS = ("*", "?", "[")
_SIG = re.compile(r"(sig=)[^&\s'\"<>]+", re.IGNORECASE)
_AUTH = re.compile(r"AuthenticationFailed|AuthorizationFailure|AuthorizationPermissionMismatch"
                   r"|InvalidAuthenticationInfo|NoAuthenticationInformation"
                   r"|403 Forbidden|lacked the necessary privileges", re.IGNORECASE)
_NO_CONTAINER = re.compile(r"ContainerNotFound|container (?:does not exist|not found)",
                           re.IGNORECASE)
_ERROR_CODE = re.compile(r"<Code>(\w+)</Code>|\[(\w+)\] \d{3}")
_OPERATION_TIMEOUT = re.compile(r"\bOperationTimedOut\b")
_CHUNK = 4 * 1024 * 1024
_cache: dict[tuple[tuple[str, str], ...], Any] = {}
_cache_lock = threading.Lock()


@dataclass(frozen=True)
class RemoteFile:
    """One blob: its ``abfss://`` URI, size in bytes and modification time (ns; Azure keeps
    whole seconds)."""

    uri: str
    size: int
    mtime_ns: int


# ---- the filesystem -------------------------------------------------------------------------
def filesystem(location: ResolvedLocation) -> pafs.AzureFileSystem:
    """The ``AzureFileSystem`` of ``location``'s storage account (one per set of options)."""
    options = dict(location.storage_options)
    key = tuple(sorted(options.items()))
    with _cache_lock:
        found = _cache.get(key)
        if found is None:
            found = _cache[key] = _build_filesystem(options, location)
    return found


def _build_filesystem(options: Mapping[str, str],
                      location: ResolvedLocation) -> pafs.AzureFileSystem:
    import pyarrow.fs as pafs

    account = options.get("account_name")
    if not account:
        raise ConfigError(ConfigProblem(
            message=f"{location.display} has no storage account name.",
            key_path=f"connections.{location.connection}.account_name",
            fix="Set account_name on the azure_blob connection."))
    kwargs: dict[str, Any] = {}
    endpoint = options.get("azure_storage_endpoint") or options.get("endpoint")
    if endpoint:
        parts = urlsplit(endpoint)
        if parts.path.strip("/"):  # path-style (Azurite): pyarrow appends /<account> itself
            blob = dfs = parts.netloc
        elif parts.netloc.startswith(account + "."):  # https://<account>.blob.<suffix>
            blob = parts.netloc[len(account):]
            dfs = blob.replace(".blob.", ".dfs.", 1)
        else:
            blob = dfs = parts.netloc
        kwargs.update(blob_storage_authority=blob, dfs_storage_authority=dfs,
                      blob_storage_scheme=parts.scheme, dfs_storage_scheme=parts.scheme)
    if options.get("account_key"):
        kwargs["account_key"] = options["account_key"]
    elif options.get("sas_token"):
        kwargs["sas_token"] = "?" + options["sas_token"].lstrip("?")
    elif options.get("client_id"):
        kwargs["client_id"] = options["client_id"]
    return pafs.AzureFileSystem(account, **kwargs)


def fs_path(uri: str) -> str:
    """``container/path`` of an ``abfss://container@host/path`` (or ``az://container/path``)
    URI, as ``AzureFileSystem`` names it."""
    scheme, authority, inner = _split(uri)
    if scheme == "az":
        container = authority
    else:
        container = authority.rpartition("@")[0] or authority.split(".", 1)[0]
    inner = inner.strip("/")
    return f"{container}/{inner}" if inner else container


def _split(uri: str) -> tuple[str, str, str]:
    """(scheme, authority, path) of a storage URI. Not ``urlsplit``: a glob's ``?`` and ``#``
    are part of the path here, not a query or a fragment."""
    scheme, _, rest = uri.partition("://")
    authority, _, inner = rest.partition("/")
    return scheme.lower(), authority, inner


def _uri_of(location: ResolvedLocation, path: str) -> str:
    """The URI (same scheme and authority as ``location.uri``) of the fs path ``path``."""
    scheme, authority, _ = _split(location.uri)
    inner = path.split("/", 1)[1] if "/" in path else ""
    return f"{scheme}://{authority}/{inner}"


# ---- errors ---------------------------------------------------------------------------------
def clean_message(text: str, location: ResolvedLocation) -> str:
    """``text`` without SAS signatures (``sig=***``) and the location's secrets."""
    return location.redact(_SIG.sub(r"\1***", text))


def is_auth_failure(text: str) -> bool:
    """True when a storage message says the credentials were refused (HTTP 403)."""
    return bool(_AUTH.search(text))


@contextmanager
def remote_errors(location: ResolvedLocation, action: str) -> Iterator[None]:
    """Translate the storage client's errors inside the block (see the module docstring)."""
    try:
        yield
    except OdibiError:
        raise
    except Exception as exc:  # noqa: BLE001 - translated below, never swallowed
        raise translated(exc, location, action) from None


def translated(exc: BaseException, location: ResolvedLocation, action: str) -> BaseException:
    """``exc`` as odibi reports it: a DataError for a missing container or refused
    credentials, else the same exception type with a cleaned message (no chained cause)."""
    text = str(exc)
    clean = clean_message(text, location)
    first = clean.strip().splitlines()[0] if clean.strip() else type(exc).__name__
    container = fs_path(location.uri).split("/", 1)[0]
    account = location.storage_options.get("account_name", "?")
    if _NO_CONTAINER.search(text):
        return DataError(
            f"Cannot {action} {location.display}: the container '{container}' does not exist "
            f"in storage account '{account}'.",
            fix=f"Create the container, or fix `container` of connection "
                f"'{location.connection}'.")
    if is_auth_failure(text) and not _transient_text(text):
        code = _ERROR_CODE.search(text)
        seen = next(g for g in code.groups() if g) if code else first
        return DataError(
            f"Cannot {action} {location.display}: storage account '{account}' refused the "
            f"credentials of connection '{location.connection}' ({seen}).",
            fix=f"Check connections.{location.connection}.auth (an expired SAS token, a rotated "
                "account key, or missing permissions on the container).")
    if _OPERATION_TIMEOUT.search(text) and not isinstance(exc, TimeoutError):
        timeout = TimeoutError(clean)  # Azure's server-side timeout: worth retrying
        timeout.__suppress_context__ = True
        return timeout
    if clean == text and exc.__cause__ is None and exc.__context__ is None:
        return exc
    return _rebuilt(exc, clean)


def _transient_text(text: str) -> bool:
    return bool(re.search(r"ServerBusy|OperationTimedOut|\b50[0234]\b", text))


def _rebuilt(exc: BaseException, message: str) -> BaseException:
    try:
        errno = getattr(exc, "errno", None)
        new = type(exc)(errno, message) if isinstance(exc, OSError) and errno is not None \
            else type(exc)(message)
    except Exception:  # noqa: BLE001 - a type that does not take a message
        new = OSError(message)
    new.__suppress_context__ = True
    return new


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

    from odibi_core.engines.file_layout import FILE_EXTENSIONS

    fs = filesystem(location)
    path = fs_path(location.uri)
    with remote_errors(location, "read"):
        if any(ch in path for ch in _GLOB_CHARS):
            matches = [info for info in _glob(fs, path) if not _hidden(info.path)]
            if not matches:
                folder = _static_prefix(path)
                state = "exists" if fs.get_file_info(folder).type != pafs.FileType.NotFound \
                    else "does not exist"
                raise DataError(
                    f"No file matches {location.display} (glob '{posixpath.basename(path)}' "
                    f"searched in {_uri_of(location, folder)}, which {state}).",
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
                     and not _hidden(c.path) and c.base_name.lower().endswith(
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
    if any(ch in path for ch in _GLOB_CHARS):
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


def path_exists(location: ResolvedLocation) -> bool:
    """Whether anything is at ``location`` (a glob: whether it matches a visible file)."""
    import pyarrow.fs as pafs

    fs = filesystem(location)
    path = fs_path(location.uri)
    with remote_errors(location, "read"):
        if any(ch in path for ch in _GLOB_CHARS):
            return any(not _hidden(i.path) for i in _glob(fs, path))
        return fs.get_file_info(path).type != pafs.FileType.NotFound


def container_exists(location: ResolvedLocation) -> bool:
    """Whether the container of ``location`` exists (raises when the account cannot be reached
    or refuses the credentials)."""
    import pyarrow.fs as pafs

    container = fs_path(location.uri).split("/", 1)[0]
    fs = filesystem(location)
    if fs.get_file_info(container).type == pafs.FileType.NotFound:
        return False
    fs.get_file_info(pafs.FileSelector(container, recursive=False))  # a listing needs the right
    return True


def source_state_files(location: ResolvedLocation) -> list[list[Any]] | None:
    """``[relative path, size, mtime_ns]`` of every visible file a read of ``location`` may
    cover (a file, a glob's matches, a folder's files recursively), for batch fingerprints;
    None when nothing is there."""
    import pyarrow.fs as pafs

    fs = filesystem(location)
    path = fs_path(location.uri).rstrip("/")
    with remote_errors(location, "read"):
        if any(ch in path for ch in _GLOB_CHARS):
            infos = [i for i in _glob(fs, path) if i.type == pafs.FileType.File]
            anchor = _static_prefix(path)
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

    from odibi_core.engines.file_layout import is_single_file_target, part_name

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
            found.append(_uri_of(location, info.path))
    return sorted(found)


def remove_files(location: ResolvedLocation, uris: Sequence[str]) -> None:
    """Delete the blobs ``uris``."""
    fs = filesystem(location)
    with remote_errors(location, "write"):
        for uri in uris:
            fs.delete_file(fs_path(uri))


# ---- helpers --------------------------------------------------------------------------------
def _remote(location: ResolvedLocation, infos: Sequence[Any]) -> list[RemoteFile]:
    return sorted((RemoteFile(_uri_of(location, i.path), int(i.size or 0), int(i.mtime_ns or 0))
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


def _glob(fs: pafs.AzureFileSystem, pattern: str) -> list[Any]:
    """The files matching ``pattern`` (``*``, ``?``, ``[...]`` within a name; ``**`` any number
    of folders), listed from the folder before the first wildcard."""
    import pyarrow.fs as pafs

    base = _static_prefix(pattern)
    rest = pattern[len(base):].strip("/").split("/")
    recursive = len(rest) > 1 or "**" in rest
    infos = fs.get_file_info(pafs.FileSelector(base, recursive=recursive, allow_not_found=True))
    return sorted((i for i in infos if i.type == pafs.FileType.File
                   and _matches(i.path[len(base):].strip("/").split("/"), rest)),
                  key=lambda i: i.path)


def _matches(parts: list[str], pattern: list[str]) -> bool:
    """Glob matching per path segment, as Python's ``glob``: wildcards do not match names
    starting with ``.`` (nor does ``**`` enter such folders)."""
    if not pattern:
        return not parts
    if pattern[0] == "**":
        return any(_matches(parts[i:], pattern[1:]) for i in range(len(parts) + 1)
                   if not any(p.startswith(".") for p in parts[:i]))
    if not parts or (parts[0].startswith(".") and not pattern[0].startswith(".")):
        return False
    return fnmatch.fnmatchcase(parts[0], pattern[0]) and _matches(parts[1:], pattern[1:])


def _static_prefix(pattern: str) -> str:
    """The folder part of a glob before its first wildcard (at least the container)."""
    head = pattern
    while any(ch in head for ch in _GLOB_CHARS):
        head = posixpath.dirname(head)
    return head


def _hidden(path: str) -> bool:
    return posixpath.basename(path).startswith((".", "_"))


def local_location(location: ResolvedLocation, folder: str) -> ResolvedLocation:
    """``location`` pointed at a local folder (same connection and display), for writers that
    fill a staging folder."""
    return replace(location, uri=folder, is_local=True, storage_options={})


# ---- hive-partitioned parquet folders, local or remote ----------------------------------------
def is_hive_location(location: ResolvedLocation) -> bool:
    """``hive_parquet.is_hive_folder`` for a local or remote location."""
    from odibi_core.engines.hive_parquet import is_hive_folder as local_hive

    return local_hive(location.uri) if location.is_local else is_hive_folder(location)


def read_hive_location(location: ResolvedLocation, *,
                       lower_bound: LowerBound | None = None) -> pa.Table:
    """``hive_parquet.read_hive_folder`` for a local or remote location (a remote folder is
    mirrored locally for the read)."""
    from odibi_core.engines.hive_parquet import read_hive_folder

    if location.is_local:
        return read_hive_folder(location.uri, lower_bound=lower_bound)
    with local_mirror(location) as folder:
        return read_hive_folder(folder, lower_bound=lower_bound)


def write_hive_location(table: pa.Table, location: ResolvedLocation, mode: WriteMode,
                        keys: Sequence[str], *, token: str | None = None) -> int:
    """``hive_parquet.write_hive_folder`` for a local or remote location (remote: the folder is
    laid out in a local staging folder and published with :func:`publish_folder`)."""
    from odibi_core.engines.hive_parquet import write_hive_folder

    missing = [k for k in keys if k not in table.column_names]
    if location.is_local or mode not in ("overwrite", "append") or missing \
            or location.uri.lower().endswith(".parquet"):
        return write_hive_folder(table, location, mode, keys, token=token)  # or its refusal
    return publish_folder(location, mode, lambda staging: write_hive_folder(
        table, local_location(location, staging), "append", keys, token=token))
