"""``read.options`` of a ``format: sql`` read (SQLAlchemy): checked before anything runs.

.. code-block:: yaml

    read:
      connection: warehouse
      format: sql
      query: "SELECT * FROM orders WHERE region = :region"
      options:
        params: {region: EU}      # bound parameters (:name in the query), never pasted into SQL
        chunk_size: 50000         # rows fetched per round trip (bounds memory on the client)
    read:
      connection: warehouse
      format: sql
      table: orders
      options: {schema: sales}    # the database schema (PostgreSQL schema, SQL Server schema, ...)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from difflib import get_close_matches
from typing import Annotated, Any, Literal

from pydantic import (
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidationError,
)

from odibi_core.config.base import IDENTIFIER_PATTERN, OdibiModel, config_error

__all__ = ["LOWER_BOUND_PARAM", "SqlParam", "SqlReadOptions", "check_sql_options"]

LOWER_BOUND_PARAM = "odibi_lower_bound"
"""The bound parameter odibi adds for an incremental read's pushdown: a reserved name."""

# YAML gives dates and timestamps for unquoted 2026-01-01 / 2026-01-01T00:00:00Z.
SqlParam = StrictBool | StrictInt | StrictFloat | Decimal | StrictStr | dt.datetime | dt.date | None
"""A bound parameter's value: a scalar (lists are not expanded into ``IN (...)``)."""

DEFAULT_CHUNK_SIZE = 10_000


class SqlReadOptions(OdibiModel):
    """The options of a ``format: sql`` read: bound parameters of a query, the fetch size, and
    the database schema of a table.
    """

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"params": {"region": "EU"}, "chunk_size": 50000},
        {"schema": "sales"},
    ]})

    params: dict[str, SqlParam] = Field(default_factory=dict)
    """Bound parameters of query: :name in the SQL, name: value here, sent apart from the SQL text
    (no quoting, no injection). Every :name needs a value and every value a :name."""
    chunk_size: Annotated[int, Field(ge=1, le=10_000_000, strict=True)] = DEFAULT_CHUNK_SIZE
    """Rows fetched per round trip (a server-side cursor where the driver has one), so the client
    never holds the whole raw result."""
    # ``schema`` would shadow BaseModel.schema: the attribute is schema_name, the YAML key schema.
    schema_name: Annotated[str, Field(min_length=1)] | None = Field(default=None, alias="schema")
    """The database schema table is in (PostgreSQL sales, SQL Server dbo); absent, the
    connection's default. Only with table: (table: sales.orders is table: orders with schema:
    sales)."""


_KEYS = ("params", "chunk_size", "schema")


def check_sql_options(options: Mapping[str, Any], *,
                      target: Literal["query", "table"] | None = None) -> SqlReadOptions:
    """The typed options; raise ``config_error`` (``key="options.<name>"``) for the first bad
    one. ``target`` (what the read names, when the caller knows it) also checks that ``params``
    go with a query and ``schema`` with a table."""
    unknown = [key for key in options if key not in _KEYS]
    if unknown:
        key = str(unknown[0])
        close = get_close_matches(key, _KEYS, n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        raise config_error(f"Unknown sql read option '{key}'.{hint}",
                           fix="Valid options of a sql read: " + ", ".join(_KEYS) + ".",
                           key=f"options.{key}")
    try:
        parsed = SqlReadOptions.model_validate(dict(options))
    except ValidationError as exc:
        raise _problem(exc) from None
    for name in parsed.params:
        if not IDENTIFIER_PATTERN.match(name):
            raise config_error(
                f"Parameter name '{name}' cannot be written as :{name} in SQL.",
                fix="Use letters, digits and '_' (not starting with a digit), e.g. :region.",
                key=f"options.params.{name}")
        if name == LOWER_BOUND_PARAM:
            raise config_error(
                f"The parameter name '{name}' is reserved: odibi binds it for the high-water "
                "mark of read.incremental.", fix="Rename the parameter.",
                key=f"options.params.{name}")
    if target == "table" and parsed.params:
        raise config_error("options.params binds parameters of a query; this read names a table.",
                           fix="Drop params, or read with query: \"SELECT ... WHERE x = :name\".",
                           key="options.params")
    if target == "query" and parsed.schema_name is not None:
        raise config_error("options.schema is the schema of table:; this read runs a query.",
                           fix="Name the schema in the query (FROM sales.orders), or drop schema.",
                           key="options.schema")
    return parsed


def _problem(exc: ValidationError) -> Exception:
    error = exc.errors(include_url=False)[0]
    loc = [str(part) for part in error["loc"]]
    head = loc[0] if loc else ""
    if head == "schema_name":
        head = "schema"
    if head == "params" and len(loc) >= 2:
        name = loc[1]
        return config_error(
            f"Parameter '{name}' must be one value (text, a number, true/false, a date or a "
            "timestamp, or null).",
            fix="Lists are not expanded into IN (...): write one parameter per value, or put "
                "the list in the query.", key=f"options.params.{name}")
    if head == "params":
        return config_error("options.params must be a map of name: value.",
                            fix="Write params: {region: EU, since: 2026-01-01}.",
                            key="options.params")
    if head == "chunk_size":
        return config_error("options.chunk_size must be a whole number of rows, from 1 to "
                            "10000000.", fix="Write e.g. chunk_size: 50000.",
                            key="options.chunk_size")
    if head == "schema":
        return config_error("options.schema must be the name of a database schema.",
                            fix="Write e.g. schema: sales.", key="options.schema")
    return config_error(f"Invalid sql read options: {error['msg']}.",
                        fix="Valid options of a sql read: " + ", ".join(_KEYS) + ".",
                        key="options")
