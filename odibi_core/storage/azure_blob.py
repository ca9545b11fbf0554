"""The Azure Blob Storage filesystem of a remote location: reaching it, checking what is there,
and reporting its errors without leaking a credential.

The filesystem is ``pyarrow.fs.AzureFileSystem`` (no extra dependency), built from the delta-rs
storage options an ``azure_blob`` connection resolves to (see ``odibi_core.connections.azure``)
and cached per set of options. The connection uses it to diagnose itself; the engines' remote
file readers and writers (``odibi_core.engines.remote_files``) build on it.

Errors: messages of the storage client are cleaned before they go anywhere (a SAS signature in a
URL becomes ``sig=***``; every secret of the location is redacted) and the original exception is
not chained, so no log or Dagster event can show it. A missing container and a refused
credential become :class:`DataError` with a fix; Azure's ``OperationTimedOut`` (HTTP 500) becomes
a ``TimeoutError``; throttling, server-busy and network failures keep their type and text:
``odibi_core.error_taxonomy`` classifies all three as transient.
"""

from __future__ import annotations

import fnmatch
import posixpath
import re
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from odibi_core.errors import ConfigError, ConfigProblem, DataError, OdibiError
from odibi_core.storage.locations import ResolvedLocation

if TYPE_CHECKING:
    import pyarrow.fs as pafs

__all__ = [
    "GLOB_CHARS",
    "clean_message",
    "container_exists",
    "filesystem",
    "fs_path",
    "glob_files",
    "is_auth_failure",
    "is_hidden",
    "path_exists",
    "remote_errors",
    "static_prefix",
    "translated",
    "uri_of",
]

GLOB_CHARS = ("*", "?", "[")
_SIG = re.compile(r"(sig=)[^&\s'\"<>]+", re.IGNORECASE)
_AUTH = re.compile(r"AuthenticationFailed|AuthorizationFailure|AuthorizationPermissionMismatch"
                   r"|InvalidAuthenticationInfo|NoAuthenticationInformation"
                   r"|403 Forbidden|lacked the necessary privileges", re.IGNORECASE)
_NO_CONTAINER = re.compile(r"ContainerNotFound|container (?:does not exist|not found)",
                           re.IGNORECASE)
_ERROR_CODE = re.compile(r"<Code>(\w+)</Code>|\[(\w+)\] \d{3}")
_OPERATION_TIMEOUT = re.compile(r"\bOperationTimedOut\b")
_cache: dict[tuple[tuple[str, str], ...], Any] = {}
_cache_lock = threading.Lock()


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


def uri_of(location: ResolvedLocation, path: str) -> str:
    """The URI (same scheme and authority as ``location.uri``) of the fs path ``path``."""
    scheme, authority, _ = _split(location.uri)
    inner = path.split("/", 1)[1] if "/" in path else ""
    return f"{scheme}://{authority}/{inner}"


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


def path_exists(location: ResolvedLocation) -> bool:
    """Whether anything is at ``location`` (a glob: whether it matches a visible file)."""
    import pyarrow.fs as pafs

    fs = filesystem(location)
    path = fs_path(location.uri)
    with remote_errors(location, "read"):
        if any(ch in path for ch in GLOB_CHARS):
            return any(not is_hidden(i.path) for i in glob_files(fs, path))
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


def glob_files(fs: pafs.AzureFileSystem, pattern: str) -> list[Any]:
    """The files matching ``pattern`` (``*``, ``?``, ``[...]`` within a name; ``**`` any number
    of folders), listed from the folder before the first wildcard."""
    import pyarrow.fs as pafs

    base = static_prefix(pattern)
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


def static_prefix(pattern: str) -> str:
    """The folder part of a glob before its first wildcard (at least the container)."""
    head = pattern
    while any(ch in head for ch in GLOB_CHARS):
        head = posixpath.dirname(head)
    return head


def is_hidden(path: str) -> bool:
    return posixpath.basename(path).startswith((".", "_"))
