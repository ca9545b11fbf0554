"""The project's retry block becomes each asset's Dagster RetryPolicy, and the delays odibi
requests each retry with follow it (backoff, jitter, capped at max_delay)."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from odibi_core.config import load_project
from odibi_core.config.project import RetryConfig
from odibi_core.errors import ConfigError
from odibi_dagster import defs_from_project
from odibi_dagster.retry import allowed_attempts, build_retry_policy, retry_delay


def test_project_retry_and_node_override_become_retry_policies(retail: Path) -> None:
    sales = retail / "pipelines" / "sales.yaml"
    sales.write_text(sales.read_text().replace(
        "tags: [daily, finance]\n        depends_on: [clean_orders]\n        transformer",
        "tags: [daily, finance]\n        retry: {max_attempts: 1}\n        depends_on: [clean_orders]\n"
        "        transformer", 1))
    defs = defs_from_project(retail / "odibi.yaml")

    def policy_of(*key: str) -> dg.RetryPolicy | None:
        return defs.resolve_assets_def(dg.AssetKey(list(key))).op.retry_policy

    policy = policy_of("bronze", "raw_orders")
    # retry: {max_attempts: 2, backoff: exponential, initial_delay: 0.5}
    assert policy == dg.RetryPolicy(max_retries=1, delay=0.5, backoff=dg.Backoff.EXPONENTIAL)
    assert policy_of("sales", "revenue_by_country") is None


def test_jitter_reaches_the_policy_and_a_bad_value_is_a_config_error(retail: Path) -> None:
    config = retail / "odibi.yaml"
    text = config.read_text()
    config.write_text(text.replace("max_delay: 10}", "max_delay: 10, jitter: full}"))
    defs = defs_from_project(config)
    policy = defs.resolve_assets_def(dg.AssetKey(["bronze", "raw_orders"])).op.retry_policy
    assert policy == dg.RetryPolicy(max_retries=1, delay=0.5, backoff=dg.Backoff.EXPONENTIAL,
                                    jitter=dg.Jitter.FULL)

    config.write_text(text.replace("max_delay: 10}", "max_delay: 10, jitter: ful}"))
    with pytest.raises(ConfigError) as info:
        load_project(config)
    assert "retry.jitter" in str(info.value) and "plus_minus" in str(info.value)


def retry_block(**keys: object) -> RetryConfig:
    return RetryConfig.model_validate({"initial_delay": 0.5, "max_delay": 60, **keys})


def test_retry_delays_follow_the_backoff_and_stop_at_max_delay() -> None:
    exponential = retry_block(backoff="exponential")
    assert [retry_delay(exponential, n) for n in (1, 2, 3)] == [0.5, 1.5, 3.5]
    assert [retry_delay(retry_block(backoff="linear"), n) for n in (1, 2, 3)] == [0.5, 1.0, 1.5]
    assert [retry_delay(retry_block(backoff="constant"), n) for n in (1, 2)] == [0.5, 0.5]
    capped = retry_block(backoff="exponential", max_delay=2)
    assert [retry_delay(capped, n) for n in (1, 2, 3, 10)] == [0.5, 1.5, 2.0, 2.0]
    # The same numbers as Dagster's own policy (without a cap).
    policy = build_retry_policy(retry_block(backoff="exponential", max_attempts=5))
    assert policy is not None and [policy.calculate_delay(n) for n in (1, 2, 3)] == [0.5, 1.5, 3.5]


def test_jitter_randomises_within_its_bounds() -> None:
    full = retry_block(backoff="exponential", jitter="full")
    assert retry_delay(full, 2, rand=lambda: 0.5) == 0.75
    assert retry_delay(full, 2, rand=lambda: 0.0) == 0.0
    plus_minus = retry_block(backoff="constant", jitter="plus_minus")
    assert retry_delay(plus_minus, 1, rand=lambda: 0.0) == 0.0
    assert retry_delay(plus_minus, 1, rand=lambda: 1.0) == 1.0
    capped = retry_block(backoff="constant", jitter="plus_minus", max_delay=0.8)
    assert retry_delay(capped, 1, rand=lambda: 1.0) == 0.8
    delays = {retry_delay(full, 3) for _ in range(50)}
    assert len(delays) > 1 and all(0 <= d <= 3.5 for d in delays)


def test_retries_off_means_one_attempt_and_no_policy() -> None:
    assert build_retry_policy(retry_block(enabled=False)) is None
    assert build_retry_policy(retry_block(max_attempts=1)) is None
    assert allowed_attempts(retry_block(enabled=False, max_attempts=5)) == 1
    assert allowed_attempts(retry_block(max_attempts=4)) == 4


def test_a_node_can_override_jitter(tmp_path) -> None:
    from odibi_core.config.node import NodeRetryConfig
    from odibi_core.config.project import RetryConfig

    override = NodeRetryConfig.model_validate({"jitter": "full", "max_attempts": 5})
    merged = RetryConfig.model_validate({**RetryConfig().model_dump(),
                                         **override.model_dump(exclude_none=True)})
    assert (merged.jitter, merged.max_attempts) == ("full", 5)
