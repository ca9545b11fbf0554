"""HTTP connections (``type: http``): a JSON API's base URL, headers and credentials (SPEC §2).

A node's ``path`` is appended to ``base_url`` (``https://crm.example.com/api`` + ``/contacts``);
``format: api`` reads (:mod:`odibi_core.sources.http_api`) page through it. Credentials:

- ``auth: {mode: bearer, token}``: ``Authorization: Bearer <token>``;
- ``auth: {mode: basic, username, password}``: ``Authorization: Basic <base64(user:password)>``;
- ``auth: {mode: api_key, api_key, header}``: the key in a header (``X-API-Key`` by default);
- ``user:password@`` in ``base_url``: basic auth, as curl and requests do. The user info is taken
  out of the URL (urllib would send it to the host name lookup, password and all); with an
  ``auth`` block as well the connection is refused.

Credentials (the auth header and any ``headers`` entry named like a secret, ``Authorization``,
``Cookie``) are sent only to the origin (scheme, host, port) of ``base_url``: a redirect or a
pagination link to another host gets the plain headers only. Every value a message could leak is
in :meth:`HttpConnection.secret_values`, and :meth:`HttpConnection.mask_url` shows a URL with its
password and secret-named query parameters (``api_key``, ``token``, ``sig``, ...) as ``***``.
"""

from __future__ import annotations

import base64
import re
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from http.client import HTTPException
from pathlib import Path
from typing import Any
from urllib.parse import SplitResult, unquote, urlsplit, urlunsplit

from odibi_core.connections.base import Check, Connection
from odibi_core.errors import ConfigError, ConfigProblem
from odibi_core.storage.locations import ResolvedLocation
from odibi_core.storage.redaction import is_secret_option, redact_secrets

__all__ = ["HttpConnection", "is_secret_param"]

DIAGNOSE_TIMEOUT = 10.0
_SECRET_HEADERS = {"authorization", "proxy-authorization", "cookie"}
# Query parameter names that carry credentials beyond what ``is_secret_option`` knows.
_SECRET_PARAMS = {"sig", "auth", "pwd", "passwd", "pass", "session", "sessionid"}
_DEFAULT_PORTS = {"http": 80, "https": 443}


def is_secret_param(name: str) -> bool:
    """True when a query parameter (or header) named ``name`` carries a credential
    (``api_key``, ``access_token``, ``sig``, ``password``, ...)."""
    lowered = name.strip().lower()
    return is_secret_option(lowered) or lowered in _SECRET_PARAMS or lowered in _SECRET_HEADERS


class HttpConnection(Connection):
    """A JSON API reached over HTTP(S).

    Args:
        name: the connection's name.
        config: an ``HttpConnectionConfig`` or a mapping with ``base_url``, ``headers`` and
            ``auth`` (``{mode: bearer|basic|api_key, ...}``).
        project_root: the folder of the project file (unused: URLs are absolute).

    Raises:
        ConfigError: ``base_url`` is not an absolute http(s) URL, ``auth`` is incomplete, or
            credentials are both in ``base_url`` and in ``auth``.

    Example:
        >>> api = HttpConnection("crm", {"type": "http", "base_url": "https://crm.example/api",
        ...                              "auth": {"mode": "bearer", "token": "s3cret-token"}}, ".")
        >>> api.resolve("contacts").uri
        'https://crm.example/api/contacts'
        >>> api.redact("Authorization: Bearer s3cret-token")
        'Authorization: ***'
    """

    type = "http"

    def __init__(self, name: str, config: Any, project_root: str | Path = ".") -> None:
        super().__init__(name)
        self.project_root = Path(project_root)
        self.base_url = str(_field(config, "base_url") or "").strip()
        parts = urlsplit(self.base_url)
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            raise ConfigError(ConfigProblem(
                message=f"Connection '{name}': base_url must be an absolute http(s) URL, got "
                        f"'{_mask(self.base_url, ())}'.",
                key_path=f"connections.{name}.base_url",
                fix="Write it as https://host[:port]/prefix, e.g. https://api.example.com/v1."))
        self.headers: dict[str, str] = {
            str(k): str(v) for k, v in (_field(config, "headers") or {}).items()}
        self.auth = _field(config, "auth")
        self._url_secrets: tuple[str, ...] = ()
        if parts.username is not None or parts.password is not None:
            self._take_userinfo(parts)
        self._auth_headers = self._build_auth_headers()
        self._origin = _origin(self.base_url)

    def _take_userinfo(self, parts: SplitResult) -> None:
        """``user:password@`` of ``base_url`` becomes HTTP basic auth (as curl and requests do);
        the URL keeps only the host, so the credentials never reach a host name lookup."""
        if self.auth is not None:
            raise ConfigError(ConfigProblem(
                message=f"Connection '{self.name}' has credentials both in base_url "
                        f"('{_mask(self.base_url, ())}') and in auth.",
                key_path=f"connections.{self.name}.base_url",
                fix="Keep one: remove user:password@ from base_url, or remove auth (the user "
                    "info of base_url is sent as HTTP basic auth). Best: auth: {mode: basic, "
                    "username: ..., password: \"${API_PASSWORD}\"} with base_url holding no "
                    "credentials."))
        self.auth = {"mode": "basic", "username": unquote(parts.username or ""),
                     "password": unquote(parts.password or "")}
        self._url_secrets = tuple(v for v in (parts.password,) if v)
        self.base_url = _without_userinfo(parts)

    # ---- addressing ---------------------------------------------------------------------
    def url_for(self, path: str | None = None) -> str:
        """``base_url`` with ``path`` appended (its query string, if any, kept after the base's).

        Raises:
            ConfigError: ``path`` is an absolute URL (it must be below ``base_url``).
        """
        written = (path or "").strip()
        extra = urlsplit(written)
        if extra.scheme or extra.netloc:
            raise ConfigError(ConfigProblem(
                message=f"An api read's path is appended to the base_url of connection "
                        f"'{self.name}'; '{_mask(written, self.secret_values())}' is a full URL.",
                key_path="path",
                fix="Write the part below base_url (e.g. /contacts), or make a connection whose "
                    "base_url is that host."))
        base = urlsplit(self.base_url)
        joined = base.path
        if extra.path:
            joined = base.path.rstrip("/") + "/" + extra.path.lstrip("/")
        query = "&".join(q for q in (base.query, extra.query) if q)
        return urlunsplit((base.scheme, base.netloc, joined, query, ""))

    def resolve(self, path: str | None = None, *, table: str | None = None) -> ResolvedLocation:
        """The URL of ``path`` below ``base_url``; ``display`` is that URL with every secret
        masked (``uri`` may hold a secret written into ``base_url``: never print it)."""
        if table is not None:
            raise ConfigError(ConfigProblem(
                message=f"Connection '{self.name}' is an HTTP API and has no tables "
                        f"(table: {table}).",
                key_path="table",
                fix="Use format: api with path: (the endpoint below base_url)."))
        url = self.url_for(path)
        return ResolvedLocation(connection=self.name, uri=url, display=self.mask_url(url),
                                storage_options={}, is_local=False)

    def mask_url(self, url: str) -> str:
        """``url`` safe to print: the password of its user info, the values of secret-named
        query parameters and every secret of this connection replaced by ``***``."""
        return _mask(url, self.secret_values())

    # ---- credentials --------------------------------------------------------------------
    def request_headers(self, url: str | None = None) -> dict[str, str]:
        """The headers of a request to ``url`` (``base_url`` when None): ``Accept``, the
        connection's ``headers`` and the auth header. Credentials only go to ``base_url``'s
        origin."""
        headers = {"Accept": "application/json", "User-Agent": "odibi-http/1"}
        same_origin = url is None or _origin(url) == self._origin
        for name, value in self.headers.items():
            if same_origin or not is_secret_param(name):
                headers[name] = value
        if same_origin:
            headers.update(self._auth_headers)
        return headers

    def secret_values(self) -> tuple[str, ...]:
        """The token / password / API key, the ``Authorization`` values built from them (the
        basic-auth base64 included), secret-named header values, and the password and
        secret-named query parameters of ``base_url``."""
        found: list[str] = []
        for name in ("token", "password", "api_key"):
            value = _field(self.auth, name) if self.auth is not None else None
            if value:
                found.append(str(value))
        for name, value in [*self._auth_headers.items(), *self.headers.items()]:
            if not is_secret_param(name) or not value:
                continue
            found.append(value)
            scheme, _, credential = value.partition(" ")
            if credential and scheme.isalpha():  # "Bearer xyz" / "Basic eHl6": the credential too
                found.append(credential.strip())
        found.extend(self._url_secrets)
        parts = urlsplit(self.base_url)
        for name, value in _query_pairs(parts.query):
            if value and is_secret_param(unquote(name)):
                found.extend((value, unquote(value)))
        return tuple(dict.fromkeys(v for v in found if v))

    def _build_auth_headers(self) -> dict[str, str]:
        if self.auth is None:
            return {}
        mode = _field(self.auth, "mode")
        key = f"connections.{self.name}.auth"
        if mode == "bearer":
            return {"Authorization": f"Bearer {_required(self.auth, 'token', key)}"}
        if mode == "basic" and self._url_secrets:  # from base_url: an empty password is valid
            return {"Authorization": _basic(self.auth["username"], self.auth["password"])}
        if mode == "basic":
            user = _required(self.auth, "username", key)
            return {"Authorization": _basic(user, _required(self.auth, "password", key))}
        if mode == "api_key":
            header = str(_field(self.auth, "header") or "X-API-Key")
            return {header: _required(self.auth, "api_key", key)}
        raise ConfigError(ConfigProblem(
            message=f"Connection '{self.name}': unknown auth mode '{mode}'.",
            key_path=f"{key}.mode", fix="Use one of: bearer, basic, api_key."))

    # ---- requests -----------------------------------------------------------------------
    def open(self, url: str, *, method: str = "GET", data: bytes | None = None,
             headers: Mapping[str, str] | None = None, timeout: float = 30.0) -> Any:
        """Send one request (redirects followed; credentials kept only while the redirect
        stays on ``base_url``'s origin) and return the open response.

        Raises:
            urllib.error.HTTPError: the API answered with a status >= 400 (read and close it).
            urllib.error.URLError / OSError / http.client.HTTPException: no usable answer.
        """
        parts = urlsplit(url)
        sent = {**self.request_headers(url), **(headers or {})}
        if parts.username is not None or parts.password is not None:  # a link the API gave
            url = _without_userinfo(parts)  # never part of the host name
            sent.setdefault("Authorization", _basic(unquote(parts.username or ""),
                                                    unquote(parts.password or "")))
        request = urllib.request.Request(url, data=data, method=method)
        for name, value in sent.items():
            request.add_unredirected_header(name, value)  # redirects: see _Redirect
        opener = urllib.request.build_opener(_Redirect(self))
        return opener.open(request, timeout=timeout)

    def diagnose(self, paths: Sequence[str]) -> list[Check]:
        """One GET per path (``base_url`` itself when no node reads a path): reachable (any
        HTTP answer), authenticated (no 401/403; not tested without ``auth``), path exists (not
        404/410). Details show masked URLs and statuses only."""
        targets = [(path, self.url_for(path)) for path in paths] or [(None, self.url_for())]
        answers: list[tuple[str | None, str, int | None, str]] = []
        for path, url in targets:
            answers.append((path, url, *self._probe(url)))
        reached = [a for a in answers if a[2] is not None]
        first = answers[0]
        if reached:
            _, url, status, reason = reached[0]
            reachable = Check("reachable", True,
                              f"HTTP {status} {reason} from {self.mask_url(url)}".strip())
        else:
            reachable = Check("reachable", False, f"{self.mask_url(first[1])}: {first[3]}")
        denied = [a for a in reached if a[2] in (401, 403)]
        if not reached:
            authenticated = Check("authenticated", None, "not tested: the API did not answer")
        elif denied:
            _, url, status, reason = denied[0]
            authenticated = Check("authenticated", False, f"HTTP {status} {reason} from "
                                  f"{self.mask_url(url)}: check connections.{self.name}.auth")
        elif self.auth is None and not any(is_secret_param(h) for h in self.headers):
            authenticated = Check("authenticated", None, "no credentials configured")
        else:
            authenticated = Check("authenticated", True,
                                  f"{_field(self.auth, 'mode') or 'header'} credentials accepted")
        checks = [reachable, authenticated]
        for path, url, status, reason in answers:
            if path is None:
                continue
            shown = f"{self.name}:{path}"
            if status is None:
                checks.append(Check("path exists", None, f"{shown}: not tested ({reason})"))
            elif status in (401, 403):
                checks.append(Check("path exists", None, f"{shown}: not tested (HTTP {status})"))
            elif status in (404, 410):
                checks.append(Check("path exists", False, f"{shown}: HTTP {status} {reason}"))
            else:
                checks.append(Check("path exists", status < 400,
                                    f"{shown}: HTTP {status} {reason}".strip()))
        return checks

    def _probe(self, url: str) -> tuple[int | None, str]:
        """(status, reason) of a GET to ``url``; (None, what went wrong) without an answer."""
        try:
            with self.open(url, timeout=DIAGNOSE_TIMEOUT) as response:
                response.read(65536)
                return response.status, str(response.reason or "")
        except urllib.error.HTTPError as exc:
            exc.close()
            return exc.code, str(exc.reason or "")
        except (urllib.error.URLError, OSError, HTTPException) as exc:
            reason = getattr(exc, "reason", None) or exc
            return None, self.redact(f"{type(reason).__name__}: {reason}")

    def __repr__(self) -> str:
        return f"HttpConnection(name={self.name!r}, base_url={self.mask_url(self.base_url)!r})"


class _Redirect(urllib.request.HTTPRedirectHandler):
    """urllib's redirects, with the connection's credentials re-added only on its origin (urllib
    would forward ordinary headers to any host, and drop unredirected ones everywhere)."""

    def __init__(self, connection: HttpConnection) -> None:
        self.connection = connection

    def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any,
                         newurl: str) -> Any:
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None:
            for name, value in self.connection.request_headers(newurl).items():
                new.add_unredirected_header(name, value)
        return new


# ---- helpers -------------------------------------------------------------------------------
def _field(config: Any, key: str) -> Any:
    if config is None:
        return None
    if isinstance(config, Mapping):
        return config.get(key)
    return getattr(config, key, None)


def _required(auth: Any, key: str, where: str) -> str:
    value = _field(auth, key)
    if value is None or value == "":
        raise ConfigError(ConfigProblem(
            message=f"auth mode {_field(auth, 'mode')} needs {key}.", key_path=f"{where}.{key}",
            fix=f"Add {key}: (from the environment: {key}: \"${{MY_{key.upper()}}}\")."))
    return str(value)


def _basic(user: str, password: str) -> str:
    """The ``Authorization`` value of HTTP basic auth."""
    pair = base64.b64encode(f"{user}:{password}".encode("utf-8")).decode("ascii")
    return f"Basic {pair}"


def _without_userinfo(parts: SplitResult) -> str:
    """The URL of ``parts`` without ``user:password@``."""
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    return scheme, (parts.hostname or "").lower(), port or _DEFAULT_PORTS.get(scheme)


_PAIR = re.compile(r"([^&=]*)(=?)([^&]*)")


def _query_pairs(query: str) -> list[tuple[str, str]]:
    return [(m.group(1), m.group(3)) for part in query.split("&") if part
            for m in [_PAIR.fullmatch(part)] if m]


def _mask(url: str, secrets: Sequence[str]) -> str:
    """``url`` with its user-info password, secret-named query values and ``secrets`` masked."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return redact_secrets(url, secrets)
    netloc = parts.netloc
    if parts.password:
        userinfo, _, host = netloc.rpartition("@")
        user = userinfo.partition(":")[0]
        netloc = f"{user}:***@{host}"
    query = "&".join(
        f"{name}=***" if value and is_secret_param(unquote(name)) else
        (f"{name}={value}" if eq else name)
        for part in parts.query.split("&") if part
        for m in [_PAIR.fullmatch(part)] if m
        for name, eq, value in [m.groups()])
    masked = urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
    return redact_secrets(masked, secrets)
