"""A database reached through SQLAlchemy (``type: sql``, ``format: sql`` reads).

.. code-block:: yaml

    connections:
      warehouse: {type: sql, url: "postgresql://odibi:${PG_PASSWORD}@db.internal:5432/shop"}
      local_db:  {type: sql, url: "sqlite:///data/shop.db"}   # relative to the project file

The URL is a SQLAlchemy URL, ``${ENV}`` already substituted by the loader. Its password is a
secret: it is masked (``***``) wherever the connection is shown, and :meth:`secret_values` lists it
for the redaction of stories, run records and messages.

- ``sqlite:///relative.db`` is relative to the project file's folder, as local paths are;
  ``sqlite:////abs/path.db`` is absolute; ``sqlite://`` is an in-memory database (empty).
- ``postgresql://`` names no driver: SQLAlchemy 2.1 picks psycopg (3). When psycopg is not
  installed and psycopg2 is, odibi uses ``postgresql+psycopg2``. ``postgres://`` (Heroku-style
  ``DATABASE_URL``) means ``postgresql://``. Naming a driver (``postgresql+psycopg``) is kept.
- The engine is created on first use, with no connection pool (each read opens its connection
  and closes it), a bounded connect timeout for PostgreSQL (10 s unless the URL sets
  ``connect_timeout``), and bound parameters hidden from SQLAlchemy's error messages.
"""

from __future__ import annotations

import importlib.util
import os
import re
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

from odibi_core.connections.base import Check, Connection
from odibi_core.errors import ConfigError, ConfigProblem
from odibi_core.storage.locations import ResolvedLocation
from odibi_core.storage.redaction import is_secret_option

__all__ = ["SqlConnection", "split_table"]

CONNECT_TIMEOUT_SECONDS = 10
_QUERY_START = re.compile(r"^\s*(?:\(\s*)*(?:select|with|values)\b", re.IGNORECASE)
# What a login refusal looks like in the drivers' messages (PostgreSQL sends no SQLSTATE
# before the session exists).
_AUTH_PHRASES = re.compile(
    r"password authentication failed|authentication failed|no password supplied"
    r"|role \S+ does not exist|pg_hba\.conf|access denied for user|login failed",
    re.IGNORECASE)


class SqlConnection(Connection):
    """A SQLAlchemy database.

    Args:
        name: the connection's name.
        config: a ``SqlConnectionConfig`` or a mapping with ``url``.
        project_root: the folder of the project file (relative SQLite paths start there).

    Raises:
        ConfigError: the URL cannot be parsed (the message never shows it).

    Example:
        >>> url = "postgresql+psycopg2://u:pw@h/shop"
        >>> db = SqlConnection("db", {"type": "sql", "url": url}, "/srv")
        >>> db.resolve(table="orders").display
        'postgresql+psycopg2://u:***@h/shop table orders'
    """

    type = "sql"

    def __init__(self, name: str, config: Any, project_root: str | os.PathLike[str]) -> None:
        super().__init__(name)
        from sqlalchemy.engine import make_url

        raw = config.get("url") if isinstance(config, Mapping) else getattr(config, "url", None)
        key_path = f"connections.{name}.url"
        if not isinstance(raw, str) or not raw.strip():
            raise ConfigError(ConfigProblem(
                message=f"Connection '{name}' (type: sql) needs url: a SQLAlchemy URL.",
                key_path=key_path,
                fix='Write url: "postgresql://user:${PG_PASSWORD}@host:5432/db" or '
                    '"sqlite:///data/shop.db".'))
        self._raw = raw.strip()
        try:
            url = make_url(self._raw)
        except Exception:  # noqa: BLE001 - the driver's message may quote the URL: not shown
            raise ConfigError(ConfigProblem(
                message=f"Connection '{name}': url is not a valid SQLAlchemy URL "
                        "(dialect[+driver]://user:password@host:port/database).",
                key_path=key_path,
                fix="Check the URL's shape; a password with '@', ':' or '/' must be "
                    "percent-encoded (%40, %3A, %2F).")) from None
        self.url = _normalised(url, Path(project_root))
        self._engine: Any = None
        self._lock = threading.Lock()

    # ---- identity ------------------------------------------------------------------------
    @property
    def dialect_name(self) -> str:
        """``sqlite``, ``postgresql``, ... (the URL's backend)."""
        return str(self.url.get_backend_name())

    @property
    def masked_url(self) -> str:
        """The URL with its password (and secret-looking query parameters) as ``***``."""
        url = self.url
        hidden = {key: "***" for key in url.query if _secret_query_key(key)}
        if hidden:
            url = url.update_query_dict(hidden)
        return str(url.render_as_string(hide_password=True))

    @property
    def sqlite_file(self) -> Path | None:
        """The database file of a file-based SQLite URL (None otherwise)."""
        if self.dialect_name != "sqlite":
            return None
        database = self.url.database
        if not database or database == ":memory:" or database.startswith("file:") \
                or self.url.query.get("uri") in ("true", "1"):
            return None
        return Path(database)

    def secret_values(self) -> tuple[str, ...]:
        """The URL's password (as written and percent-encoded), the URL as written and in full,
        and the values of secret-looking query parameters (``?password=...``)."""
        found: list[str] = []
        password = self.url.password
        if password:
            password = str(password)
            found += [password, quote(password, safe=""), quote_plus(password),
                      self._raw, self.url.render_as_string(hide_password=False)]
        for key, value in self.url.query.items():
            if _secret_query_key(key):
                found += [value] if isinstance(value, str) else list(value)
        return tuple(dict.fromkeys(v for v in found if v))

    def resolve(self, path: str | None = None, *, table: str | None = None) -> ResolvedLocation:
        """The database (``table`` None) or one of its tables; ``display`` masks the password
        (``postgresql+psycopg2://user:***@host/db table sales.orders``).

        Raises:
            ConfigError: a ``path`` was given (databases have tables, not paths).
        """
        if path is not None:
            raise ConfigError(ConfigProblem(
                message=f"Connection '{self.name}' is a database: it has tables, not paths "
                        f"(path: {path}).",
                key_path="path",
                fix="Read it with format: sql and table: (or query:)."))
        shown = self.masked_url
        display = shown if table is None else f"{shown} table {table}"
        return ResolvedLocation(connection=self.name, uri=shown, display=display,
                                storage_options={}, is_local=False, table=table)

    # ---- the engine ----------------------------------------------------------------------
    def engine(self) -> Any:
        """The SQLAlchemy engine, created on first use.

        Raises:
            ConfigError: the URL's dialect or driver is not installed.
        """
        with self._lock:
            if self._engine is None:
                self._engine = self._create_engine()
            return self._engine

    def _create_engine(self) -> Any:
        import sqlalchemy as sa
        from sqlalchemy.pool import NullPool

        connect_args: dict[str, Any] = {}
        driver = self.url.get_driver_name()
        if self.dialect_name == "postgresql" and driver in ("psycopg2", "psycopg") \
                and "connect_timeout" not in self.url.query:
            connect_args["connect_timeout"] = CONNECT_TIMEOUT_SECONDS
        try:
            return sa.create_engine(self.url, poolclass=NullPool, hide_parameters=True,
                                    connect_args=connect_args)
        except (ImportError, sa.exc.NoSuchModuleError) as exc:
            what = exc.name if isinstance(exc, ImportError) and exc.name else \
                f"{self.url.drivername}"
            raise ConfigError(ConfigProblem(
                message=f"Connection '{self.name}' ({self.masked_url}): the database driver "
                        f"'{what}' is not available.",
                key_path=f"connections.{self.name}.url",
                fix=f"Install it in this environment (pip install {what}), or name an installed "
                    "driver in the URL, e.g. postgresql+psycopg2://.")) from None

    def dispose(self) -> None:
        """Close the engine (it is created again on next use)."""
        with self._lock:
            engine, self._engine = self._engine, None
        if engine is not None:
            engine.dispose()

    # ---- odibi doctor --------------------------------------------------------------------
    def diagnose(self, paths: Sequence[str]) -> list[Check]:
        """Connect (reachable; a refused login is reachable but not authenticated), then check
        each path: a table name (``schema.table`` allowed) must exist; a query (``SELECT``,
        ``WITH``) must run, wrapped so that it returns no rows, its ``:params`` bound to NULL."""
        shown = self.masked_url
        database = self.sqlite_file
        if database is not None and not database.is_file():
            return [Check("reachable", False, f"{shown}: the database file does not exist")]
        try:
            engine = self.engine()
        except ConfigError as exc:
            return [Check("reachable", False, self.redact(exc.problems[0].message))]
        try:
            connection = engine.connect()
        except Exception as exc:  # noqa: BLE001 - a failed check, not a crash
            reason = self.redact(first_line(exc))
            if _AUTH_PHRASES.search(reason):
                return [Check("reachable", True, f"{shown}: the server answered"),
                        Check("authenticated", False, f"login refused: {reason}")]
            return [Check("reachable", False, f"{shown}: {reason}")]
        checks = [Check("reachable", True, f"{shown}: connected")]
        if self.url.password or self.url.username:
            checks.append(Check("authenticated", True, f"logged in as {self.url.username}"))
        else:
            checks.append(Check("authenticated", None, "no credentials in the URL"))
        connection.close()
        for path in paths:  # one connection each: a failed statement spoils a transaction
            checks.append(self._path_check(engine, path))
        return checks

    def _path_check(self, engine: Any, path: str) -> Check:
        import sqlalchemy as sa

        if _QUERY_START.match(path):
            query = path.strip().rstrip(";").strip()
            names = list(sa.text(query)._bindparams)  # noqa: SLF001 - SQLAlchemy's :names
            probe = sa.text(f"SELECT * FROM ({query}) AS odibi_probe WHERE 1 = 0")
            try:
                with engine.connect() as connection:
                    connection.execute(probe, {name: None for name in names}).fetchall()
            except Exception as exc:  # noqa: BLE001
                return Check("path exists", False, f"query fails: {self.redact(first_line(exc))}")
            return Check("path exists", True, "query runs")
        schema, table = split_table(path, None)
        try:
            with engine.connect() as connection:
                found = sa.inspect(connection).has_table(table, schema=schema)
        except Exception as exc:  # noqa: BLE001
            return Check("path exists", False, f"{path}: {self.redact(first_line(exc))}")
        return Check("path exists", found,
                     f"table {path}" + ("" if found else " does not exist"))

    def __repr__(self) -> str:
        return f"SqlConnection(name={self.name!r}, url={self.masked_url!r})"


def _secret_query_key(key: str) -> bool:
    return is_secret_option(key) or key.lower() in ("pwd", "password", "passwd")


def split_table(table: str, schema: str | None) -> tuple[str | None, str]:
    """(schema, table) of ``table`` as written (``sales.orders`` names its schema; the last dot
    separates), with ``schema`` (``options.schema``) when the name has none."""
    text = table.strip()
    if "." in text and schema is None:
        head, _, name = text.rpartition(".")
        return head, name
    return schema, text


def first_line(exc: BaseException) -> str:
    """The first line of a driver's message (without SQLAlchemy's "(driver.Error)" prefix, the
    SQL it appends, or its background link)."""
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).strip()
    line = text.splitlines()[0].strip() if text else type(exc).__name__
    return line or type(exc).__name__


def _normalised(url: Any, project_root: Path) -> Any:
    """The URL odibi opens: the driver chosen (see the module doc), a relative SQLite file
    anchored at the project folder."""
    drivername = url.drivername
    if drivername == "postgres" or drivername.startswith("postgres+"):
        drivername = "postgresql" + drivername[len("postgres"):]
    if drivername == "postgresql" and importlib.util.find_spec("psycopg") is None \
            and importlib.util.find_spec("psycopg2") is not None:
        drivername = "postgresql+psycopg2"
    if drivername != url.drivername:
        url = url.set(drivername=drivername)
    if url.get_backend_name() == "sqlite":
        database = url.database
        uri_mode = url.query.get("uri") in ("true", "1") or (database or "").startswith("file:")
        if database and database != ":memory:" and not uri_mode:
            path = Path(database).expanduser()
            if not path.is_absolute():
                path = project_root / path
            url = url.set(database=os.path.abspath(path))
    return url
