"""The config models on their own: defaults, strictness, and the rules inside one block."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from odibi_core.config import (
    AzureBlobConnectionConfig,
    DeltaCatalogConnectionConfig,
    DistributionTest,
    FunctionStep,
    LocalConnectionConfig,
    NodeConfig,
    PipelineConfig,
    ProjectConfig,
    ReadConfig,
    RetryConfig,
    SchemaPolicyConfig,
    SqlFileStep,
    SqlStep,
    ValidationConfig,
    WriteConfig,
    parse_duration,
)

LAKE = {"type": "local", "base_path": "./lake"}


def project(**overrides: Any) -> ProjectConfig:
    data: dict[str, Any] = {
        "project": "demo",
        "connections": {"lake": LAKE},
        "pipelines": [{"pipeline": "sales", "nodes": [
            {"name": "raw", "read": {"connection": "lake", "format": "csv", "path": "raw.csv"}}]}],
    }
    data.update(overrides)
    return ProjectConfig.model_validate(data)


def test_project_defaults() -> None:
    config = project()
    assert config.engine == "pandas"
    assert config.retry == RetryConfig(enabled=True, max_attempts=3, backoff="exponential",
                                       initial_delay=1.0, max_delay=60)
    assert config.story is None and config.system is None
    assert config.profiling.enabled is False
    assert config.profiling.include == ["null_percentage", "unique_count", "min_max", "histograms"]
    assert config.observability.metrics is None and config.observability.tracing is None
    assert config.vars == {} and config.environments == {} and config.imports == []
    pipeline = config.pipeline("sales")
    assert pipeline.on_failure == "keep" and pipeline.schedule is None
    node = pipeline.node("raw")
    assert node.enabled is True
    assert node.materialized == "table"
    assert node.cache is False
    assert node.tags == [] and node.depends_on == [] and node.inputs == {}


def test_write_defaults() -> None:
    write = WriteConfig(connection="lake", format="delta", path="silver/orders")
    assert write.mode == "overwrite"
    assert write.skip_if_unchanged is False and write.merge_schema is False
    assert write.partition_by == [] and write.keys == []


def test_models_are_frozen_and_strict() -> None:
    config = project()
    with pytest.raises(ValidationError):
        config.engine = "spark"  # type: ignore[misc]
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        LocalConnectionConfig.model_validate({"type": "local", "base_path": ".", "root": "x"})


def test_lookups_suggest_the_nearest_name() -> None:
    config = project()
    assert config.node("sales.raw").name == "raw"
    with pytest.raises(KeyError, match="Did you mean 'sales'"):
        config.pipeline("sale")
    with pytest.raises(KeyError, match="Did you mean 'raw'"):
        config.pipeline("sales").node("rwa")
    with pytest.raises(KeyError, match="Did you mean 'sales.raw'"):
        config.node("sales.rw")


def test_retry_for_lays_the_node_block_over_the_project_block() -> None:
    config = project(pipelines=[{"pipeline": "sales", "nodes": [
        {"name": "raw", "read": {"connection": "lake", "format": "csv", "path": "raw.csv"},
         "retry": {"max_attempts": 5}}]}])
    retry = config.retry_for(config.node("sales.raw"))
    assert retry.max_attempts == 5 and retry.backoff == "exponential" and retry.max_delay == 60


def test_connection_types_and_aliases() -> None:
    config = project(connections={
        "lake": LAKE,
        "adls": {"type": "azure_adls", "account_name": "a", "container": "c",
                 "auth": {"mode": "sas", "sas_token": "t"}},
        "meta": {"type": "delta", "schema": "silver"},
    })
    adls = config.connections["adls"]
    assert isinstance(adls, AzureBlobConnectionConfig) and adls.type == "azure_adls"
    assert adls.auth is not None and adls.auth.mode == "sas"
    meta = config.connections["meta"]
    assert isinstance(meta, DeltaCatalogConnectionConfig) and meta.schema_name == "silver"
    assert DeltaCatalogConnectionConfig(type="delta", schema="gold").schema_name == "gold"


def test_steps_plain_strings_become_sql_steps() -> None:
    node = NodeConfig.model_validate({"name": "n", "transform": {"steps": [
        "SELECT 1", {"sql": "SELECT 2"}, {"sql_file": "q.sql"},
        {"function": "f", "params": {"a": 1}}]}})
    assert node.steps == [SqlStep(sql="SELECT 1"), SqlStep(sql="SELECT 2"),
                          SqlFileStep(sql_file="q.sql"),
                          FunctionStep(function="f", params={"a": 1})]


@pytest.mark.parametrize("step", [{"sql": "x", "function": "f"}, {"params": {}}, 3])
def test_a_step_is_exactly_one_kind(step: Any) -> None:
    with pytest.raises(ValidationError, match="exactly one of sql, sql_file, function, operation"):
        NodeConfig.model_validate({"name": "n", "transform": {"steps": [step]}})


@pytest.mark.parametrize(
    ("read", "message"),
    [
        ({"format": "csv"}, "needs exactly one of path or table"),
        ({"format": "csv", "path": "a", "table": "b"}, "needs exactly one of path or table"),
        ({"format": "csv", "query": "SELECT 1"}, "takes path or table, not query"),
        ({"format": "sql"}, "needs exactly one of query or table"),
        ({"format": "sql", "path": "x"}, "takes query or table, not path"),
        ({"format": "api", "table": "t"}, "takes path, not table"),
        ({"format": "csv", "path": "a", "time_travel": {"as_of_version": 1}},
         "only works with format: delta"),
        ({"format": "delta", "path": "a", "time_travel": {}},
         "exactly one of as_of_version or as_of_timestamp"),
    ],
)
def test_read_target_rules(read: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ReadConfig.model_validate({"connection": "c", **read})


def test_valid_read_targets() -> None:
    assert ReadConfig(connection="db", format="sql", query="SELECT 1").query == "SELECT 1"
    assert ReadConfig(connection="db", format="sql", table="orders").table == "orders"
    assert ReadConfig(connection="api", format="api").path is None
    read = ReadConfig.model_validate({"connection": "c", "format": "delta", "path": "t",
                                      "time_travel": {"as_of_timestamp": "2026-01-01T00:00:00Z"},
                                      "incremental": {"mode": "stateful", "column": "u",
                                                      "watermark_lag": "1h"}})
    assert read.time_travel is not None and read.time_travel.as_of_timestamp.year == 2026
    assert read.incremental is not None and read.incremental.watermark_lag == timedelta(hours=1)


def test_upsert_needs_keys() -> None:
    with pytest.raises(ValidationError, match="needs the key columns in options.keys"):
        WriteConfig(connection="c", format="delta", path="p", mode="upsert")
    write = WriteConfig(connection="c", format="delta", path="p", mode="append_once",
                        options={"keys": ["id"]})
    assert write.keys == ["id"]


@pytest.mark.parametrize("name", ["2bad", "has-dash", "has space", "ünï", ""])
def test_bad_identifiers(name: str) -> None:
    with pytest.raises(ValidationError, match="is not a valid name"):
        PipelineConfig.model_validate({"pipeline": name, "nodes": [{"name": "a"}]})


@pytest.mark.parametrize("tag", ["daily", "pii.v2", "a-b_c", "x" * 63])
def test_good_tags(tag: str) -> None:
    assert NodeConfig(name="n", tags=[tag]).tags == [tag]


@pytest.mark.parametrize("tag", ["has space", "x" * 64, "a:b", ""])
def test_bad_tags(tag: str) -> None:
    with pytest.raises(ValidationError, match="Dagster tags"):
        NodeConfig(name="n", tags=[tag])


def test_inputs_must_be_pipeline_node_references() -> None:
    assert NodeConfig(name="n", inputs={"c": "$crm.customers"}).input_refs == {"c": "crm.customers"}
    with pytest.raises(ValidationError, match="is not a node reference"):
        NodeConfig(name="n", inputs={"c": "crm.customers"})


def test_params_need_a_transformer() -> None:
    with pytest.raises(ValidationError, match="params is given without a transformer"):
        NodeConfig(name="n", params={"a": 1})


def test_contracts_always_block() -> None:
    with pytest.raises(ValidationError, match="contracts always block"):
        NodeConfig.model_validate({"name": "n", "contracts": [
            {"type": "row_count", "min": 1, "on_fail": "warn"}]})


def test_quarantine_tests_need_a_destination() -> None:
    with pytest.raises(ValidationError, match="has no quarantine destination"):
        ValidationConfig.model_validate({"tests": [
            {"type": "not_null", "columns": ["a"], "on_fail": "quarantine"}]})


def test_aggregate_tests_cannot_quarantine() -> None:
    with pytest.raises(ValidationError, match="'fail' or 'warn'"):
        ValidationConfig.model_validate({"tests": [
            {"type": "row_count", "min": 1, "on_fail": "quarantine"}]})


def test_gate_thresholds_name_existing_tests() -> None:
    with pytest.raises(ValidationError, match="not among this node's tests"):
        ValidationConfig.model_validate({
            "tests": [{"type": "unique", "columns": ["a"]}],
            "gate": {"thresholds": [{"test": "not_null", "min_pass_rate": 0.9}]}})


def test_distribution_threshold_is_a_comparison() -> None:
    test = DistributionTest(type="distribution", column="a", metric="mean", threshold=">= 10.5")
    assert (test.operator, test.bound) == (">=", 10.5)
    with pytest.raises(ValidationError, match="is not a comparison"):
        DistributionTest(type="distribution", column="a", metric="mean", threshold="about 10")


def test_schema_policy_defaults_follow_the_mode() -> None:
    assert SchemaPolicyConfig().on_new_columns == "ignore"
    assert SchemaPolicyConfig.model_validate({"mode": "evolve"}).on_new_columns == "add_nullable"
    with pytest.raises(ValidationError, match="mode: enforce forbids"):
        SchemaPolicyConfig(mode="enforce", on_new_columns="add_nullable")


@pytest.mark.parametrize("schedule", ["0 6 * * *", "*/5 * * * 1-5", "@daily"])
def test_good_schedules(schedule: str) -> None:
    pipeline = PipelineConfig(pipeline="p", schedule=schedule, nodes=[NodeConfig(name="n")])
    assert pipeline.schedule is not None
    assert (pipeline.schedule.cron, pipeline.schedule.timezone) == (schedule, "UTC")


def test_bad_schedule() -> None:
    with pytest.raises(ValidationError, match="is not a cron schedule"):
        PipelineConfig(pipeline="p", schedule="every day", nodes=[NodeConfig(name="n")])


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1h", timedelta(hours=1)), ("30m", timedelta(minutes=30)), ("30 min", timedelta(minutes=30)),
     ("7d", timedelta(days=7)), ("2w", timedelta(weeks=2)), ("45s", timedelta(seconds=45)),
     (90, timedelta(seconds=90)), ("1.5h", timedelta(minutes=90))],
)
def test_parse_duration(text: Any, expected: timedelta) -> None:
    assert parse_duration(text) == expected


def test_bad_duration() -> None:
    with pytest.raises(ValueError, match="is not a duration"):
        parse_duration("soon")


def test_retry_delays_are_ordered() -> None:
    with pytest.raises(ValidationError, match="max_delay"):
        RetryConfig(initial_delay=10, max_delay=1)
