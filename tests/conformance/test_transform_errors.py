"""What a user sees when a transform is misused: bad params, unknown columns and names."""

from __future__ import annotations

import pytest

from odibi_core.errors import ConfigError, DataError
from odibi_core.testing import frame_from_rows
from odibi_core.transforms import apply_transform, transform


@pytest.fixture
def frame(engine):
    return frame_from_rows(engine, [{"order_id": 1, "amount": 5, "status": "open"}])


def run(engine, name, frame, params, tables=None):
    return apply_transform(engine, name, frame, params, tables or {}, node="sales.orders")


def test_unknown_param_suggests_and_lists_valid_keys(engine, frame):
    with pytest.raises(ConfigError, match=r"Node sales.orders: Transform 'filter_rows': unknown "
                                          r"parameter 'conditon'\. Did you mean 'condition'\?"
                                          r"[\s\S]*Valid parameters of filter_rows: condition"):
        run(engine, "filter_rows", frame, {"conditon": "amount > 1"})


def test_missing_param(engine, frame):
    with pytest.raises(ConfigError, match=r"Transform 'deduplicate': missing required parameter "
                                          r"'keys'[\s\S]*keys, order_by"):
        run(engine, "deduplicate", frame, {})


def test_bad_param_value(engine, frame):
    with pytest.raises(ConfigError, match=r"Transform 'join': parameter 'how': Input should be "
                                          r"'inner', 'left'"):
        run(engine, "join", frame, {"right": "x", "on": "order_id", "how": "sideways"})
    with pytest.raises(ConfigError, match=r"unknown type 'intger'\. Did you mean 'integer'\?"):
        run(engine, "cast_columns", frame, {"columns": {"amount": "intger"}})
    with pytest.raises(ConfigError, match=r"is not `column \[ASC\|DESC\]"):
        run(engine, "sort", frame, {"by": "amount DOWN"})


def test_unknown_transform_suggests(engine, frame):
    with pytest.raises(ConfigError, match=r"Unknown transform 'dedupe'\.[\s\S]*Built-ins: "
                                          r"aggregate, case_when"):
        run(engine, "dedupe", frame, {})
    with pytest.raises(ConfigError, match=r"Unknown transform 'filter_row'\. Did you mean "
                                          r"'filter_rows'\?"):
        run(engine, "filter_row", frame, {})


def test_reserved_builtin_not_yet_available(engine, frame):
    with pytest.raises(ConfigError, match=r"Built-in transform 'pivot' is not available in this "
                                          r"version yet"):
        run(engine, "pivot", frame, {})


@pytest.mark.parametrize("name,params", [
    ("select_columns", {"columns": ["order_id", "amout"]}),
    ("drop_columns", {"columns": ["amout"]}),
    ("rename_columns", {"columns": {"amout": "x"}}),
    ("cast_columns", {"columns": {"amout": "int64"}}),
    ("fill_nulls", {"values": {"amout": 0}}),
    ("sort", {"by": "amout"}),
    ("deduplicate", {"keys": ["amout"]}),
    ("clean_text", {"columns": ["amout"]}),
    ("distinct", {"columns": ["amout"]}),
])
def test_unknown_column_named_in_params(engine, frame, name, params):
    with pytest.raises(DataError, match=rf"\[sales.orders\] Transform '{name}': Column 'amout' "
                                        r"does not exist\. Did you mean 'amount'\? Available "
                                        r"columns: order_id, amount, status"):
        run(engine, name, frame, params)


@pytest.mark.parametrize("name,params", [
    ("filter_rows", {"condition": "amout > 1"}),
    ("derive_columns", {"columns": {"x": "amout * 2"}}),
    ("aggregate", {"group_by": ["status"], "aggregations": {"s": "sum(amout)"}}),
    ("case_when", {"output_col": "x", "cases": [{"condition": "amout > 1", "value": 1}]}),
])
def test_unknown_column_in_sql_expressions(engine, frame, name, params):
    with pytest.raises(DataError, match=rf"Transform '{name}': Column 'amout' does not exist\. "
                                        r"Did you mean 'amount'\?"):
        run(engine, name, frame, params)


def test_group_by_and_join_keys_are_checked(engine, frame):
    with pytest.raises(DataError, match=r"Group_by column 'state' does not exist\. Did you mean "
                                        r"'status'\?"):
        run(engine, "aggregate", frame, {"group_by": ["state"], "aggregations": {"n": "count(*)"}})
    with pytest.raises(DataError, match=r"Table 'customer' is not available to this node\. Did "
                                        r"you mean 'customers'\?"):
        run(engine, "join", frame, {"right": "customer", "on": "order_id"}, {"customers": frame})
    with pytest.raises(DataError, match=r"Join key 'id' does not exist"):
        run(engine, "join", frame, {"right": "customers", "on": "id"}, {"customers": frame})


def test_bad_cast_value_names_column_and_value(engine):
    frame = frame_from_rows(engine, [{"amount": "12"}, {"amount": "twelve"}])
    with pytest.raises(DataError, match=r"Column 'amount' has a value that is not int64: "
                                        r"'twelve'"):
        run(engine, "cast_columns", frame, {"columns": {"amount": "bigint"}})


def test_fill_value_of_the_wrong_type(engine, frame):
    frame = frame_from_rows(engine, [{"amount": None}], schema={"amount": "int64"})
    with pytest.raises(DataError, match=r"A fill value does not fit its column's type: amount "
                                        r"\(int64\) <- 'n/a'"):
        run(engine, "fill_nulls", frame, {"values": {"amount": "n/a"}})


def test_clean_text_refuses_non_strings(engine, frame):
    with pytest.raises(DataError, match=r"clean_text works on string columns; 'amount' is int64"):
        run(engine, "clean_text", frame, {"columns": ["amount"]})


def test_union_of_incompatible_tables(engine, frame):
    other = frame_from_rows(engine, [{"order_id": "x"}])
    with pytest.raises(DataError, match=r"incompatible column types"):
        run(engine, "union", frame, {"tables": ["other"]}, {"other": other})
    with pytest.raises(DataError, match=r"union by position needs the same number of columns"):
        run(engine, "union", frame, {"tables": ["other"], "by_name": False}, {"other": other})


def test_user_function_runs_through_the_engine(engine, frame):
    @transform("double_amount")
    def _double(df, factor: int = 2, tables=None):
        assert tables == {}
        return df

    assert engine.count(run(engine, "double_amount", frame, {"factor": 3})) == 1
    with pytest.raises(ConfigError, match=r"Transform 'double_amount' \(.*\) has no parameter "
                                          r"'factr'\. Did you mean 'factor'\?"):
        run(engine, "double_amount", frame, {"factr": 3})


def test_user_function_errors_become_data_errors(engine, frame):
    @transform
    def explode(df):
        raise KeyError("amount_with_tax")

    # The line of the function that raised: the CLI prints no traceback for a data error.
    raised_at = explode.__code__.co_firstlineno + 2  # @transform, def, raise
    with pytest.raises(DataError, match=r"\[sales.orders\] Transform 'explode' \(.*\) failed "
                                        rf"at test_transform_errors\.py:{raised_at}: "
                                        r"KeyError: 'amount_with_tax'"):
        run(engine, "explode", frame, {})

    @transform
    def forgets_return(df):
        df.head()

    with pytest.raises(DataError, match=r"returned None"):
        run(engine, "forgets_return", frame, {})


def test_builtin_without_an_input_frame(engine):
    with pytest.raises(DataError, match=r"Transform 'sort' needs an input frame"):
        apply_transform(engine, "sort", None, {"by": "x"}, {})
