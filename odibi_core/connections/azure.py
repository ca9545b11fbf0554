"""Azure Blob Storage / ADLS Gen2 (``type: azure_blob``, alias ``azure_adls``).

A connection is one container of one storage account. Node paths are relative to the container
(``silver/orders``); absolute ``abfss://container@account.dfs.core.windows.net/...``,
``abfs://...`` and ``az://container/...`` paths are accepted when they name the connection's own
container (and account). Every path resolves to the ``abfss://`` URI of the object, with the
storage options that delta-rs (and polars, which shares its ``object_store`` keys) need; the
csv/parquet/json readers and writers build a ``pyarrow.fs.AzureFileSystem`` from the same options
(``odibi_core.storage.azure_blob``).

Authentication (``auth.mode``), and what it becomes:

==================  ===============================================================================
``account_key``     ``account_key`` (delta-rs, polars and pyarrow alike)
``sas``             ``sas_token`` (a leading ``?`` is dropped; pyarrow is given ``?<token>``)
``connection_str``  parsed: ``AccountName``, ``AccountKey`` or ``SharedAccessSignature``, and
                    ``BlobEndpoint`` / ``DefaultEndpointsProtocol`` + ``EndpointSuffix`` as the
                    endpoint; ``UseDevelopmentStorage=true`` is Azurite's well-known account on
                    ``127.0.0.1:10000``. The string itself is never handed to a library.
``aad_msi``         managed identity: no secret; ``client_id`` (a user-assigned identity) is passed
                    as ``client_id`` to delta-rs/polars (their IMDS credential) and to pyarrow
                    (its ``ManagedIdentityCredential``). Without ``client_id`` delta-rs uses the
                    IMDS managed identity and pyarrow Azure's default credential chain (which
                    tries the managed identity among others).
(no ``auth``)       the same ambient credentials as ``aad_msi`` without ``client_id``
==================  ===============================================================================

``endpoint`` points at an emulator or a private endpoint: ``http://127.0.0.1:10000/devstoreaccount1``
(Azurite's path-style URL; ``http://127.0.0.1:10000`` alone gets the account appended) or
``https://<account>.blob.core.windows.net``-style hosts. An ``http://`` endpoint sets
``allow_http``.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import posixpath
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from odibi_core.connections.base import Check, Connection
from odibi_core.errors import ConfigError, ConfigProblem
from odibi_core.storage import azure_blob
from odibi_core.storage.locations import ResolvedLocation

__all__ = ["AZURITE_ACCOUNT", "AZURITE_KEY", "AzureBlobConnection", "account_key_problem",
           "parse_connection_string"]

#: Azurite's (and the old storage emulator's) well-known development account: public values.
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = ("Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBe"
               "ksoGMGw==")
_CONTAINER = re.compile(r"^(?=.{3,63}$)[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9]))*$")
_ACCOUNT = re.compile(r"^[a-z0-9]{3,24}$")
_URI = re.compile(r"^(?P<scheme>abfss?|az|wasbs?)://(?P<rest>.*)$", re.IGNORECASE)


class AzureBlobConnection(Connection):
    """One container of an Azure storage account.

    Args:
        name: the connection's name.
        config: an ``AzureBlobConnectionConfig`` or a mapping with the same keys
            (``account_name``, ``container``, ``auth``, ``endpoint``).
        project_root: unused (kept for the ``build_connection`` signature).

    Raises:
        ConfigError: a malformed container or account name, endpoint or connection string.

    Example:
        >>> lake = AzureBlobConnection("lake", {"type": "azure_blob", "account_name": "acme",
        ...                                     "container": "lake"}, ".")
        >>> lake.resolve("silver/orders").uri
        'abfss://lake@acme.dfs.core.windows.net/silver/orders'
    """

    type = "azure_blob"
    native_checks = True  # pyarrow's Azure client aborts on some answers (a non-XML 403)

    def __init__(self, name: str, config: Any, project_root: str | Path = ".") -> None:
        super().__init__(name)
        self.container = str(_field(config, "container") or "")
        account = str(_field(config, "account_name") or "")
        auth = _field(config, "auth")
        self.auth_mode: str | None = _field(auth, "mode") if auth is not None else None
        endpoint = _field(config, "endpoint")
        self._options: dict[str, str] = {}
        self._secrets: list[str] = []
        if self.auth_mode == "connection_string":
            account, endpoint = self._from_connection_string(
                str(_field(auth, "connection_string") or ""), account, endpoint)
        elif self.auth_mode == "account_key":
            key = str(_field(auth, "account_key") or "").strip()
            _raise_if_bad_key(key, name, f"connections.{name}.auth.account_key")
            self._options["account_key"] = key
        elif self.auth_mode == "sas":
            sas = str(_field(auth, "sas_token") or "").strip().lstrip("?")
            self._options["sas_token"] = sas
            self._secrets += _sas_forms(sas)
        elif self.auth_mode == "aad_msi":
            client_id = _field(auth, "client_id")
            if client_id:
                self._options["client_id"] = str(client_id)
        self.account_name = account
        self._check_names()
        self.endpoint = _normalized_endpoint(endpoint, account, name) if endpoint else None
        options = {"account_name": account}
        if self.endpoint:
            options["azure_storage_endpoint"] = self.endpoint
            if self.endpoint.lower().startswith("http://"):
                options["allow_http"] = "true"
        self._options = {**options, **self._options}
        self._secrets += [v for k, v in self._options.items()
                          if k in ("account_key", "sas_token") and v]

    # ---- Connection --------------------------------------------------------------------------
    def resolve(self, path: str | None = None, *, table: str | None = None) -> ResolvedLocation:
        """The ``abfss://`` URI of ``path`` in the container (the container itself when None).

        Raises:
            ConfigError: a table name, a path leaving the container (``..``), or an absolute URI
                naming another container or account.
        """
        if table is not None:
            raise ConfigError(ConfigProblem(
                message=f"Connection '{self.name}' is an Azure container and has no tables "
                        f"(table: {table}).",
                key_path="table",
                fix="Use `path:` with an azure_blob connection (Delta tables are read by path)."))
        written = (path or "").strip().replace("\\", "/")
        inner = self._inner_path(written)
        shown = inner + ("/" if written.endswith("/") and inner else "")
        uri = f"abfss://{self.container}@{self.account_name}.dfs.core.windows.net/{inner}"
        return ResolvedLocation(connection=self.name, uri=uri, display=f"{self.name}:{shown}",
                                storage_options=dict(self._options), is_local=False)

    def storage_options(self) -> dict[str, str]:
        return dict(self._options)

    def secret_values(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(s for s in self._secrets if s))

    def diagnose(self, paths: Sequence[str]) -> list[Check]:
        """Reach the container with the credentials (one ``get_file_info``), then look for each
        path (globs allowed)."""
        where = f"container {self.container} of account {self.account_name}" + (
            f" at {self.endpoint}" if self.endpoint else "")
        location = self.resolve("")
        try:
            found = azure_blob.container_exists(location)
        except Exception as exc:  # noqa: BLE001 - a failed check, never a crash
            text = self.redact(azure_blob.clean_message(str(exc), location))
            first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
            if azure_blob.is_auth_failure(text):
                return [Check("reachable", True, where),
                        Check("authenticated", False, f"{self._auth_label()}: {first}")]
            return [Check("reachable", False, f"{where}: {first}")]
        checks = [Check("reachable", True, where),
                  Check("authenticated", True, self._auth_label())]
        if not found:
            checks.append(Check("path exists", False,
                                f"container '{self.container}' does not exist"))
            return checks
        for path in paths:
            try:
                exists = azure_blob.path_exists(self.resolve(path))
                detail = f"{self.name}:{path}" + ("" if exists else " (nothing there yet)")
            except Exception as exc:  # noqa: BLE001
                exists = False
                detail = f"{self.name}:{path}: " + self.redact(
                    azure_blob.clean_message(str(exc), location)).splitlines()[0]
            checks.append(Check("path exists", exists, detail))
        return checks

    def __repr__(self) -> str:
        return (f"AzureBlobConnection(name={self.name!r}, account={self.account_name!r}, "
                f"container={self.container!r})")

    # ---- helpers -----------------------------------------------------------------------------
    def _auth_label(self) -> str:
        return f"auth {self.auth_mode}" if self.auth_mode else "ambient credentials"

    def _inner_path(self, written: str) -> str:
        match = _URI.match(written)
        if match:
            written = self._path_of_uri(written, match.group("scheme").lower(),
                                        match.group("rest"))
        relative = written.lstrip("/")
        normal = posixpath.normpath(relative) if relative else "."
        if normal == ".." or normal.startswith("../"):
            raise self._path_error(written, "leaves the container")
        return "" if normal == "." else normal

    def _path_of_uri(self, written: str, scheme: str, rest: str) -> str:
        if scheme == "az":
            container, _, inner = rest.partition("/")
            account = None
        else:
            authority, _, inner = rest.partition("/")
            container, _, host = authority.rpartition("@")
            account = host.split(".", 1)[0]
        if container != self.container or (account and account != self.account_name):
            raise self._path_error(
                written, f"names another container or account than connection '{self.name}' "
                         f"(container {self.container}, account {self.account_name})")
        return inner

    def _path_error(self, written: str, why: str) -> ConfigError:
        return ConfigError(ConfigProblem(
            message=f"Path '{written}' on connection '{self.name}' {why}.",
            key_path="path",
            fix="Write the path relative to the container (e.g. silver/orders), or declare "
                "another connection for the other container."))

    def _check_names(self) -> None:
        problems = []
        if not _CONTAINER.match(self.container):
            problems.append(ConfigProblem(
                message=f"Connection '{self.name}': '{self.container}' is not a valid Azure "
                        "container name.",
                key_path=f"connections.{self.name}.container",
                fix="Container names have 3 to 63 characters: lowercase letters, digits and "
                    "single hyphens, starting and ending with a letter or digit."))
        if not _ACCOUNT.match(self.account_name):
            problems.append(ConfigProblem(
                message=f"Connection '{self.name}': '{self.account_name}' is not a valid "
                        "storage account name.",
                key_path=f"connections.{self.name}.account_name",
                fix="Account names have 3 to 24 lowercase letters and digits."))
        if problems:
            raise ConfigError(problems)

    def _from_connection_string(self, text: str, account: str,
                                endpoint: Any) -> tuple[str, Any]:
        self._secrets.append(text)
        parts = parse_connection_string(text, self.name)
        key_path = f"connections.{self.name}.auth.connection_string"
        if parts.get("usedevelopmentstorage", "").lower() == "true":
            parts = {"accountname": AZURITE_ACCOUNT, "accountkey": AZURITE_KEY,
                     "blobendpoint": f"http://127.0.0.1:10000/{AZURITE_ACCOUNT}", **{
                         k: v for k, v in parts.items() if k != "usedevelopmentstorage"}}
        named = parts.get("accountname")
        if named and account and named != account:
            raise ConfigError(ConfigProblem(
                message=f"Connection '{self.name}': the connection string names account "
                        f"'{named}', but account_name is '{account}'.",
                key_path=key_path, fix="Make account_name and the connection string agree."))
        account = named or account
        if parts.get("accountkey"):
            _raise_if_bad_key(parts["accountkey"], self.name, key_path, "its AccountKey")
            self._options["account_key"] = parts["accountkey"]
        elif parts.get("sharedaccesssignature"):
            sas = parts["sharedaccesssignature"].lstrip("?")
            self._options["sas_token"] = sas
            self._secrets += _sas_forms(sas)
        else:
            raise ConfigError(ConfigProblem(
                message=f"Connection '{self.name}': the connection string has neither "
                        "AccountKey nor SharedAccessSignature.",
                key_path=key_path,
                fix="Copy the connection string from the storage account's access keys (or a "
                    "SAS connection string), or use auth mode aad_msi."))
        if not endpoint:
            if parts.get("blobendpoint"):
                endpoint = parts["blobendpoint"]
            elif parts.get("endpointsuffix", "core.windows.net") != "core.windows.net" \
                    or parts.get("defaultendpointsprotocol", "https") != "https":
                endpoint = (f"{parts.get('defaultendpointsprotocol', 'https')}://{account}.blob."
                            f"{parts.get('endpointsuffix', 'core.windows.net')}")
        return account, endpoint


def parse_connection_string(text: str, name: str = "?") -> dict[str, str]:
    """The ``Key=Value;...`` pairs of an Azure storage connection string, keys lowercased.

    Raises:
        ConfigError: a part without ``=`` (the message never shows the string).
    """
    parts: dict[str, str] = {}
    for index, piece in enumerate(p.strip() for p in text.split(";")):
        if not piece:
            continue
        key, sep, value = piece.partition("=")
        if not sep or not key.strip():
            raise ConfigError(ConfigProblem(
                message=f"Connection '{name}': part {index + 1} of the connection string is not "
                        "Key=Value.",
                key_path=f"connections.{name}.auth.connection_string",
                fix="A storage connection string looks like DefaultEndpointsProtocol=https;"
                    "AccountName=...;AccountKey=...;EndpointSuffix=core.windows.net."))
        parts[key.strip().lower()] = value.strip()
    return parts


def account_key_problem(key: str, name: str, key_path: str,
                        what: str = "account_key") -> ConfigProblem | None:
    """Why ``key`` cannot be a storage account key (None when it can): keys are base64.

    The storage clients decode the key when they sign a request, and pyarrow's Azure client
    aborts the whole process (a C++ exception, no Python error) on a key that is not base64, so
    it is checked before any library sees it. The message never shows the key.
    """
    why = None
    if not key:
        why = "is empty"
    else:
        try:
            base64.b64decode(key, validate=True)
        except (binascii.Error, ValueError):
            why = "is not valid base64"
    if why is None:
        return None
    return ConfigProblem(
        message=f"Connection '{name}': {what} {why}; a storage account key is the base64 text "
                "of the storage account's access keys (88 characters ending in '==').",
        key_path=key_path,
        fix="Copy key1 or key2 from the storage account's 'Access keys' page (Azure portal, or "
            "az storage account keys list) whole, without quotes or line breaks; or use a SAS "
            "token (auth: {mode: sas, sas_token: ...}).")


def _raise_if_bad_key(key: str, name: str, key_path: str, what: str = "account_key") -> None:
    problem = account_key_problem(key, name, key_path, what)
    if problem is not None:
        raise ConfigError(problem)


def _normalized_endpoint(endpoint: Any, account: str, name: str) -> str:
    text = str(endpoint).strip().rstrip("/")
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(ConfigProblem(
            message=f"Connection '{name}': endpoint '{text}' is not an http(s) URL.",
            key_path=f"connections.{name}.endpoint",
            fix="Write the blob endpoint, e.g. http://127.0.0.1:10000/devstoreaccount1 for "
                "Azurite."))
    path = parts.path.strip("/")
    if path and path != account:
        raise ConfigError(ConfigProblem(
            message=f"Connection '{name}': the endpoint's path '/{path}' is not the account "
                    f"name '{account}'.",
            key_path=f"connections.{name}.endpoint",
            fix=f"Path-style endpoints (emulators) end with the account: "
                f"{parts.scheme}://{parts.netloc}/{account}."))
    if not path and _is_ip_or_localhost(parts.hostname):
        text = f"{parts.scheme}://{parts.netloc}/{account}"  # Azurite is path-style
    return text


def _is_ip_or_localhost(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _sas_forms(sas: str) -> list[str]:
    """The SAS token and its signature as they may appear in a message: as written, percent-
    decoded and percent-encoded (clients re-encode and reorder the query)."""
    forms = [sas, unquote(sas)]
    for key, value in parse_qsl(sas, keep_blank_values=True):
        if key == "sig" and value:
            forms += [value, quote(value, safe=""), quote(value, safe="/")]
    return [f for f in forms if len(f) >= 8]


def _field(config: Any, key: str) -> Any:
    if config is None:
        return None
    if isinstance(config, Mapping):
        return config.get(key)
    return getattr(config, key, None)
