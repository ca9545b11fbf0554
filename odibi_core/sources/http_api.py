"""``format: api``: a paginated JSON API read into one ``pyarrow.Table`` (stdlib ``urllib`` only).

What a read does (options: :class:`odibi_core.config.api_options.ApiReadOptions`):

1. Requests ``base_url`` + ``read.path`` with ``options.params`` and the pagination's parameters,
   the connection's headers and credentials (:class:`odibi_core.connections.http.HttpConnection`);
   requests start at most ``rate_limit.requests_per_second`` apart.
2. Takes the records of each page at ``records_path`` (the page itself when it is a list; a
   missing path fails on the first page and ends the read on a later one).
3. Stops when a page is empty, when there is no next cursor / ``Link: rel="next"`` / next URL,
   after ``none`` pagination's single request, or after ``max_pages`` (a warning says the read
   was cut short). An API that answers the same page or cursor twice fails the read instead of
   looping.
4. Builds the table from every record of every page at once, so a column that is null on page 1
   and an integer on page 2 is an integer column: objects become structs and lists arrays (as
   for JSON files, the same on every engine), ``nested: json`` keeps them as JSON text,
   ``schema`` declares types (``string`` accepts any value, nested ones as JSON text). A column
   null everywhere is a string column.

Errors: an HTTP status answer raises :class:`~odibi_core.errors.TransientError` when the error
taxonomy calls it transient (408, 429, 502, 503, 504) and :class:`~odibi_core.errors.DataError`
otherwise (401, 403, 404, other 4xx, 500), chained to urllib's ``HTTPError`` so that
:func:`odibi_core.error_taxonomy.classify` names the category (``http_throttled (HTTP 429)``).
Network failures (refused, reset, timeouts) are classified the same way. Nothing is retried here:
a transient failure fails the node, and the node's ``retry`` policy (Dagster's retry of the
asset, see ``odibi_dagster.retry``) runs the read again from the first page, so a retried read
never mixes pages of two attempts. ``Retry-After`` is quoted in the message. Every URL in a
message has its secrets masked (credentials, secret-named query parameters such as ``api_key``).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import re
import time
import urllib.error
from collections.abc import Iterator, Mapping, Sequence
from http.client import HTTPException
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote, urlencode, urljoin, urlsplit, urlunsplit

from odibi_core.config.api_options import (
    ApiReadOptions,
    CursorPagination,
    JsonLinkPagination,
    OffsetPagination,
    PagePagination,
)
from odibi_core.connections.http import HttpConnection, is_secret_param
from odibi_core.engines.arrow_rows import arrow_table_from_rows
from odibi_core.error_taxonomy import classify
from odibi_core.errors import ConfigError, ConfigProblem, DataError, OdibiError, TransientError
from odibi_core.storage.redaction import redact_secrets

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["read_api", "records_to_arrow"]

log = logging.getLogger(__name__)

_MISSING = object()
_SNIPPET = 200  # characters of an error response quoted in the message


def read_api(connection: Any, read: Any, *, node: str) -> pa.Table:
    """Every record ``read`` (a ``format: api`` ``ReadConfig``) gets from ``connection``.

    Raises:
        ConfigError: the connection is not an ``http`` connection.
        TransientError: throttling (429), an unavailable service (502/503/504), a timeout or a
            network failure: the node's retry policy may run the read again.
        DataError: any other HTTP error (401, 403, 404, 500, ...), a response that is not
            JSON or has no records where ``records_path`` says, a column mixing types.
    """
    if not isinstance(connection, HttpConnection):
        raise ConfigError(ConfigProblem(
            message=f"Node {node} reads format: api from connection '{connection.name}', which "
                    f"is a {getattr(connection, 'type', '?')} connection.",
            key_path="read.connection",
            fix="Read APIs through a connection of type: http (base_url, headers, auth)."))
    options = ApiReadOptions.model_validate(dict(read.options or {}))  # checked at load time
    client = _Client(connection, options, node)
    base = connection.url_for(read.path)
    records: list[dict[str, Any]] = []
    for page in _pages(client, options, base):
        records.extend(page)
    return records_to_arrow(records, options, source=client.show(base), node=node)


# ---- requests --------------------------------------------------------------------------------
class _Client:
    """One read's requests: rate limit, credentials, JSON parsing and error translation."""

    def __init__(self, connection: HttpConnection, options: ApiReadOptions, node: str) -> None:
        self.connection = connection
        self.options = options
        self.node = node
        rate = options.rate_limit
        self.interval = 1.0 / rate.requests_per_second if rate is not None else 0.0
        self.last_start: float | None = None
        self.requests = 0
        # Values of secret-named query parameters are secrets too, wherever they show up
        # (shorter ones would mask ordinary words; URLs mask them by name anyway).
        self.secrets = (*connection.secret_values(), *(
            str(v) for name, value in options.params.items() if is_secret_param(name)
            for v in (value if isinstance(value, list) else [value]) if len(str(v)) >= 4))

    def show(self, url: str) -> str:
        """``url`` safe for a message."""
        return redact_secrets(self.connection.mask_url(url), self.secrets)

    def redact(self, text: str) -> str:
        return redact_secrets(text, self.secrets)

    def fetch(self, url: str, page: int) -> tuple[Mapping[str, str], Any, bytes]:
        """(headers, parsed JSON, raw body) of one request; raises odibi errors."""
        self._wait()
        options = self.options
        data = None
        headers: dict[str, str] = {}
        if options.method == "POST":
            data = json.dumps(options.body if options.body is not None else {}).encode("utf-8")
            headers["Content-Type"] = "application/json"
        self.requests += 1
        try:
            with self.connection.open(url, method=options.method, data=data, headers=headers,
                                      timeout=options.timeout_seconds) as response:
                raw = response.read()
                answer_headers = response.headers
        except urllib.error.HTTPError as exc:
            raise self._status_error(exc, url, page) from exc
        except (urllib.error.URLError, OSError, HTTPException) as exc:
            raise self._network_error(exc, url, page) from exc
        return answer_headers, self._parse(raw, url, page, answer_headers), raw

    def _wait(self) -> None:
        if self.interval and self.last_start is not None:
            delay = self.last_start + self.interval - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        self.last_start = time.monotonic()

    def _parse(self, raw: bytes, url: str, page: int, headers: Mapping[str, str]) -> Any:
        if not raw.strip():
            return None  # 204 / an empty body: an empty page
        try:
            return json.loads(raw)
        except (ValueError, RecursionError) as exc:
            kind = headers.get("Content-Type") or "no content type"
            raise DataError(
                f"{self.options.method} {self.show(url)} (page {page}) did not answer JSON "
                f"({kind}; {exc}): {self._snippet(raw)}",
                fix="Check read.path and the connection's base_url: format: api reads JSON "
                    "APIs.", node=self.node) from None

    def _snippet(self, raw: bytes) -> str:
        text = " ".join(raw.decode("utf-8", errors="replace").split())
        text = self.redact(text)
        return text[:_SNIPPET] + ("..." if len(text) > _SNIPPET else "")

    def _status_error(self, exc: urllib.error.HTTPError, url: str, page: int) -> OdibiError:
        try:
            body = exc.read(4096) or b""
        except Exception:  # noqa: BLE001 - the body is only quoted
            body = b""
        finally:
            exc.close()
        # The error is chained to ``exc``, whose text (Dagster stores it with the failure) holds
        # the reason phrase: an API may echo a credential there.
        exc.msg = self.redact(str(exc.msg or ""))
        verdict = classify(exc)
        reason = f" {exc.reason}" if exc.reason else ""
        message = (f"{self.options.method} {self.show(url)} answered HTTP {exc.code}{reason} "
                   f"(page {page}).")
        retry_after = (exc.headers.get("Retry-After") if exc.headers is not None else None)
        if retry_after:
            wait = retry_after.strip()
            message += f" The API asked to wait {wait}{' s' if wait.isdigit() else ''} " \
                       "(Retry-After) before trying again."
        snippet = self._snippet(body)
        if snippet:
            message += f" Response: {snippet}"
        kind = TransientError if verdict.transient else DataError
        return kind(self.redact(message), fix=self._status_fix(exc.code, verdict.transient),
                    node=self.node)

    def _status_fix(self, status: int, transient: bool) -> str:
        name = self.connection.name
        if transient:
            return ("The API is throttling or unavailable: the node is retried as the project's "
                    "retry block allows (retry: {max_attempts: N, initial_delay: seconds}); "
                    "options.rate_limit.requests_per_second makes the read ask less often.")
        if status == 401:
            return (f"Check the credentials of connection '{name}' (connections.{name}.auth); "
                    "odibi doctor tests them.")
        if status == 403:
            return (f"The credentials of connection '{name}' are not allowed to read this "
                    "endpoint: check their permissions or scopes.")
        if status in (404, 410):
            return (f"Check read.path and the base_url of connection '{name}'; odibi doctor "
                    "checks that the path exists.")
        if status >= 500:
            return ("The API failed on this request (an HTTP 500 is not retried: it usually "
                    "means the request itself breaks the server). Check the request or ask the "
                    "API's owners.")
        return "The API refused the request: check read.options (params, method, body, " \
               "pagination)."

    def _network_error(self, exc: BaseException, url: str, page: int) -> OdibiError:
        verdict = classify(exc)
        reason = getattr(exc, "reason", None) or exc
        text = str(reason) or type(reason).__name__
        message = (f"{self.options.method} {self.show(url)} (page {page}) failed: "
                   f"{type(reason).__name__}: {text} [{verdict}].")
        if verdict.transient:
            return TransientError(self.redact(message), node=self.node, fix=(
                "The API could not be reached or did not answer in time "
                f"(timeout_seconds: {self.options.timeout_seconds:g}); the node is retried as "
                "the project's retry block allows."))
        return DataError(self.redact(message), node=self.node, fix=(
            f"Check the base_url of connection '{self.connection.name}' (odibi doctor tests "
            "it)."))

    # ---- records -----------------------------------------------------------------------
    def records(self, document: Any, url: str, page: int) -> list[dict[str, Any]]:
        path = self.options.records_path
        if path is None:
            if document is None:
                return []
            if not isinstance(document, list):
                raise DataError(
                    f"The response of {self.show(url)} (page {page}) is a JSON "
                    f"{_json_kind(document)}, not a list of records.",
                    fix="Set read.options.records_path to where the records are"
                        + _list_hint(document) + ".", node=self.node)
            items = document
        else:
            found = _lookup(document, path)
            if found is _MISSING:
                if page > 1:  # some APIs leave the key out of the last page
                    return []
                raise DataError(
                    f"The response of {self.show(url)} (page {page}) has nothing at "
                    f"records_path '{path}'.",
                    fix="Set read.options.records_path to where the records are"
                        + _list_hint(document) + ".", node=self.node)
            items = [] if found is None else [found] if isinstance(found, dict) else found
            if not isinstance(items, list):
                raise DataError(
                    f"records_path '{path}' of {self.show(url)} (page {page}) holds a JSON "
                    f"{_json_kind(found)}, not a list of records.",
                    fix="Point records_path at a list of objects.", node=self.node)
        for index, item in enumerate(items):
            if not isinstance(item, dict):
                raise DataError(
                    f"Record {index} of {self.show(url)} (page {page}) is a JSON "
                    f"{_json_kind(item)}, not an object.",
                    fix="Point records_path at a list of objects (one per row).", node=self.node)
        return items


# ---- pagination ------------------------------------------------------------------------------
def _pages(client: _Client, options: ApiReadOptions, base: str) -> Iterator[list[dict[str, Any]]]:
    """The records of each page, in order (see the module docstring for when it stops)."""
    pagination = options.pagination
    size = options.size
    size_param = getattr(pagination, "page_size_param", None)
    sized = {size_param: size} if size_param and size is not None else {}
    offset = pagination.start_offset if isinstance(pagination, OffsetPagination) else 0
    number = pagination.start_page if isinstance(pagination, PagePagination) else 1
    cursor: Any = None
    next_url: str | None = None
    seen: set[str] = set()
    previous: bytes | None = None
    for page in itertools.count(1):
        if options.max_pages is not None and page > options.max_pages:
            log.warning("%s: stopped after max_pages=%d pages of %s; more pages were available.",
                        client.node, options.max_pages, client.show(base))
            return
        if isinstance(pagination, OffsetPagination):
            url = _with_query(base, {**options.params, pagination.offset_param: offset,
                                     pagination.limit_param: size})
        elif isinstance(pagination, PagePagination):
            url = _with_query(base, {**options.params, pagination.page_param: number, **sized})
        elif isinstance(pagination, CursorPagination):
            extra = {pagination.cursor_param: cursor} if cursor is not None else {}
            url = _with_query(base, {**options.params, **sized, **extra})
        else:  # none, link_header, json_link: the next URL is given by the API
            url = next_url or _with_query(base, {**options.params, **sized})
        headers, document, raw = client.fetch(url, page)
        records = client.records(document, url, page)
        if isinstance(pagination, (OffsetPagination, PagePagination)) and records:
            digest = hashlib.sha256(raw).digest()
            if digest == previous:
                param = (pagination.offset_param if isinstance(pagination, OffsetPagination)
                         else pagination.page_param)
                raise DataError(
                    f"{client.show(url)} (page {page}) answered the same records as the page "
                    f"before: the API seems to ignore the query parameter '{param}'.",
                    fix="Check the pagination parameter names against the API's documentation, "
                        "or set max_pages.", node=client.node)
            previous = digest
        yield records
        if pagination.type == "none" or not records:
            return
        if isinstance(pagination, OffsetPagination):
            offset += len(records)  # not + limit: an API that caps the limit loses nothing
        elif isinstance(pagination, PagePagination):
            number += 1
        elif isinstance(pagination, CursorPagination):
            value = _lookup(document, pagination.cursor_path)
            if value is _MISSING or value is None or value == "":
                return
            if isinstance(value, (dict, list)):
                raise DataError(
                    f"cursor_path '{pagination.cursor_path}' of {client.show(url)} (page "
                    f"{page}) holds a JSON {_json_kind(value)}, not a cursor.",
                    fix="Point cursor_path at the next page's cursor (a text or a number).",
                    node=client.node)
            key = json.dumps(value)
            if key in seen:
                raise DataError(
                    f"{client.show(url)} (page {page}) answered a cursor it had answered before:"
                    " reading on would loop.",
                    fix="Check cursor_path and cursor_param against the API's documentation.",
                    node=client.node)
            seen.add(key)
            cursor = value
        else:
            if isinstance(pagination, JsonLinkPagination):
                link = _lookup(document, pagination.next_url_path)
                link = None if link is _MISSING or link in (None, "") else str(link)
            else:
                link = _next_link(headers)
            if link is None:
                return
            absolute = urljoin(url, link)
            if absolute in seen or absolute == url:
                raise DataError(
                    f"{client.show(url)} (page {page}) links to a page already read: reading on "
                    "would loop.", fix="Check the pagination type against the API.",
                    node=client.node)
            seen.add(absolute)
            next_url = absolute


_LINK = re.compile(r'<([^>]*)>((?:\s*;\s*[^;,"=\s]+\s*(?:=\s*(?:"[^"]*"|[^;,]*))?)*)')
_REL = re.compile(r'(?:^|;)\s*rel\s*=\s*(?:"([^"]*)"|([^;,\s]+))', re.IGNORECASE)


def _next_link(headers: Any) -> str | None:
    """The ``rel="next"`` target of the response's ``Link`` headers (RFC 8288), if any."""
    values = headers.get_all("Link") if hasattr(headers, "get_all") else [headers.get("Link")]
    for value in values or ():
        for match in _LINK.finditer(value or ""):
            for rel in _REL.finditer(match.group(2)):
                if "next" in (rel.group(1) or rel.group(2) or "").lower().split():
                    return match.group(1).strip()
    return None


def _with_query(url: str, params: Mapping[str, Any]) -> str:
    """``url`` with ``params`` in its query string (replacing same-named parameters already
    there); booleans as ``true``/``false``, lists as the parameter repeated, None left out."""
    parts = urlsplit(url)
    names = {str(name) for name in params}
    kept = [pair for pair in parts.query.split("&")
            if pair and unquote(pair.split("=", 1)[0]) not in names]
    pairs = [(str(name), _param_text(item)) for name, value in params.items()
             for item in (value if isinstance(value, list) else [value]) if item is not None]
    query = "&".join([*kept, urlencode(pairs, quote_via=quote)] if pairs else kept)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def _param_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _lookup(document: Any, dotted: str) -> Any:
    """The value at ``dotted`` (``data.items``, ``results.0.rows``) or ``_MISSING``."""
    current = document
    for part in dotted.split("."):
        if isinstance(current, dict):
            if part not in current:
                return _MISSING
            current = current[part]
        elif isinstance(current, list) and part.lstrip("-").isdigit():
            index = int(part)
            if not -len(current) <= index < len(current):
                return _MISSING
            current = current[index]
        else:
            return _MISSING
    return current


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    return {dict: "object", list: "array", str: "string"}.get(type(value), "number")


def _list_hint(document: Any, prefix: str = "") -> str:
    """``" (lists found at: data.items)"`` for the lists of objects in ``document``."""
    found: list[str] = []

    def walk(value: Any, path: str, depth: int) -> None:
        if isinstance(value, list) and path:
            found.append(path)
        elif isinstance(value, dict) and depth < 4:
            for key, item in value.items():
                walk(item, f"{path}.{key}" if path else str(key), depth + 1)

    walk(document, prefix, 0)
    if found:
        return " (lists found at: " + ", ".join(found[:5]) + ")"
    if isinstance(document, dict):
        return " (the response's keys: " + ", ".join(map(str, list(document)[:10])) + ")"
    return ""


# ---- records -> Arrow ------------------------------------------------------------------------
def records_to_arrow(records: Sequence[Mapping[str, Any]], options: ApiReadOptions, *,
                     source: str = "the API", node: str | None = None) -> pa.Table:
    """The records of every page as one table (see the module docstring for the typing).

    Raises:
        DataError: a column mixes types (or a value does not fit a declared type).
    """
    declared = dict(options.column_types)
    as_text = {name for name, logical in declared.items() if logical == "string"}
    rows: Sequence[Mapping[str, Any]] = records
    if as_text or options.nested == "json":
        rows = [{name: _json_text(value) if name in as_text or (
                    options.nested == "json" and isinstance(value, (dict, list))) else value
                 for name, value in record.items()} for record in records]
    try:
        table = arrow_table_from_rows(rows, declared or None)
    except DataError as exc:
        raise DataError(
            f"Records of {source}: {exc.message}",
            fix="Declare the column in read.options.schema (string keeps any value as text), "
                "or read nested values as JSON text with read.options.nested: json.",
            node=node) from exc
    return _without_null_types(table)


def _json_text(value: Any) -> Any:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _without_null_types(table: pa.Table) -> pa.Table:
    """``table`` with the null-typed fields inside structs and lists made strings (a nested key
    that is null in every record): engines and Delta do not all store a null type."""
    import pyarrow as pa

    def fix(dtype: pa.DataType) -> pa.DataType:
        if pa.types.is_null(dtype):
            return pa.string()
        if pa.types.is_struct(dtype):
            return pa.struct([field.with_type(fix(field.type)) for field in dtype])
        if pa.types.is_list(dtype) or pa.types.is_large_list(dtype):
            return pa.list_(dtype.value_field.with_type(fix(dtype.value_type)))
        return dtype

    schema = pa.schema([field.with_type(fix(field.type)) for field in table.schema])
    return table if schema.equals(table.schema) else table.cast(schema)
