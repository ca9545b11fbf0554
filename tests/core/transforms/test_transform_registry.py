"""The @transform registry: decorator forms, guarded names, per-engine built-ins."""

from __future__ import annotations

import warnings

import pytest

import odibi_core
from odibi_core.engines import get_engine
from odibi_core.errors import ConfigError
from odibi_core.transforms import registry
from odibi_core.transforms.builtins.rows import FilterRowsParams, filter_rows_pandas
from odibi_core.transforms.registry import (
    RESERVED_BUILTINS,
    apply_transform,
    clear_user_transforms,
    get_params_model,
    list_transforms,
    register_builtin,
    transform,
    validate_params,
)

BUILTINS = {"aggregate", "case_when", "cast_columns", "clean_text", "deduplicate",
            "derive_columns", "distinct", "drop_columns", "fill_nulls", "filter_rows", "join",
            "rename_columns", "select_columns", "sort", "union"}


@pytest.fixture(autouse=True)
def _clean():
    clear_user_transforms()
    yield
    clear_user_transforms()


@pytest.fixture
def engine():
    return get_engine("pandas")


def test_exported_from_the_package():
    assert odibi_core.transform is transform
    assert "transform" in odibi_core.__all__


def test_bare_decorator_registers_under_the_function_name():
    def add_tax(df, rate: float = 0.2):
        return df

    assert transform(add_tax) is add_tax
    assert "add_tax" in list_transforms("pandas")


def test_named_and_empty_decorator_forms():
    @transform("tax")
    def add_tax(df):
        return df

    @transform()
    def clean(df):
        return df

    assert {"tax", "clean"} <= set(list_transforms())
    assert "add_tax" not in list_transforms()
    assert add_tax.__name__ == "add_tax"  # returned unchanged


def test_decorator_rejects_other_arguments():
    with pytest.raises(TypeError, match=r"@transform takes a function or a name"):
        transform(42)


@pytest.mark.parametrize("name", sorted(BUILTINS))
def test_builtins_cannot_be_shadowed(name):
    def fn(df):
        return df

    with pytest.raises(ConfigError, match=rf"@transform '{name}' would shadow the built-in "
                                          rf"transform '{name}'[\s\S]*my_{name}"):
        transform(name)(fn)


def test_reserved_names_cannot_be_shadowed_either():
    assert "scd2" in RESERVED_BUILTINS
    with pytest.raises(ConfigError, match=r"test_transform_registry.py:\d+: .*would shadow the "
                                          r"built-in transform 'scd2'"):
        @transform
        def scd2(df):
            return df


def test_invalid_names_are_refused():
    with pytest.raises(ConfigError, match=r"@transform name 'add-tax' is not a valid name"):
        transform("add-tax")(lambda df: df)


def test_registering_a_name_again_warns_and_replaces(engine):
    @transform("pick")
    def first(df):
        return "first"

    with pytest.warns(UserWarning, match=r"Transform 'pick' was already registered by "
                                         r"test_transform_registry.py:\d+; "
                                         r"test_transform_registry.py:\d+ replaces it"):
        @transform("pick")
        def second(df):
            return "second"

    assert apply_transform(engine, "pick", object(), {}, {}) == "second"


def test_registering_the_same_function_again_is_silent():
    def same(df):
        return df

    transform(same)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        transform(same)


def test_clear_user_transforms():
    transform("temporary")(lambda df: df)
    assert "temporary" in list_transforms()
    clear_user_transforms()
    assert set(list_transforms()) == BUILTINS


def test_list_transforms_per_engine():
    assert set(list_transforms("pandas")) == BUILTINS
    assert list_transforms("no_such_engine") == []


def test_user_functions_get_tables_and_engine_when_they_ask(engine):
    seen = {}

    @transform
    def peek(df, *, engine, tables, label: str = "x"):
        seen.update(engine=engine.name, tables=sorted(tables), label=label)
        return df

    apply_transform(engine, "peek", "frame", {"label": "y"}, {"a": 1, "b": 2})
    assert seen == {"engine": "pandas", "tables": ["a", "b"], "label": "y"}


def test_user_function_required_params(engine):
    @transform
    def needs(df, rate):
        return df

    with pytest.raises(ConfigError, match=r"Transform 'needs' \(.*\) needs the parameter 'rate'"):
        apply_transform(engine, "needs", "frame", {}, {})


def test_user_function_with_kwargs_accepts_anything(engine):
    @transform
    def loose(df, **options):
        return options

    assert apply_transform(engine, "loose", "frame", {"a": 1}, {}) == {"a": 1}


def test_builtins_register_per_engine(engine, monkeypatch):
    monkeypatch.setitem(registry._builtins, "filter_rows", dict(registry._builtins["filter_rows"]))
    register_builtin("filter_rows", "other", filter_rows_pandas, FilterRowsParams)
    assert "filter_rows" in list_transforms("other")
    assert {"pandas", "polars", "spark", "other"} <= set(registry._builtins["filter_rows"])

    class Params(FilterRowsParams):
        pass

    with pytest.raises(ValueError, match=r"every engine must use the same params model"):
        register_builtin("filter_rows", "third", filter_rows_pandas, Params)


def test_builtin_missing_on_an_engine(engine, monkeypatch):
    monkeypatch.setitem(registry._builtins, "only_elsewhere", {})
    register_builtin("only_elsewhere", "spark", filter_rows_pandas, FilterRowsParams)
    with pytest.raises(ConfigError, match=r"Built-in transform 'only_elsewhere' is not available "
                                          r"on the pandas engine yet \(available on: spark\)"):
        apply_transform(engine, "only_elsewhere", "frame", {"condition": "true"}, {})


def test_validate_params_for_the_loader():
    model = validate_params("sort", {"by": "x DESC"})
    assert model.keys()[0].descending is True
    assert get_params_model("sort") is type(model)
    assert get_params_model("nope") is None
    with pytest.raises(ConfigError, match=r"Node p.n: Transform 'sort': unknown parameter 'bye'"):
        validate_params("sort", {"bye": "x"}, node="p.n")
    with pytest.raises(ConfigError, match=r"Unknown transform 'srot'\. Did you mean 'sort'\?"):
        validate_params("srot", {})

    @transform
    def mine(df, rate: float = 1.0):
        return df

    assert validate_params("mine", {"rate": 2}) == {"rate": 2}


def test_every_problem_of_a_params_block_is_listed():
    with pytest.raises(ConfigError) as info:
        validate_params("clean_text", {"colums": ["a"], "case": "title"})
    messages = [p.message for p in info.value.problems]
    assert len(messages) == 3
    assert any("missing required parameter 'columns'" in m for m in messages)
    assert any("unknown parameter 'colums'. Did you mean 'columns'?" in m for m in messages)
    assert any("parameter 'case'" in m for m in messages)
    assert all(p.key_path.startswith("params") for p in info.value.problems)
