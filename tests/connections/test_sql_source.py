"""``type: sql`` connections and ``format: sql`` reads, against SQLite (a file under tmp) and a
real PostgreSQL started on loopback (``tests.webui.postgres_server``): query and table reads,
bound parameters, chunking, the SQL -> Arrow types on both databases, the incremental pushdown,
error classification, ``odibi doctor``'s checks, and a Dagster run whose URL holds
``${PG_PASSWORD}``: the password is in no story, record or event.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import dagster as dg
import pytest
import sqlalchemy as sa

from odibi_core.config import load_project
from odibi_core.connections import build_connection
from odibi_core.connections.sql import SqlConnection
from odibi_core.engines import get_engine
from odibi_core.error_taxonomy import classify, is_transient
from odibi_core.errors import ConfigError, DataError, TransientError
from odibi_core.sources import read_source
from odibi_core.storage.logical_types import logical_type_of_arrow
from odibi_core.storage.requests import LowerBound
from odibi_dagster.execution import run_project
from tests.conformance.conformance_projects import run_nodes
from tests.processes import free_port
from tests.webui.postgres_server import PostgresServer

PG_USER = "odibi_reader"
PG_PASSWORD = "Pg-s3cret-9f4b2e71"  # the secret no output may show
PG_DB = "shop"

# One DDL and one set of rows for both databases.
ORDERS_DDL = """
CREATE TABLE orders (
    id INTEGER NOT NULL, qty SMALLINT, big BIGINT, amount NUMERIC(10,2), total NUMERIC,
    ratio REAL, score DOUBLE PRECISION, name VARCHAR(20), note TEXT, paid BOOLEAN, day DATE,
    updated_at TIMESTAMP, seen_at TIMESTAMP WITH TIME ZONE)
"""
ORDERS_ROWS = [
    "(1, 2, 3000000000, 12.50, 1.5, 0.5, 2.25, 'ann', NULL, TRUE, '2026-01-02', "
    "'2026-01-02 03:04:05', '2026-01-02 03:04:05+00:00')",
    "(2, 1, 7, 7.05, 100, 0.25, -1.5, 'bob', 'gift', FALSE, '2026-01-03', "
    "'2026-01-03 10:00:00.250000', '2026-01-03 12:00:00+02:00')",
    "(3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, "
    "'2026-01-04 09:30:00', NULL)",
]
ORDERS_TYPES = {
    "id": "int64", "qty": "int64", "big": "int64", "amount": "decimal(10,2)",
    "total": "decimal(38,18)", "ratio": "float64", "score": "float64", "name": "string",
    "note": "string", "paid": "bool", "day": "date", "updated_at": "timestamp_ntz",
    "seen_at": "timestamp",
}
UTC = dt.timezone.utc
ORDERS_EXPECTED = [
    {"id": 1, "qty": 2, "big": 3000000000, "amount": Decimal("12.50"),
     "total": Decimal("1.500000000000000000"), "ratio": 0.5, "score": 2.25, "name": "ann",
     "note": None, "paid": True, "day": dt.date(2026, 1, 2),
     "updated_at": dt.datetime(2026, 1, 2, 3, 4, 5),
     "seen_at": dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)},
    {"id": 2, "qty": 1, "big": 7, "amount": Decimal("7.05"),
     "total": Decimal("100.000000000000000000"), "ratio": 0.25, "score": -1.5, "name": "bob",
     "note": "gift", "paid": False, "day": dt.date(2026, 1, 3),
     "updated_at": dt.datetime(2026, 1, 3, 10, 0, 0, 250000),
     "seen_at": dt.datetime(2026, 1, 3, 10, 0, 0, tzinfo=UTC)},
    {"id": 3, "qty": None, "big": None, "amount": None, "total": None, "ratio": None,
     "score": None, "name": None, "note": None, "paid": None, "day": None,
     "updated_at": dt.datetime(2026, 1, 4, 9, 30), "seen_at": None},
]


# ---- databases ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the module (each test makes its own tables)."""
    with PostgresServer(user=PG_USER, password=PG_PASSWORD, database=PG_DB) as server:
        yield server


def pg_url(server: PostgresServer, password: str = PG_PASSWORD) -> str:
    # No driver named: odibi picks psycopg2 (psycopg 3 is not installed here).
    return f"postgresql://{PG_USER}:{password}@{server.host}:{server.port}/{PG_DB}"


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SimpleNamespace]:
    """An empty database of each kind: ``url`` for the connection, ``run(sql)`` to set it up."""
    if request.param == "sqlite":
        url, root = "sqlite:///data/shop.db", tmp_path
        (tmp_path / "data").mkdir()
        admin = sa.create_engine(f"sqlite:///{tmp_path / 'data' / 'shop.db'}")
    else:
        server = request.getfixturevalue("postgres")
        url, root = pg_url(server), tmp_path
        admin = sa.create_engine(pg_url(server).replace("postgresql://",
                                                        "postgresql+psycopg2://"))
        with admin.begin() as conn:  # a clean database for each test
            conn.exec_driver_sql("DROP SCHEMA IF EXISTS public CASCADE")
            conn.exec_driver_sql("DROP SCHEMA IF EXISTS sales CASCADE")
            conn.exec_driver_sql("CREATE SCHEMA public")

    def run(*statements: str) -> None:
        with admin.begin() as conn:
            for statement in statements:
                conn.exec_driver_sql(statement)

    yield SimpleNamespace(kind=request.param, url=url, root=root, run=run, admin=admin)
    admin.dispose()


def with_orders(db: SimpleNamespace) -> None:
    db.run(ORDERS_DDL, *(f"INSERT INTO orders VALUES {row}" for row in ORDERS_ROWS))


def connection(db: SimpleNamespace, url: str | None = None) -> SqlConnection:
    built = build_connection("shop", {"type": "sql", "url": url or db.url}, db.root)
    assert isinstance(built, SqlConnection)
    return built


def read(*, table: str | None = None, query: str | None = None, **options: Any) -> Any:
    """A ReadConfig as the project file gives it."""
    from odibi_core.config.node import ReadConfig

    return ReadConfig.model_validate({"connection": "shop", "format": "sql", "table": table,
                                      "query": query, "options": options})


def types_of(table: Any) -> dict[str, str]:
    return {field.name: logical_type_of_arrow(field.type) for field in table.schema}


class Statements:
    """Every statement SQLAlchemy sends, with its parameters: a real ``before_cursor_execute``
    listener on all engines (not a mock: the statements still run)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, Any]] = []

    def __enter__(self) -> Statements:
        sa.event.listen(sa.engine.Engine, "before_cursor_execute", self._record)
        return self

    def __exit__(self, *exc: object) -> None:
        sa.event.remove(sa.engine.Engine, "before_cursor_execute", self._record)

    def _record(self, conn, cursor, statement, parameters, context, executemany) -> None:
        self.sent.append((statement, parameters))

    def reads(self) -> list[tuple[str, Any]]:
        return [(s, p) for s, p in self.sent if "orders" in s and s.lstrip().upper()
                .startswith("SELECT")]


# ---- reads and types ---------------------------------------------------------------------------
def test_table_read_gives_the_same_types_and_values_on_sqlite_and_postgres(database):
    with_orders(database)
    table = read_source(connection(database), read(table="orders"), node="p.orders")
    assert types_of(table) == ORDERS_TYPES
    assert sorted(table.to_pylist(), key=lambda r: r["id"]) == ORDERS_EXPECTED


def test_query_read_binds_params_and_keeps_declared_types(database):
    with_orders(database)
    query = ("SELECT id, name, amount, day, seen_at FROM orders "
             "WHERE paid = :paid AND day >= :since ORDER BY id;")
    table = read_source(connection(database),
                        read(query=query, params={"paid": False, "since": "2026-01-01"}),
                        node="p.orders")
    assert table.to_pylist() == [{"id": 2, "name": "bob", "amount": Decimal("7.05"),
                                  "day": dt.date(2026, 1, 3),
                                  "seen_at": dt.datetime(2026, 1, 3, 10, tzinfo=UTC)}]
    assert types_of(table) == {"id": "int64", "name": "string", "amount": "decimal(10,2)",
                               "day": "date", "seen_at": "timestamp"}
    # A quote in a parameter is data, not SQL.
    hostile = read(query="SELECT id FROM orders WHERE name = :name", params={"name": "x' OR '1'='1"})
    assert read_source(connection(database), hostile, node="p.orders").num_rows == 0


def test_empty_result_keeps_its_columns_and_types(database):
    with_orders(database)
    table = read_source(connection(database),
                        read(query="SELECT * FROM orders WHERE id > 100"), node="p.orders")
    assert table.num_rows == 0
    assert types_of(table) == ORDERS_TYPES


def test_rows_are_fetched_in_chunks_of_chunk_size(database):
    database.run("CREATE TABLE numbers (n INTEGER, label VARCHAR(10))",
                 *(f"INSERT INTO numbers VALUES ({n}, 'n{n}')" for n in range(1, 8)))
    table = read_source(connection(database),
                        read(query="SELECT n, label FROM numbers ORDER BY n", chunk_size=3),
                        node="p.numbers")
    assert table.column("n").to_pylist() == list(range(1, 8))
    assert table.column("n").num_chunks == 3  # 3 + 3 + 1 rows, one Arrow chunk per fetch
    whole = read_source(connection(database), read(table="numbers"), node="p.numbers")
    assert whole.column("n").num_chunks == 1 and types_of(whole) == {"n": "int64",
                                                                       "label": "string"}


def test_schema_option_and_dotted_table_name(postgres, tmp_path):
    admin = sa.create_engine(pg_url(postgres).replace("postgresql://", "postgresql+psycopg2://"))
    with admin.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA IF EXISTS sales CASCADE")
        conn.exec_driver_sql("CREATE SCHEMA sales")
        conn.exec_driver_sql('CREATE TABLE sales."Items" (sku TEXT, price NUMERIC(6,2))')
        conn.exec_driver_sql("INSERT INTO sales.\"Items\" VALUES ('a', 1.10)")
    admin.dispose()
    db = SimpleNamespace(url=pg_url(postgres), root=tmp_path)
    expected = [{"sku": "a", "price": Decimal("1.10")}]
    assert read_source(connection(db), read(table="Items", schema="sales"),
                       node="p.items").to_pylist() == expected
    assert read_source(connection(db), read(table="sales.Items"),
                       node="p.items").to_pylist() == expected
    with pytest.raises(DataError) as missing:
        read_source(connection(db), read(table="items", schema="sales"), node="p.items")
    message = str(missing.value)
    assert "table sales.items" in message and "does not exist" in message
    assert PG_PASSWORD not in message and f"{PG_USER}:***@" in message


def test_sqlite_expressions_without_declared_type_take_their_values_type(tmp_path):
    db = SimpleNamespace(url="sqlite:///x.db", root=tmp_path)
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (a INTEGER, b TEXT)")
        conn.exec_driver_sql("INSERT INTO t VALUES (1, 'x'), (2, 'y')")
    engine.dispose()
    table = read_source(connection(db), read(
        query="SELECT a, a * 1.5 AS half, count(*) OVER () AS n, upper(b) AS up FROM t"),
        node="p.t")
    assert types_of(table) == {"a": "int64", "half": "float64", "n": "int64", "up": "string"}


def test_a_value_that_does_not_fit_its_declared_type_is_a_data_error(tmp_path):
    db = SimpleNamespace(url="sqlite:///x.db", root=tmp_path)
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (id INTEGER, day DATE)")
        conn.exec_driver_sql("INSERT INTO t VALUES (1, '2026-01-01'), (2, 'soon')")
    engine.dispose()
    with pytest.raises(DataError) as bad:
        read_source(connection(db), read(table="t"), node="p.t")
    assert "column 'day' (DATE) holds 'soon' in row 2" in str(bad.value)
    assert not is_transient(bad.value)


def test_postgres_extra_types(postgres, tmp_path):
    admin = sa.create_engine(pg_url(postgres).replace("postgresql://", "postgresql+psycopg2://"))
    with admin.begin() as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS extra")
        conn.exec_driver_sql("CREATE TABLE extra (j JSONB, u UUID, b BYTEA, t TIME, "
                             "i INTERVAL, big NUMERIC(50,2), tags INT[])")
        conn.exec_driver_sql("INSERT INTO extra VALUES ('{\"a\": 1}', "
                             "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'xyz', '10:11:12', "
                             "'1 day 2 hours', 123.45, '{1,2}')")
    admin.dispose()
    db = SimpleNamespace(url=pg_url(postgres), root=tmp_path)
    table = read_source(connection(db), read(table="extra"), node="p.extra")
    assert types_of(table) == {"j": "string", "u": "string", "b": "binary", "t": "time",
                               "i": "duration", "big": "decimal(38,2)", "tags": "array<int64>"}
    assert table.to_pylist() == [{
        "j": '{"a": 1}', "u": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "b": b"xyz",
        "t": dt.time(10, 11, 12), "i": dt.timedelta(days=1, hours=2),
        "big": Decimal("123.45"), "tags": [1, 2]}]


# ---- incremental pushdown ----------------------------------------------------------------------
INCREMENTAL_PROJECT = """\
project: sqlinc
engine: pandas
connections:
  shop: {{type: sql, url: "{url}"}}
  lake: {{type: local, base_path: ./lake}}
system: {{connection: lake, path: _system}}
pipelines:
  - pipeline: p
    nodes:
      - name: orders
        read:
          connection: shop
          format: sql
          {target}
          incremental: {{mode: stateful, column: updated_at}}
        write: {{connection: lake, format: parquet, path: orders, mode: append}}
"""


@pytest.mark.parametrize("target", ["table: orders",
                                    'query: "SELECT id, day, updated_at FROM orders"'])
def test_stateful_incremental_read_pushes_the_mark_down(database, target):
    with_orders(database)
    root = database.root
    (root / "odibi.yaml").write_text(INCREMENTAL_PROJECT.format(url=database.url, target=target),
                                     encoding="utf-8")
    engine = get_engine("pandas")
    with Statements() as first:
        runs = run_nodes(root / "odibi.yaml", engine, run_id="r1")
    assert runs["orders"].succeeded, runs["orders"].result.error
    assert runs["orders"].result.rows_in == 3
    assert all("odibi_lower_bound" not in sql for sql, _ in first.reads())  # no mark yet

    # New rows after the mark; and an old row (below the mark) whose DATE would not convert:
    # only a read that left it in the database can succeed.
    database.run("INSERT INTO orders (id, day, updated_at) VALUES "
                 "(4, '2026-01-05', '2026-01-05 08:00:00'), "
                 "(5, '2026-01-06', '2026-01-06 08:00:00')")
    if database.kind == "sqlite":
        database.run("INSERT INTO orders (id, day, updated_at) VALUES "
                     "(6, 'not a date', '2025-12-31 00:00:00')")
    with Statements() as second:
        runs = run_nodes(root / "odibi.yaml", engine, run_id="r2")
    assert runs["orders"].succeeded, runs["orders"].result.error
    assert runs["orders"].result.rows_in == 2
    (sql, params), = second.reads()
    column = "updated_at"
    if target.startswith("query"):
        assert "FROM (SELECT id, day, updated_at FROM orders) AS odibi_src WHERE" in sql
    placeholder = "?" if database.kind == "sqlite" else "%(odibi_lower_bound)s"
    assert sql.rstrip().endswith(f"{column} > {placeholder}")
    mark = dt.datetime(2026, 1, 4, 9, 30)
    if database.kind == "sqlite":  # ISO text, 14 hours early (see odibi_core.sources.sql)
        assert params == ("2026-01-03 19:30:00",)
    else:
        assert params == {"odibi_lower_bound": mark}
    assert "2026-01-0" not in sql  # bound, never pasted into the SQL text


def test_read_sql_with_a_lower_bound_returns_only_newer_rows(database):
    with_orders(database)
    bound = LowerBound("updated_at", dt.datetime(2026, 1, 3))
    table = read_source(connection(database), read(table="orders"), node="p.orders",
                        lower_bound=bound)
    assert sorted(table.column("id").to_pylist()) == [2, 3]
    instant = LowerBound("seen_at", dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
    table = read_source(connection(database), read(query="SELECT id, seen_at FROM orders"),
                        node="p.orders", lower_bound=instant)
    # PostgreSQL compares instants; SQLite compares text from 14 hours before the mark, so it
    # also returns row 1 (at the mark, written with +00:00), never fewer rows than are newer.
    assert table.column("id").to_pylist() == ([1, 2] if database.kind == "sqlite" else [2])
    later = LowerBound("day", dt.date(2026, 1, 2))
    table = read_source(connection(database), read(table="orders"), node="p.orders",
                        lower_bound=later)
    assert table.column("id").to_pylist() == [2]  # dates compare exactly on both


# ---- errors ------------------------------------------------------------------------------------
def test_missing_table_and_column_are_data_errors_naming_the_masked_connection(database):
    with_orders(database)
    shop = connection(database)
    with pytest.raises(DataError) as table:
        read_source(shop, read(table="ordres"), node="p.orders")
    with pytest.raises(DataError) as column:
        read_source(shop, read(query="SELECT id, nope FROM orders"), node="p.orders")
    for error in (table.value, column.value):
        text = str(error)
        assert "[p.orders]" in text and "connection 'shop'" in text
        assert PG_PASSWORD not in text
        assert "Tables there: orders" in text  # the fix lists what is there
        assert classify(error).name == "data" and not is_transient(error)
    if database.kind == "postgres":
        assert f"postgresql+psycopg2://{PG_USER}:***@127.0.0.1" in str(table.value)


def test_unbound_or_unused_params_are_config_errors(database):
    with_orders(database)
    with pytest.raises(ConfigError) as missing:
        read_source(connection(database), read(query="SELECT * FROM orders WHERE id = :id"),
                    node="p.orders")
    assert "uses :id" in str(missing.value)
    with pytest.raises(ConfigError) as unused:
        read_source(connection(database), read(query="SELECT * FROM orders", params={"x": 1}),
                    node="p.orders")
    assert "options.params.x is not used" in str(unused.value)


def test_refused_and_dropped_connections_are_transient(postgres, tmp_path):
    closed = f"postgresql://{PG_USER}:{PG_PASSWORD}@127.0.0.1:{free_port()}/{PG_DB}"
    with pytest.raises(TransientError) as refused:
        read_source(connection(SimpleNamespace(root=tmp_path), closed),
                    read(query="SELECT 1 AS one"), node="p.one")
    assert "Connection refused" in str(refused.value) and PG_PASSWORD not in str(refused.value)
    assert is_transient(refused.value)
    # A connection the server drops while answering (the session terminates its own backend).
    db = SimpleNamespace(url=pg_url(postgres), root=tmp_path)
    with pytest.raises(TransientError) as dropped:
        read_source(connection(db), read(
            query="SELECT pg_terminate_backend(pg_backend_pid()) AS gone"), node="p.gone")
    assert any(words in str(dropped.value) for words in (
        "server closed the connection", "terminating connection")), str(dropped.value)
    assert is_transient(dropped.value)
    assert classify(dropped.value).transient and classify(refused.value).transient


def test_refused_login_is_a_config_error_on_the_url(postgres, tmp_path):
    db = SimpleNamespace(url=pg_url(postgres, password="Wrong-pw-1234"), root=tmp_path)
    with pytest.raises(ConfigError) as refused:
        read_source(connection(db), read(query="SELECT 1 AS one"), node="p.one")
    text = str(refused.value)
    assert "refused the login" in text and "password authentication failed" in text
    assert "Wrong-pw-1234" not in text and refused.value.problems[0].key_path == \
        "connections.shop.url"
    assert not is_transient(refused.value)


def test_missing_sqlite_file_is_a_data_error_and_is_not_created(tmp_path):
    shop = connection(SimpleNamespace(url="sqlite:///nowhere/shop.db", root=tmp_path))
    with pytest.raises(DataError, match="does not exist"):
        read_source(shop, read(table="orders"), node="p.orders")
    assert not (tmp_path / "nowhere").exists()


def test_a_sql_read_on_a_local_connection_is_a_config_error(tmp_path):
    lake = build_connection("lake", {"type": "local", "base_path": "."}, tmp_path)
    with pytest.raises(ConfigError, match="format: sql reads from a sql connection"):
        read_source(lake, read(table="orders"), node="p.orders")


# ---- the connection ----------------------------------------------------------------------------
def test_connection_resolves_masks_and_lists_its_secrets(tmp_path):
    shop = build_connection("shop", {"type": "sql", "url": "postgres://u:p%40ss-Word9@db:5432/x"
                                     "?sslmode=require"}, tmp_path)
    assert shop.url.drivername == "postgresql+psycopg2"  # postgres:// and no psycopg 3 here
    location = shop.resolve(table="sales.orders")
    assert location.display == "postgresql+psycopg2://u:***@db:5432/x?sslmode=require " \
                               "table sales.orders"
    assert location.table == "sales.orders" and not location.is_local
    assert shop.resolve(None).display == "postgresql+psycopg2://u:***@db:5432/x?sslmode=require"
    secrets = shop.secret_values()
    assert "p@ss-Word9" in secrets and "p%40ss-Word9" in secrets
    assert shop.redact("login p@ss-Word9 / p%40ss-Word9") == "login *** / ***"
    assert "p@ss" not in repr(shop)
    with pytest.raises(ConfigError, match="tables, not paths"):
        shop.resolve("orders.csv")
    named = build_connection("db", {"type": "sql", "url": "postgresql+psycopg://u:pw@h/x"},
                             tmp_path)
    assert named.url.drivername == "postgresql+psycopg"  # a named driver is kept


def test_relative_sqlite_paths_start_at_the_project_folder(tmp_path):
    relative = build_connection("db", {"type": "sql", "url": "sqlite:///data/shop.db"}, tmp_path)
    assert relative.url.database == str(tmp_path / "data" / "shop.db")
    absolute = build_connection("db", {"type": "sql", "url": "sqlite:////srv/shop.db"}, tmp_path)
    assert absolute.url.database == "/srv/shop.db"
    memory = build_connection("db", {"type": "sql", "url": "sqlite://"}, tmp_path)
    assert memory.url.database is None and memory.sqlite_file is None


def test_bad_url_and_missing_driver_are_config_errors_without_the_password(tmp_path):
    with pytest.raises(ConfigError) as bad:
        build_connection("db", {"type": "sql", "url": "postgresql://u:Secret-77pw@h:port/x"},
                         tmp_path)
    assert "not a valid SQLAlchemy URL" in str(bad.value) and "Secret-77pw" not in str(bad.value)
    assert bad.value.__cause__ is None and bad.value.__suppress_context__
    odd = build_connection("db", {"type": "sql", "url": "mysql+pymysql://u:Secret-77pw@h/x"},
                           tmp_path)
    with pytest.raises(ConfigError) as driver:
        read_source(odd, read(table="t"), node="p.t")
    assert "pymysql" in str(driver.value) and "Secret-77pw" not in str(driver.value)


def test_diagnose_postgres(postgres, tmp_path):
    admin = sa.create_engine(pg_url(postgres).replace("postgresql://", "postgresql+psycopg2://"))
    with admin.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS diag (id INT)")
    admin.dispose()
    good = connection(SimpleNamespace(url=pg_url(postgres), root=tmp_path))
    checks = good.diagnose(["diag", "public.diag", "missing_table",
                            "SELECT id FROM diag WHERE id = :x", "SELECT nope FROM diag"])
    assert [(c.name, c.ok) for c in checks] == [
        ("reachable", True), ("authenticated", True), ("path exists", True),
        ("path exists", True), ("path exists", False), ("path exists", True),
        ("path exists", False)]
    wrong = connection(SimpleNamespace(url=pg_url(postgres, "Wrong-pw-1234"), root=tmp_path))
    checks = wrong.diagnose(["diag"])
    assert [(c.name, c.ok) for c in checks] == [("reachable", True), ("authenticated", False)]
    down = connection(SimpleNamespace(root=tmp_path),
                      f"postgresql://{PG_USER}:{PG_PASSWORD}@127.0.0.1:{free_port()}/x")
    checks = down.diagnose(["diag"])
    assert [(c.name, c.ok) for c in checks] == [("reachable", False)]
    details = " ".join(c.detail for c in [*good.diagnose(["diag"]), *checks])
    assert PG_PASSWORD not in details and "Wrong-pw-1234" not in details and "***" in details


def test_diagnose_sqlite(tmp_path):
    missing = connection(SimpleNamespace(url="sqlite:///none.db", root=tmp_path))
    assert [(c.name, c.ok) for c in missing.diagnose([])] == [("reachable", False)]
    assert not (tmp_path / "none.db").exists()
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'here.db'}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (id INTEGER)")
    engine.dispose()
    here = connection(SimpleNamespace(url="sqlite:///here.db", root=tmp_path))
    assert [(c.name, c.ok) for c in here.diagnose(["t", "u"])] == [
        ("reachable", True), ("authenticated", None), ("path exists", True),
        ("path exists", False)]


# ---- options at load time ----------------------------------------------------------------------
BAD_OPTIONS = """\
project: bad
connections:
  shop: {type: sql, url: "sqlite:///shop.db"}
pipelines:
  - pipeline: p
    nodes:
      - name: a
        read:
          connection: shop
          format: sql
          table: orders
          options:
            chunksize: 100
      - name: b
        read:
          connection: shop
          format: sql
          query: "SELECT * FROM orders WHERE region IN (:regions)"
          options:
            params:
              regions: [EU, US]
      - name: c
        read:
          connection: shop
          format: sql
          table: orders
          options:
            chunk_size: 0
      - name: d
        read:
          connection: shop
          format: sql
          query: "SELECT 1"
          options:
            params:
              odibi_lower_bound: 3
"""


def test_bad_options_are_config_errors_with_file_line_and_key(tmp_path):
    path = tmp_path / "odibi.yaml"
    path.write_text(BAD_OPTIONS, encoding="utf-8")
    with pytest.raises(ConfigError) as bad:
        load_project(path)
    problems = {p.key_path: p for p in bad.value.problems}
    lines = BAD_OPTIONS.splitlines()
    expected = {
        "pipelines[0].nodes[0].read.options.chunksize": ("chunksize: 100", "Did you mean "
                                                         "'chunk_size'?"),
        "pipelines[0].nodes[1].read.options.params.regions": ("regions: [EU, US]",
                                                              "must be one value"),
        "pipelines[0].nodes[2].read.options.chunk_size": ("chunk_size: 0", "from 1 to"),
        "pipelines[0].nodes[3].read.options.params.odibi_lower_bound": (
            "odibi_lower_bound: 3", "is reserved"),
    }
    assert set(problems) == set(expected)
    for key, (line_text, words) in expected.items():
        problem = problems[key]
        assert problem.file == path and words in problem.message and problem.fix
        assert lines[problem.line - 1].strip() == line_text


# ---- a Dagster run with a secret in the URL ----------------------------------------------------
DAGSTER_PROJECT = """\
project: sqlrun
engine: pandas
connections:
  shop: {{type: sql, url: "postgresql://{user}:${{PG_PASSWORD}}@127.0.0.1:{port}/{db}"}}
  lake: {{type: local, base_path: ./lake}}
story: {{connection: lake, path: _stories}}
system: {{connection: lake, path: _system}}
pipelines:
  - pipeline: p
    nodes:
      - name: orders
        read:
          connection: shop
          format: sql
          {target}
        transform: {{steps: ["SELECT id, name, amount, seen_at FROM df"]}}
        write: {{connection: lake, format: delta, path: orders}}
"""


def _assert_nowhere(secret: str, *folders: Path) -> None:
    """No file under ``folders`` (stories, run records, Dagster's event log database) holds
    ``secret``, in any encoding it could be written in."""
    forms = {secret.encode(), secret.encode("utf-16-le")}
    for folder in folders:
        for file in folder.rglob("*"):
            if file.is_file():
                data = file.read_bytes()
                assert not any(form in data for form in forms), f"{secret!r} in {file}"


def _event_text(instance: dg.DagsterInstance, run_id: str) -> str:
    parts = []
    for record in instance.all_logs(run_id):
        parts.append(record.user_message or "")
        event = record.dagster_event
        if event is not None:
            parts.append(repr(event.event_specific_data))
            parts.append(str(event.message or ""))
    return "\n".join(parts)


def test_dagster_run_with_a_password_from_the_environment_never_shows_it(
        postgres, tmp_path, monkeypatch, dagster_home):
    admin = sa.create_engine(pg_url(postgres).replace("postgresql://", "postgresql+psycopg2://"))
    with admin.begin() as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS orders")
        conn.exec_driver_sql(ORDERS_DDL)
        for row in ORDERS_ROWS:
            conn.exec_driver_sql(f"INSERT INTO orders VALUES {row}")
    admin.dispose()
    monkeypatch.setenv("PG_PASSWORD", PG_PASSWORD)
    project_file = tmp_path / "odibi.yaml"

    def write(target: str) -> Any:
        project_file.write_text(DAGSTER_PROJECT.format(
            user=PG_USER, port=postgres.port, db=PG_DB, target=target), encoding="utf-8")
        return load_project(project_file)

    good = run_project(write("table: orders"), ["p.orders"])
    assert good.success, [r.error for r in good.results]
    from deltalake import DeltaTable

    stored = DeltaTable(str(tmp_path / "lake" / "orders")).to_pyarrow_table()
    assert sorted(stored.column("id").to_pylist()) == [1, 2, 3]
    assert str(stored.schema.field("amount").type) == "decimal128(10, 2)"

    bad = run_project(write("table: no_such_table"), ["p.orders"])
    assert not bad.success
    (result,) = bad.results
    assert result.status == "failed" and "no_such_table" in result.error.message
    assert f"{PG_USER}:***@127.0.0.1" in result.error.message

    with dg.DagsterInstance.get() as instance:
        events = _event_text(instance, good.run_id) + _event_text(instance, bad.run_id)
    assert "no_such_table" in events  # the failure is in the event log...
    assert PG_PASSWORD not in events  # ...without the password
    assert PG_PASSWORD not in result.error.message
    story_files = [p for p in (tmp_path / "lake" / "_stories").rglob("*") if p.is_file()]
    assert {p.suffix for p in story_files} >= {".json", ".html"}
    assert any(f"{PG_USER}:***@".encode() in p.read_bytes() for p in story_files
               if p.suffix == ".json")  # the failure, with the masked URL, is in a story
    # The grep below reads what it must: Dagster's event log database is under DAGSTER_HOME.
    assert any(b"no_such_table" in p.read_bytes() for p in dagster_home.rglob("*")
               if p.is_file())
    _assert_nowhere(PG_PASSWORD, tmp_path / "lake", dagster_home)
