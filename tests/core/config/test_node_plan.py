"""The node plan: one answer to "how does this node write", whoever asks."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from odibi_core.config.node import NodeConfig
from odibi_core.config.node_plan import materialization, plan_write
from odibi_core.config.write_checks import effective_write_mode
from odibi_core.errors import ConfigError

MODES = [None, "overwrite", "append", "upsert", "append_once"]


def _node(mode: str | None, materialized: str, incremental: bool,
          streaming: str | None = None) -> NodeConfig:
    read: dict[str, Any] = {"connection": "src", "format": "delta", "path": "orders"}
    if incremental:
        read["incremental"] = {"mode": "stateful", "column": "updated_at"}
    if streaming is not None:
        read["streaming"] = True
    write: dict[str, Any] = {"connection": "lake", "format": "delta", "path": "out",
                             "options": {"keys": ["id"]}}
    if mode is not None:
        write["mode"] = mode
    if streaming is not None:
        write["streaming"] = {"output_mode": streaming}
    return NodeConfig.model_validate({"name": "n", "read": read, "write": write,
                                      "materialized": materialized})


def _expected(mode: str | None, materialized: str, streaming: str | None) -> str:
    if mode is not None:
        return mode
    if materialized == "incremental":
        return "upsert"  # the node has options.keys
    if streaming == "update":
        return "upsert"
    if streaming == "complete":
        return "overwrite"
    if streaming == "append":
        return "append"
    return "overwrite"


COMBINATIONS = list(itertools.product(MODES, ["table", "incremental"], [False, True],
                                      [None, "append", "update", "complete"]))


@pytest.mark.parametrize(("mode", "materialized", "incremental", "streaming"), COMBINATIONS)
def test_every_combination_has_one_mode_or_a_config_error(mode, materialized, incremental,
                                                           streaming) -> None:
    try:
        node = _node(mode, materialized, incremental, streaming)
    except (ConfigError, ValueError):
        return  # refused at load time (e.g. incremental without read.incremental)
    plan = plan_write(node)
    assert plan is not None
    assert plan.mode == _expected(mode, materialized, streaming)
    assert effective_write_mode(node) == plan.mode  # the load-time checks agree
    assert plan.only_newer_than_target == (materialized == "incremental")
    assert materialization(node) == ("streaming" if streaming else materialized)


def test_incremental_without_keys_appends_and_says_why() -> None:
    node = NodeConfig.model_validate({
        "name": "n", "materialized": "incremental",
        "read": {"connection": "src", "format": "csv", "path": "o.csv",
                 "incremental": {"mode": "stateful", "column": "updated_at"}},
        "write": {"connection": "lake", "format": "delta", "path": "out"}})
    plan = plan_write(node)
    assert plan is not None
    assert (plan.mode, plan.reason) == ("append", "materialized: incremental")
    assert plan.display_target == "lake:out"


def test_a_run_override_wins_and_turns_off_the_incremental_filter() -> None:
    node = _node(None, "incremental", True)
    plan = plan_write(node, mode_override="append")
    assert plan is not None
    assert (plan.mode, plan.reason, plan.only_newer_than_target) == \
        ("append", "run override", False)


def test_a_node_without_a_write_has_no_write_plan() -> None:
    node = NodeConfig.model_validate({"name": "n", "read": {"connection": "src",
                                                           "format": "csv", "path": "o.csv"}})
    assert plan_write(node) is None


def test_the_matrix_holds_loadable_nodes_of_every_kind() -> None:
    loadable = set()
    for combination in COMBINATIONS:
        try:
            node = _node(*combination)
        except (ConfigError, ValueError):
            continue
        loadable.add(materialization(node))
    assert loadable == {"table", "incremental", "streaming"}
