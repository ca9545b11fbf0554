"""``read.options`` of a ``format: api`` read (an HTTP JSON API): checked before anything runs.

The names follow what users of dlt's REST API source, Airbyte's declarative connectors and Singer
taps write::

    read:
      connection: crm_api            # type: http (base_url, headers, auth)
      format: api
      path: /contacts                # below base_url
      options:
        records_path: data.items     # where the records are in each JSON page
        params: {status: active}     # query parameters of every request
        pagination: {type: cursor, cursor_param: after, cursor_path: paging.next,
                     page_size_param: limit}
        page_size: 100               # sent as ?limit=100
        max_pages: 1000              # safety cap
        rate_limit: {requests_per_second: 5}
        timeout_seconds: 30
        schema: {updated_at: timestamp}
        nested: struct               # struct | json

:class:`ApiReadOptions` is the typed form; :func:`check_api_options` runs at load time and turns
the first problem into a ``config_error`` whose key (``options.pagination.cursor_path``) points at
the line, with the nearest valid key for a misspelt one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import (
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from odibi_core.config.base import OdibiModel, config_error
from odibi_core.config.model_errors import describe_error, walk_loc
from odibi_core.config.yaml_source import format_key_path
from odibi_core.storage.logical_types import parse_logical_type

__all__ = [
    "ApiReadOptions",
    "CursorPagination",
    "JsonLinkPagination",
    "LinkHeaderPagination",
    "NoPagination",
    "OffsetPagination",
    "PagePagination",
    "Pagination",
    "RateLimit",
    "api_read_options",
    "check_api_options",
]

PositiveInt = Annotated[int, Field(gt=0)]


def _check_dotted(value: str | None) -> str | None:
    if value is None:
        return value
    if not value.strip() or any(not part.strip() for part in value.split(".")):
        raise config_error(
            f"'{value}' is not a path into the JSON response.",
            fix="Write the keys from the top of the response, separated by dots, e.g. "
                "data.items (a number picks a list item: results.0.rows).")
    return value.strip()


class _SizedPagination(OdibiModel):
    """Pagination that may send a page size: ``page_size`` records in the query parameter
    ``page_size_param`` (both or neither; a top-level ``options.page_size`` fills in the size).
    Subclasses declare the two fields last, so that ``type`` comes first in messages."""


class NoPagination(OdibiModel):
    """``type: none`` (the default): one request; the response holds every record."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"type": "none"},
    ]})

    type: Literal["none"]
    """One request; the response holds every record."""


class OffsetPagination(OdibiModel):
    """``type: offset``: ``?offset=0&limit=100``, then ``offset=100``, ... until a page comes
    back empty.

    ``offset_param`` / ``limit_param`` name the query parameters (default ``offset`` and
    ``limit``); ``limit`` is the page size asked for (or ``options.page_size``). The next offset
    adds the number of records received, so an API that caps the limit loses nothing.
    """

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"type": "offset", "limit": 100},
    ]})

    type: Literal["offset"]
    """?offset=0&limit=100, then offset=100, ... until a page comes back empty."""
    offset_param: str = "offset"
    """The query parameter of the offset."""
    limit_param: str = "limit"
    """The query parameter of the page size."""
    limit: PositiveInt | None = None
    """The page size asked for; or options.page_size."""
    start_offset: Annotated[int, Field(ge=0)] = 0
    """The offset of the first request."""


class PagePagination(_SizedPagination):
    """``type: page``: ``?page=1``, ``?page=2``, ... until a page comes back empty.

    ``page_param`` names the page number's query parameter (default ``page``), ``start_page``
    is the first number (default 1); ``page_size_param`` + ``page_size`` (e.g. ``per_page`` and
    100) ask for a page size.
    """

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"type": "page", "page_size_param": "per_page", "page_size": 100},
    ]})

    type: Literal["page"]
    """?page=1, ?page=2, ... until a page comes back empty."""
    page_param: str = "page"
    """The query parameter of the page number."""
    start_page: int = 1
    """The first page number."""
    page_size_param: str | None = None
    """The query parameter of the page size (e.g. per_page); with page_size."""
    page_size: PositiveInt | None = None
    """Records per page; or options.page_size."""


class CursorPagination(_SizedPagination):
    """``type: cursor``: the response says where the next page starts; that value is sent back
    in ``cursor_param`` (default ``cursor``). ``cursor_path`` is where it is in the response
    (dotted, e.g. ``meta.next_cursor``). Reading stops when it is missing, null or empty, or a
    page comes back empty."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"type": "cursor", "cursor_path": "meta.next_cursor", "cursor_param": "cursor"},
    ]})

    type: Literal["cursor"]
    """The response says where the next page starts; that value is sent back."""
    cursor_path: str
    """Where the next cursor is in the response, dotted (meta.next_cursor); reading stops when it
    is missing, null or empty."""
    cursor_param: str = "cursor"
    """The query parameter the cursor is sent in."""
    page_size_param: str | None = None
    """The query parameter of the page size; with page_size."""
    page_size: PositiveInt | None = None
    """Records per page; or options.page_size."""

    @field_validator("cursor_path")
    @classmethod
    def _dotted(cls, value: str) -> str | None:
        return _check_dotted(value)


class LinkHeaderPagination(_SizedPagination):
    """``type: link_header``: follow the ``Link: <url>; rel="next"`` response header (RFC 8288,
    formerly 5988; GitHub style) until there is none. The next URL is requested as given (it
    carries the query parameters)."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"type": "link_header"},
    ]})

    type: Literal["link_header"]
    """Follow the Link: <url>; rel="next" response header until there is none."""
    page_size_param: str | None = None
    """The query parameter of the page size; with page_size."""
    page_size: PositiveInt | None = None
    """Records per page; or options.page_size."""


class JsonLinkPagination(_SizedPagination):
    """``type: json_link``: follow the next page's URL found in the response body at
    ``next_url_path`` (e.g. ``next`` or ``links.next``) until it is missing or null."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"type": "json_link", "next_url_path": "links.next"},
    ]})

    type: Literal["json_link"]
    """Follow the next page's URL found in the response body."""
    next_url_path: str
    """Where the next URL is in the response, dotted (links.next); reading stops when it is missing
    or null."""
    page_size_param: str | None = None
    """The query parameter of the page size; with page_size."""
    page_size: PositiveInt | None = None
    """Records per page; or options.page_size."""

    @field_validator("next_url_path")
    @classmethod
    def _dotted(cls, value: str) -> str | None:
        return _check_dotted(value)


Pagination = Annotated[
    NoPagination | OffsetPagination | PagePagination | CursorPagination | LinkHeaderPagination
    | JsonLinkPagination,
    Field(discriminator="type"),
]
"""How to get the next page, chosen by ``type``."""


class RateLimit(OdibiModel):
    """A client-side limit: requests start at most ``requests_per_second`` apart (a float:
    ``0.5`` is one request every two seconds). Applies to the requests of one read."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"requests_per_second": 2.5},
    ]})

    requests_per_second: Annotated[float, Field(gt=0)]
    """Requests start at most this often (0.5: one every two seconds)."""


def _upper(value: Any) -> Any:
    return value.upper() if isinstance(value, str) else value


class ApiReadOptions(OdibiModel):
    """The options of a ``format: api`` read: which records, how to page through them and how
    fast, and their column types.
    """

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"records_path": "data.items",
         "params": {"status": "active"},
         "pagination": {"type": "cursor",
                        "cursor_param": "after",
                        "cursor_path": "paging.next",
                        "page_size_param": "limit"},
         "page_size": 100,
         "max_pages": 1000,
         "rate_limit": {"requests_per_second": 5},
         "schema": {"updated_at": "timestamp"}},
    ]})

    records_path: str | None = None
    """Dotted path to the list of records in each JSON page (data.items); absent, the page itself,
    which must then be a list. A path to one object reads it as one record; to null, as an empty
    page."""
    params: dict[str, Any] = Field(default_factory=dict)
    """Query parameters of every request (a list value repeats the parameter)."""
    method: Annotated[Literal["GET", "POST"], BeforeValidator(_upper)] = "GET"
    """GET or POST."""
    body: dict[str, Any] | list[Any] | None = None
    """The JSON body of a POST (pagination parameters still go in the query string)."""
    page_size: PositiveInt | None = None
    """Records per request, sent by the pagination (offset's limit, the page_size of the other
    types); not used by pagination: none."""
    pagination: Pagination = Field(default_factory=lambda: NoPagination(type="none"))
    """How to get the next page, by type: none, offset, page, cursor, link_header or json_link."""
    max_pages: PositiveInt | None = None
    """Stop after this many pages (a safety cap; the rows read are kept and a warning is logged)."""
    rate_limit: RateLimit | None = None
    """A client-side limit on requests."""
    timeout_seconds: Annotated[float, Field(gt=0)] = 30.0
    """Seconds per request (connect and each read); a timeout is transient (retried)."""
    column_types: dict[str, str] = Field(default_factory=dict, alias="schema")
    """{column: type} declares logical types (int64, timestamp, decimal(10,2), ...; ISO strings are
    accepted for dates and timestamps); string keeps any value as text."""
    nested: Literal["struct", "json"] = "struct"
    """struct: objects become structs and lists arrays, as for JSON files; json: nested values
    become JSON text."""

    @field_validator("records_path")
    @classmethod
    def _dotted(cls, value: str | None) -> str | None:
        return _check_dotted(value)

    @field_validator("params")
    @classmethod
    def _params(cls, value: dict[str, Any]) -> dict[str, Any]:
        for name, item in value.items():
            items = item if isinstance(item, list) else [item]
            if item is None or not all(isinstance(v, (str, int, float, bool)) for v in items):
                raise config_error(
                    f"Query parameter '{name}' must be a value or a list of values.",
                    fix="Write a text, number or boolean (a list repeats the parameter); "
                        "structured data goes in body with method: POST.",
                    key=format_key_path((name,)))
        return value

    @field_validator("column_types")
    @classmethod
    def _types(cls, value: dict[str, str]) -> dict[str, str]:
        checked = {}
        for column, logical in value.items():
            try:
                checked[column] = parse_logical_type(logical)
            except ValueError as exc:
                raise config_error(f"Column '{column}': {exc}.", key=format_key_path((column,)),
                    fix="Declare a scalar logical type (string, int64, float64, bool, date, "
                        "timestamp, decimal(p,s), ...).") from None
        return checked

    @model_validator(mode="after")
    def _consistent(self) -> ApiReadOptions:
        if self.body is not None and self.method != "POST":
            raise config_error("body is sent with method: POST only.",
                               fix="Add method: POST, or move the values to params.",
                               key="body")
        pagination = self.pagination
        if isinstance(pagination, OffsetPagination):
            if pagination.limit is None and self.page_size is None:
                raise config_error(
                    "Offset pagination needs a page size.",
                    fix="Add limit: N to pagination (the value sent in limit_param).",
                    key="pagination")
            _same_size(pagination.limit, self.page_size, "pagination.limit")
        elif isinstance(pagination, _SizedPagination):
            _same_size(pagination.page_size, self.page_size, "pagination.page_size")
            size = pagination.page_size or self.page_size
            if size is not None and pagination.page_size_param is None:
                raise config_error(
                    f"page_size needs the query parameter that carries it ({pagination.type} "
                    "pagination).",
                    fix="Add page_size_param: (e.g. per_page or limit) to pagination, or remove "
                        "page_size.",
                    key="pagination.page_size" if pagination.page_size else "page_size")
            if pagination.page_size_param is not None and size is None:
                raise config_error(
                    "page_size_param is set but no page_size.",
                    fix="Add page_size: N to pagination.", key="pagination.page_size_param")
        return self

    @property
    def size(self) -> int | None:
        """The page size the pagination sends (its own, else ``page_size``)."""
        own = getattr(self.pagination, "limit", None) or getattr(self.pagination, "page_size",
                                                                 None)
        return own or self.page_size


def _same_size(own: int | None, top: int | None, key: str) -> None:
    if own is not None and top is not None and own != top:
        raise config_error(f"Two page sizes: {key.rsplit('.', 1)[-1]}: {own} and page_size: "
                           f"{top}.", fix="Keep one of them.", key=key)


def api_read_options(options: Mapping[str, Any]) -> ApiReadOptions:
    """``options`` as :class:`ApiReadOptions`.

    Raises:
        PydanticCustomError: (``config_error``) the first problem, keyed ``options.<name>``.
    """
    try:
        return ApiReadOptions.model_validate(dict(options or {}))
    except ValidationError as exc:
        raise _first_problem(exc) from None


def check_api_options(options: Mapping[str, Any]) -> None:
    """Raise ``config_error`` (``key="options.<name>"``) for the first bad option."""
    api_read_options(options)


def _first_problem(exc: ValidationError) -> Exception:
    """The most useful error of ``exc`` described as the loader describes project errors (an
    unknown key with the nearest valid one, a wrong type, a bad value with the valid ones)."""
    errors = exc.errors(include_url=False)
    # A misspelt key is also a missing one: name the misspelling (it says what to rename).
    errors.sort(key=lambda e: 0 if e["type"] == "extra_forbidden" else 1)
    error = errors[0]
    path, chain = walk_loc(ApiReadOptions, tuple(error["loc"]))
    message, fix, full = describe_error(error, ("options", *path), [None, *chain])
    return config_error(message, fix=fix, key=format_key_path(full))
