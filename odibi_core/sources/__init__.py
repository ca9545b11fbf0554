"""Sources that are not files: ``format: api`` (an HTTP JSON API) and ``format: sql`` (a database
through SQLAlchemy). Each reads into a ``pyarrow.Table``, engine-free; the node runner hands it to
the engine (:meth:`odibi_core.engines.base.Engine.from_arrow`), so every engine sees the same rows
and types.
"""

from __future__ import annotations

from typing import Any

from odibi_core.connections.base import Connection
from odibi_core.sources.http_api import read_api
from odibi_core.sources.sql import read_sql
from odibi_core.storage.requests import LowerBound

__all__ = ["SOURCE_FORMATS", "read_source"]

SOURCE_FORMATS = ("api", "sql")


def read_source(connection: Connection, read: Any, *, node: str,
                lower_bound: LowerBound | None = None) -> Any:
    """Read ``read`` (a ``ReadConfig`` of format api or sql) from ``connection`` as Arrow.

    Raises:
        ConfigError: the connection cannot serve the format.
        DataError / TransientError: what the source answered (classified by the error taxonomy).
    """
    if read.format == "api":
        return read_api(connection, read, node=node)
    if read.format == "sql":
        return read_sql(connection, read, node=node, lower_bound=lower_bound)
    raise ValueError(f"{read.format} is not a source format ({', '.join(SOURCE_FORMATS)})")
