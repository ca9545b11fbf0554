"""engine.sql: several named tables, the node's frame as ``df``, SQL errors that name things."""

from __future__ import annotations

import pytest

from odibi_core.errors import DataError
from odibi_core.testing import assert_frames_equal, frame_from_rows


@pytest.fixture
def tables(engine):
    orders = frame_from_rows(engine, [
        {"order_id": 1, "customer_id": 10, "amount": 5},
        {"order_id": 2, "customer_id": 10, "amount": 7},
        {"order_id": 3, "customer_id": 20, "amount": 1},
    ])
    customers = frame_from_rows(engine, [{"customer_id": 10, "country": "UK"},
                                         {"customer_id": 20, "country": "US"}])
    return {"df": orders, "customers": customers}


def test_sql_over_several_tables(engine, tables):
    result = engine.sql(
        "SELECT c.country, count(*) AS orders, sum(o.amount) AS revenue "
        "FROM df AS o JOIN customers AS c ON o.customer_id = c.customer_id "
        "GROUP BY c.country", tables)
    assert_frames_equal(engine, result, [{"country": "UK", "orders": 2, "revenue": 12},
                                         {"country": "US", "orders": 1, "revenue": 1}],
                        schema={"country": "string", "orders": "int64", "revenue": "int64"})


def test_sql_types_and_timestamps_in_utc(engine):
    result = engine.sql(
        "SELECT CAST('2024-03-01 12:00:00' AS TIMESTAMP) AS local, "
        "CAST('2024-03-01 12:00:00' AS TIMESTAMPTZ) AS instant, DATE '2024-03-01' AS day, "
        "CAST(1.25 AS DOUBLE) AS x, CAST(2 AS BIGINT) AS n, 'a' AS s, true AS b", {})
    assert_frames_equal(engine, result, [{
        "local": "2024-03-01T12:00:00", "instant": "2024-03-01T12:00:00+00:00",
        "day": "2024-03-01", "x": 1.25, "n": 2, "s": "a", "b": True}],
        schema={"local": "timestamp_ntz", "instant": "timestamp", "day": "date",
                "x": "float64", "n": "int64", "s": "string", "b": "bool"})


def test_unknown_column_lists_available_columns(engine, tables):
    with pytest.raises(DataError, match=r"Column 'amout' does not exist\. Did you mean 'amount'\?"
                                        r" Available columns \(df: order_id, customer_id, amount;"
                                        r" customers: customer_id, country\)"):
        engine.sql("SELECT amout FROM df", tables, node="sales.orders")


def test_unknown_table_lists_available_tables(engine, tables):
    with pytest.raises(DataError, match=r"Table 'customer' is not available to this SQL\. Did "
                                        r"you mean 'customers'\? Available tables: df, customers"):
        engine.sql("SELECT * FROM customer", tables)


def test_syntax_error_is_a_data_error_with_the_query(engine, tables):
    with pytest.raises(DataError, match=r"SQL step failed[\s\S]*Query: SELEC 1") as info:
        engine.sql("SELEC 1", tables, node="sales.orders")
    assert info.value.node == "sales.orders"


def test_frames_are_not_modified_by_sql(engine, tables):
    engine.sql("SELECT * FROM df WHERE amount > 5", tables)
    assert engine.count(tables["df"]) == 3
