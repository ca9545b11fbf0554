"""``format: sql``: a query's or a table's rows, read through SQLAlchemy into Arrow.

What is sent:

- ``table: orders`` (``options.schema`` or ``table: sales.orders`` for a schema):
  ``SELECT * FROM sales.orders``, names quoted by the dialect's rules (SQLAlchemy's: a lower-case
  name is case-insensitive, a name with capitals or odd characters is quoted as written).
- ``query: SELECT ...``: the query as written (a trailing ``;`` dropped), ``:name`` placeholders
  bound from ``options.params``.
- a stateful ``read.incremental`` with a mark: the filter is pushed down to the database as a
  bound parameter, ``SELECT * FROM (<query>) AS odibi_src WHERE <column> > :odibi_lower_bound``
  (a table read: ``SELECT * FROM <table> WHERE <column> > :odibi_lower_bound``). The node runner
  filters the rows again and computes the new mark itself. On SQLite, where dates and timestamps
  are text compared as text, the bound is sent as ISO text (``YYYY-MM-DD``; a timestamp as
  ``YYYY-MM-DD HH:MM:SS[.ffffff]`` in UTC, 14 hours early so that values stored with any UTC
  offset are never left out): right for values stored in ISO 8601 form, as Python and
  SQLAlchemy store them. The pushdown may return a few rows at or before the mark (filtered
  again); it never leaves out a row after it.

Rows are fetched ``options.chunk_size`` at a time (a server-side cursor on PostgreSQL), and each
chunk becomes Arrow arrays of the column's type at once.

Types. A column's type comes from the database, not from its values, wherever the database says
it: PostgreSQL's result type (the cursor description's type OID, precision and scale), SQLite's
declared column type (as ``PRAGMA table_info`` reports it for a temporary view of the query).

===============================================  ======================================
SQL type                                          Arrow / odibi logical type
===============================================  ======================================
smallint, integer, bigint (any ``*INT*``)         int64
real, float, double precision                     float64
numeric(p,s), decimal(p,s)                        decimal(p,s)  (p capped at 38)
numeric, decimal (no precision)                   decimal(38,18)  (Spark's default)
boolean                                           bool
date                                              date
timestamp, datetime (without time zone)           timestamp_ntz
timestamptz, timestamp with time zone             timestamp (UTC)
time                                              time
interval                                          duration
char, varchar, text, uuid, json(b), enum, ...     string (JSON as its text)
bytea, blob                                       binary
no declared type (SQLite expressions), arrays     inferred from the values
===============================================  ======================================

Every integer is int64 and every float float64, so that the same table read from SQLite (whose
integers are 64-bit and whose reals are doubles) and from PostgreSQL gives the same frame. An
empty result keeps its columns and types (columns without a declared type are then null-typed).

Errors: a missing table or column, or a query the database rejects, is a
:class:`~odibi_core.errors.DataError` naming the connection (password masked) and what to fix;
a refused or dropped connection, a timeout or a busy database is a
:class:`~odibi_core.errors.TransientError` (retried); a refused login is a
:class:`~odibi_core.errors.ConfigError` on the connection's url. No message shows a secret.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Context, Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from odibi_core.config.sql_options import LOWER_BOUND_PARAM, SqlReadOptions, check_sql_options
from odibi_core.connections.base import Connection
from odibi_core.connections.sql import SqlConnection, first_line, split_table
from odibi_core.errors import ConfigError, ConfigProblem, DataError, TransientError
from odibi_core.storage.logical_types import arrow_type_of

if TYPE_CHECKING:
    import pyarrow as pa

    from odibi_core.storage.requests import LowerBound

__all__ = ["read_sql"]

DEFAULT_DECIMAL = (38, 18)
MAX_DECIMAL_PRECISION = 38
SQLITE_TIMESTAMP_MARGIN = dt.timedelta(hours=14)  # the largest UTC offset in use
_SUBQUERY_ALIAS = "odibi_src"
_PROBE_VIEW = "odibi_probe_"

# PostgreSQL type OIDs (pg_type) -> SQL type names understood by _logical_of_declared.
_PG_TYPES = {
    16: "boolean", 20: "bigint", 21: "smallint", 23: "integer", 26: "oid",
    700: "real", 701: "double precision", 1700: "numeric",
    18: "char", 19: "name", 25: "text", 1042: "char", 1043: "varchar", 705: "text",
    114: "json", 3802: "jsonb", 2950: "uuid", 142: "xml", 790: "money",
    650: "cidr", 869: "inet", 829: "macaddr", 774: "macaddr8", 1266: "timetz",
    1082: "date", 1114: "timestamp", 1184: "timestamptz", 1083: "time", 1186: "interval",
    17: "bytea",
}
# SQLSTATE classes and codes (PostgreSQL; others use the same standard codes where they can).
_TRANSIENT_STATES = ("08", "53", "57P", "57014", "58", "40001", "40P01", "55P03", "55006")
_AUTH_STATES = ("28",)
_MISSING_STATES = ("42P01", "42703", "3F000", "42883", "3D000")
_TRANSIENT_PHRASES = re.compile(
    r"connection refused|could not connect|could not translate host name|name or service not "
    r"known|timeout expired|timed out|server closed the connection|connection reset|broken pipe"
    r"|terminating connection|connection already closed|ssl syscall|no route to host|network is "
    r"unreachable|database is locked|database table is locked|disk i/o error|"
    r"the database system is (?:starting up|shutting down|in recovery mode)"
    r"|too many (?:connections|clients)", re.IGNORECASE)
_AUTH_PHRASES = re.compile(
    r"password authentication failed|authentication failed|no password supplied"
    r"|role \S+ does not exist|pg_hba\.conf|access denied for user|login failed", re.IGNORECASE)
_MISSING_PHRASES = re.compile(
    r"no such table|no such column|does not exist|unknown column|invalid object name"
    r"|invalid column name", re.IGNORECASE)


@dataclass(frozen=True)
class _Column:
    """One result column: its name, the SQL type the database gave (for messages) and the
    logical type it becomes (None: inferred from the values)."""

    name: str
    sql_type: str
    logical: str | None


def read_sql(connection: Connection, read: Any, *, node: str,
             lower_bound: LowerBound | None = None) -> pa.Table:
    """Run ``read`` (``query`` or ``table``) on ``connection``; the rows as Arrow.

    Args:
        connection: a :class:`~odibi_core.connections.sql.SqlConnection`.
        read: the node's ``ReadConfig`` (``format: sql``).
        node: ``pipeline.node``, for messages.
        lower_bound: a stateful incremental read's mark (lag applied), pushed down as
            ``WHERE column > :odibi_lower_bound``; None for a full read.

    Raises:
        ConfigError: not a sql connection, bad options, a parameter without a value, a driver
            that is not installed, a refused login.
        DataError: a missing table or column, a query the database rejects, a value that does
            not fit its column's type.
        TransientError: the database could not be reached, dropped the connection, timed out
            or is busy.
    """
    import sqlalchemy as sa

    if not isinstance(connection, SqlConnection):
        raise ConfigError(ConfigProblem(
            message=f"Node {node}: format: sql reads from a sql connection; "
                    f"'{connection.name}' has type {getattr(connection, 'type', '?')}.",
            key_path="read.connection",
            fix="Add a connection with type: sql and url: (a SQLAlchemy URL) and name it in "
                "read.connection."))
    options = _options(read, node)
    where = connection.masked_url
    database = connection.sqlite_file
    if database is not None and not database.is_file():
        raise DataError(f"The SQLite database of connection '{connection.name}' ({where}) does "
                        "not exist.", node=node,
                        fix="Check the url: a relative sqlite:///path is relative to the project "
                            "file's folder; sqlite:////absolute/path.db for an absolute one.")
    engine = connection.engine()
    preparer = engine.dialect.identifier_preparer
    if read.table is not None:
        schema, table = split_table(read.table, options.schema_name)
        source = _quoted_table(preparer, schema, table)
        base = f"SELECT * FROM {source}"
        what = f"table {read.table}" if options.schema_name is None \
            else f"table {schema}.{table}"
    else:
        base = _query_text(read.query)
        what = "the query"
    params: dict[str, Any] = dict(options.params)
    if read.query is not None:
        _check_placeholders(base, params, node)
    sql = base
    if lower_bound is not None:
        column = preparer.quote(lower_bound.column)
        sql = (f"{base} WHERE {column} > :{LOWER_BOUND_PARAM}" if read.table is not None else
               f"SELECT * FROM ({base}) AS {_SUBQUERY_ALIAS} WHERE {column} > "
               f":{LOWER_BOUND_PARAM}")
        params[LOWER_BOUND_PARAM] = _bound_value(lower_bound.value, connection.dialect_name)
    context = _Context(connection, node, what, read.table, options.schema_name)
    try:
        with engine.connect() as conn:
            declared = _sqlite_declared_types(conn, base, options.params) \
                if connection.dialect_name == "sqlite" else {}
            result = conn.execution_options(stream_results=True,
                                            max_row_buffer=options.chunk_size) \
                .execute(sa.text(sql), params)
            if not result.returns_rows:
                raise DataError(f"The sql read of {what} on connection '{connection.name}' "
                                f"({where}) returned no result set.", node=node,
                                fix="query: must be a SELECT (or WITH ... SELECT).")
            columns = _columns(list(result.keys()), result.cursor.description, declared,
                               connection.dialect_name, node)
            chunks = []
            while True:
                rows = result.fetchmany(options.chunk_size)
                if not rows:
                    break
                chunks.append(_chunk(columns, rows, context))
    except (DataError, ConfigError, TransientError):
        raise
    except sa.exc.SQLAlchemyError as exc:
        raise context.error(exc) from exc
    return _assemble(columns, chunks, context)


# ---- the statement ---------------------------------------------------------------------------
def _options(read: Any, node: str) -> SqlReadOptions:
    from pydantic_core import PydanticCustomError

    try:
        return check_sql_options(read.options or {},
                                 target="table" if read.table is not None else "query")
    except PydanticCustomError as exc:
        context = exc.context or {}
        raise ConfigError(ConfigProblem(
            message=f"Node {node}: {exc.message()}",
            key_path="read." + str(context.get("key") or "options"),
            fix=context.get("fix"))) from None


def _quoted_table(preparer: Any, schema: str | None, table: str) -> str:
    name = preparer.quote(table)
    if schema is None:
        return name
    return ".".join(preparer.quote(part) for part in schema.split(".")) + "." + name


def _query_text(query: str) -> str:
    text = query.strip()
    while text.endswith(";"):
        text = text[:-1].rstrip()
    return text


def _check_placeholders(query: str, params: Mapping[str, Any], node: str) -> None:
    """Every ``:name`` of the query has a value and every value a ``:name``."""
    import sqlalchemy as sa

    names = list(sa.text(query)._bindparams)  # noqa: SLF001 - SQLAlchemy's parsed :names
    if LOWER_BOUND_PARAM in names:
        raise ConfigError(ConfigProblem(
            message=f"Node {node}: the query uses :{LOWER_BOUND_PARAM}, a name odibi binds for "
                    "read.incremental.", key_path="read.query",
            fix="Rename the parameter; odibi adds the high-water-mark filter itself."))
    missing = [name for name in names if name not in params]
    if missing:
        raise ConfigError(ConfigProblem(
            message=f"Node {node}: the query uses :{missing[0]}, and options.params has no "
                    f"value for it.", key_path="read.options.params",
            fix=f"Add params: {{{missing[0]}: ...}} to read.options (a literal ':' in SQL text "
                "is written '\\:').")) from None
    unused = [name for name in params if name not in names]
    if unused:
        raise ConfigError(ConfigProblem(
            message=f"Node {node}: options.params.{unused[0]} is not used by the query "
                    f"(no :{unused[0]} in it).", key_path=f"read.options.params.{unused[0]}",
            fix=f"Write :{unused[0]} where the value goes, or drop the parameter."))


def _bound_value(value: Any, dialect: str) -> Any:
    """The mark as a parameter: as is, except on SQLite, where dates and timestamps are ISO text.

    SQLite compares that text as text, so a stored timestamp written with a UTC offset
    (``...09:00:00-02:00``) would compare by its wall-clock digits: the bound is moved back by
    :data:`SQLITE_TIMESTAMP_MARGIN` (more than any offset), so that no row after the mark is
    ever left out; the node runner drops the extra rows by the exact mark."""
    if dialect != "sqlite":
        return value
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return (value - SQLITE_TIMESTAMP_MARGIN).isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):  # sqlite3 binds no Decimal; its numbers are 64-bit or REAL
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def _sqlite_declared_types(conn: Any, query: str, params: Mapping[str, Any]) -> dict[str, str]:
    """The declared type of each result column of ``query`` on SQLite: the types ``PRAGMA
    table_info`` gives for a temporary view of it (a column taken from a table keeps that
    column's declared type; an expression has none). Parameters are bound to NULL in the view:
    its rows are never read. {} when SQLite cannot make the view; the values decide then."""
    import sqlalchemy as sa

    view = f"{_PROBE_VIEW}{uuid.uuid4().hex[:12]}"
    try:
        clause = sa.text(query).bindparams(**{name: None for name in params})
        body = str(clause.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
        with conn.begin_nested() if conn.in_transaction() else conn.begin():
            conn.exec_driver_sql(f'CREATE TEMP VIEW "{view}" AS {body}')
            try:
                info = conn.exec_driver_sql(f'PRAGMA temp.table_info("{view}")').fetchall()
            finally:
                conn.exec_driver_sql(f'DROP VIEW temp."{view}"')
    except Exception:  # noqa: BLE001 - the real query reports a real problem
        return {}
    return {str(row[1]): str(row[2] or "") for row in info}


# ---- types -----------------------------------------------------------------------------------
_DECIMAL_ARGS = re.compile(r"\(\s*(\d+)\s*(?:,\s*(-?\d+)\s*)?\)")


def _logical_of_declared(declared: str, precision: int | None = None,
                         scale: int | None = None) -> str | None:
    """The logical type of a SQL type name (``NUMERIC(10,2)``, ``timestamp with time zone``,
    ``VARCHAR(20)``...); None when the name says nothing (inferred from the values then)."""
    text = " ".join(declared.lower().split())
    if not text:
        return None
    head = text.split("(")[0].strip()
    args = _DECIMAL_ARGS.search(text)
    if head in ("bool", "boolean", "bit"):
        return "bool"
    if head in ("interval",) or head.startswith("interval "):
        return "duration"
    if head in ("numeric", "decimal", "number", "dec"):
        if args is not None and precision is None:
            precision = int(args.group(1))
            scale = int(args.group(2)) if args.group(2) is not None else 0
        return _decimal(precision, scale)
    if head in ("money", "smallmoney"):  # psycopg2 gives PostgreSQL's money as text ('$1.00')
        return "string"
    if ("int" in head and "point" not in head) or head in ("oid", "serial", "bigserial"):
        return "int64"
    if head in ("real", "float", "double", "double precision", "float4", "float8", "binary_float",
                "binary_double") or head.startswith("float") or head.startswith("double"):
        return "float64"
    if head == "date":
        return "date"
    if head in ("timestamptz", "datetimeoffset", "datetimetz") or (
            head.startswith("timestamp") and "with time zone" in text
            and "without" not in text):
        return "timestamp"
    if head.startswith("timestamp") or head in ("datetime", "datetime2", "smalldatetime"):
        return "timestamp_ntz"
    if head == "timetz" or (head.startswith("time") and "with time zone" in text
                            and "without" not in text):
        return "string"
    if head == "time" or head.startswith("time "):
        return "time"
    if any(word in head for word in ("char", "text", "clob", "string")) or head in (
            "uuid", "json", "jsonb", "xml", "name", "citext", "inet", "cidr", "macaddr",
            "macaddr8", "enum", "uniqueidentifier"):
        return "string"
    if head in ("bytea", "blob", "binary", "varbinary", "longblob", "mediumblob", "image",
                "raw"):
        return "binary"
    return None


def _decimal(precision: int | None, scale: int | None) -> str:
    # PostgreSQL reports an unconstrained numeric as precision/scale 65535 (typmod -1).
    if precision is None or precision <= 0 or precision > 1000:
        return "decimal(%d,%d)" % DEFAULT_DECIMAL
    scale = max(0, min(scale or 0, MAX_DECIMAL_PRECISION))
    precision = min(precision, MAX_DECIMAL_PRECISION)
    return f"decimal({precision},{min(scale, precision)})"


def _columns(names: Sequence[str], description: Any, declared: Mapping[str, str],
             dialect: str, node: str) -> list[_Column]:
    duplicates = sorted({name for name in names if list(names).count(name) > 1})
    if duplicates:
        raise DataError("The sql read returns more than one column named "
                        + ", ".join(duplicates) + ".", node=node,
                        fix="Give each column its own name in the query (SELECT a.id AS "
                            "order_id, b.id AS customer_id ...).")
    columns = []
    for index, name in enumerate(names):
        entry = description[index] if description is not None and index < len(description) \
            else None
        if dialect == "postgresql" and entry is not None:
            code = _entry(entry, "type_code", 1)
            sql_type = _PG_TYPES.get(code, f"type oid {code}") if isinstance(code, int) \
                else str(code)
            logical = _logical_of_declared(sql_type, _entry(entry, "precision", 4),
                                           _entry(entry, "scale", 5)) \
                if isinstance(code, int) and code in _PG_TYPES else None
        else:
            sql_type = declared.get(name, "")
            logical = _logical_of_declared(sql_type)
        columns.append(_Column(str(name), sql_type or "no declared type", logical))
    return columns


def _entry(entry: Any, attribute: str, index: int) -> Any:
    value = getattr(entry, attribute, None)
    if value is None and isinstance(entry, (tuple, list)) and len(entry) > index:
        value = entry[index]
    return value


# ---- values ----------------------------------------------------------------------------------
_DECIMAL_CONTEXT = Context(prec=80)


class _Misfit(ValueError):
    """A value that does not fit its column's type."""


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "t", "f", "1", "0"):
        return value.strip().lower() in ("true", "t", "1")
    raise _Misfit(value)


def _to_int(value: Any) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            raise _Misfit(value) from None
    raise _Misfit(value)


def _to_float(value: Any) -> float:
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            raise _Misfit(value) from None
    raise _Misfit(value)


def _decimal_converter(scale: int) -> Callable[[Any], Decimal]:
    quantum = Decimal(1).scaleb(-scale)

    def convert(value: Any) -> Decimal:
        if isinstance(value, bool):
            raise _Misfit(value)
        try:
            if isinstance(value, Decimal):
                number = value
            elif isinstance(value, int):
                number = Decimal(value)
            elif isinstance(value, float):
                number = Decimal(repr(value))
            elif isinstance(value, str):
                number = Decimal(value.strip())
            else:
                raise _Misfit(value)
            if not number.is_finite():
                raise _Misfit(value)
            return number.quantize(quantum, rounding=ROUND_HALF_EVEN, context=_DECIMAL_CONTEXT)
        except (InvalidOperation, ValueError):
            raise _Misfit(value) from None

    return convert


def _to_date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        if value.time() != dt.time() or value.tzinfo is not None:
            raise _Misfit(value)
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        text = value.strip()
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            pass
        try:
            moment = dt.datetime.fromisoformat(text)
        except ValueError:
            raise _Misfit(value) from None
        if moment.time() != dt.time() or moment.tzinfo is not None:
            raise _Misfit(value)
        return moment.date()
    raise _Misfit(value)


def _moment(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time())
    if isinstance(value, str):
        try:
            return dt.datetime.fromisoformat(value.strip())
        except ValueError:
            raise _Misfit(value) from None
    raise _Misfit(value)


def _to_instant(value: Any) -> dt.datetime:
    """An instant in UTC; a value without a zone (SQLite text) is read as UTC."""
    moment = _moment(value)
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.timezone.utc)
    return moment.astimezone(dt.timezone.utc)


def _to_wall_clock(value: Any) -> dt.datetime:
    """A timestamp without zone; a value with an offset (SQLite text) is put in UTC first."""
    moment = _moment(value)
    if moment.tzinfo is not None:
        return moment.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return moment


def _to_time(value: Any) -> dt.time:
    if isinstance(value, dt.time):
        return value
    if isinstance(value, str):
        try:
            return dt.time.fromisoformat(value.strip())
        except ValueError:
            raise _Misfit(value) from None
    raise _Misfit(value)


def _to_duration(value: Any) -> dt.timedelta:
    if isinstance(value, dt.timedelta):
        return value
    raise _Misfit(value)


def _to_string(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (bytes, bytearray, memoryview)):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            raise _Misfit(value) from None
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    return str(value)


def _to_binary(value: Any) -> bytes:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, str):
        return value.encode("utf-8")
    raise _Misfit(value)


def _converter(logical: str) -> Callable[[Any], Any]:
    if logical.startswith("decimal("):
        return _decimal_converter(int(logical[:-1].split(",")[1]))
    return {
        "bool": _to_bool, "int64": _to_int, "float64": _to_float, "date": _to_date,
        "timestamp": _to_instant, "timestamp_ntz": _to_wall_clock, "time": _to_time,
        "duration": _to_duration, "string": _to_string, "binary": _to_binary,
    }[logical]


def _inferable(value: Any) -> Any:
    """A value of a column without a declared type, as Arrow infers it well."""
    if isinstance(value, memoryview):
        return bytes(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    return value


# ---- Arrow -----------------------------------------------------------------------------------
class _Context:
    """What messages name: the node, the connection (masked) and what was read."""

    def __init__(self, connection: SqlConnection, node: str, what: str, table: str | None,
                 schema: str | None) -> None:
        self.connection, self.node, self.what = connection, node, what
        self.table, self.schema = table, schema

    @property
    def where(self) -> str:
        return f"connection '{self.connection.name}' ({self.connection.masked_url})"

    def misfit(self, column: _Column, value: Any, row: int) -> DataError:
        shown = repr(value)
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        return DataError(
            f"The sql read of {self.what} on {self.where}: column '{column.name}' "
            f"({column.sql_type}) holds {shown} in row {row}, which is not a "
            f"{column.logical} value.", node=self.node,
            fix=f"CAST the column in the query (e.g. CAST({column.name} AS TEXT)), or fix the "
                "stored value; dates and timestamps in SQLite must be ISO 8601 text.")

    def error(self, exc: BaseException) -> Exception:
        """The odibi error for a database error (transient, login, missing object, other)."""
        reason = self.connection.redact(first_line(exc))
        state = _sqlstate(exc)
        kind = _kind(exc, state, reason)
        if kind == "transient":
            return TransientError(
                f"The sql read of {self.what} on {self.where} could not get its rows: "
                f"{reason}", node=self.node,
                fix="odibi retries transient errors (the retry block); if it persists, check "
                    "that the database server is up and reachable from here.")
        if kind == "auth":
            return ConfigError(ConfigProblem(
                message=f"Node {self.node}: {self.where} refused the login: {reason}",
                key_path=f"connections.{self.connection.name}.url",
                fix="Check the user and password of the url (and the ${...} variable it reads "
                    "the password from)."))
        if kind == "missing":
            return DataError(
                f"The sql read of {self.what} on {self.where} failed: {reason}",
                node=self.node, fix=self._missing_fix())
        return DataError(f"The sql read of {self.what} on {self.where} failed: {reason}",
                         node=self.node,
                         fix="Check the query (run it in a SQL client against the same "
                             "database) and options.params.")

    def _missing_fix(self) -> str:
        tables = self._tables()
        listing = f" Tables there: {tables}." if tables else ""
        if self.table is not None:
            return ("Check read.table and options.schema (a name with capitals is quoted as "
                    f"written; write it in lower case for a case-insensitive match).{listing}")
        return ("Check the table and column names of the query (and read.incremental.column, "
                f"which must be a column of its result).{listing}")

    def _tables(self) -> str:
        """A few table names of the schema read from (best effort, for the fix)."""
        import sqlalchemy as sa

        schema = split_table(self.table, self.schema)[0] if self.table else None
        try:
            with self.connection.engine().connect() as conn:
                names = sorted(sa.inspect(conn).get_table_names(schema=schema))
        except Exception:  # noqa: BLE001 - only a hint
            return ""
        shown = ", ".join(names[:20])
        return shown + (f", ... ({len(names)} in all)" if len(names) > 20 else "")


def _sqlstate(exc: BaseException) -> str | None:
    orig = getattr(exc, "orig", None)
    for holder in (orig, exc):
        for attribute in ("pgcode", "sqlstate"):
            value = getattr(holder, attribute, None)
            if isinstance(value, str) and value:
                return value
    return None


def _kind(exc: BaseException, state: str | None, reason: str) -> str:
    """transient | auth | missing | other."""
    import sqlalchemy as sa

    if isinstance(exc, sa.exc.DBAPIError) and exc.connection_invalidated:
        return "transient"
    if isinstance(exc, (sa.exc.TimeoutError, sa.exc.DisconnectionError)):
        return "transient"
    if state is not None:
        if state.startswith(_AUTH_STATES):
            return "auth"
        if state.startswith(_TRANSIENT_STATES):
            return "transient"
        if state.startswith(_MISSING_STATES):
            return "missing"
        return "other"
    if _AUTH_PHRASES.search(reason):
        return "auth"
    if _MISSING_PHRASES.search(reason):
        return "missing"
    if isinstance(exc, (sa.exc.OperationalError, sa.exc.InterfaceError)) \
            and _TRANSIENT_PHRASES.search(reason):
        return "transient"
    return "other"


def _chunk(columns: Sequence[_Column], rows: Sequence[Any], context: _Context) -> pa.Table:
    import pyarrow as pa


    values = list(zip(*rows)) if rows else [() for _ in columns]
    arrays = []
    for column, items in zip(columns, values):
        if column.logical is None:
            arrays.append(_inferred(items))
            continue
        convert = _converter(column.logical)
        converted = []
        for index, value in enumerate(items):
            if value is None:
                converted.append(None)
                continue
            try:
                converted.append(convert(value))
            except _Misfit:
                raise context.misfit(column, value, index + 1) from None
        try:
            arrays.append(pa.array(converted, type=arrow_type_of(column.logical)))
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as exc:
            bad = _first_unfit(converted, arrow_type_of(column.logical))
            raise context.misfit(column, items[bad] if bad is not None else "?",
                                 (bad or 0) + 1) from exc
    return pa.Table.from_arrays(arrays, names=[c.name for c in columns])


def _first_unfit(values: Sequence[Any], arrow_type: Any) -> int | None:
    import pyarrow as pa

    for index, value in enumerate(values):
        try:
            pa.array([value], type=arrow_type)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            return index
    return None


def _inferred(items: Sequence[Any]) -> pa.Array:
    import pyarrow as pa

    values = [_inferable(v) for v in items]
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        # Mixed values (SQLite stores any value in any column): their text.
        return pa.array([None if v is None else _to_string(v) for v in values], type=pa.string())


def _assemble(columns: Sequence[_Column], chunks: list[pa.Table], context: _Context) -> pa.Table:
    import pyarrow as pa


    if not chunks:
        return pa.schema([pa.field(c.name, arrow_type_of(c.logical) if c.logical else pa.null())
                          for c in columns]).empty_table()
    if len(chunks) == 1:
        return chunks[0]
    try:
        return pa.concat_tables(chunks, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise DataError(
            f"The sql read of {context.what} on {context.where}: a column without a declared "
            f"type holds values of different types in different rows ({exc}).",
            node=context.node,
            fix="CAST the column to one type in the query (SQLite expressions have no declared "
                "type; odibi then goes by the values).") from exc
