"""Dagster's console log of a run odibi starts (quiet unless asked), and an internal error's
traceback rebuilt from Dagster's serialized error (Python's layout, the wrappers left out)."""

from __future__ import annotations

import sys

import pytest
from dagster._utils.error import serializable_error_info_from_exc_info

from odibi_core.errors import NodeError, OdibiError
from odibi_dagster.failures import python_traceback
from odibi_dagster.run_logging import LOG_LEVEL_ENV, console_log_level, run_config_loggers


def test_dagsters_console_log_is_quiet_unless_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(LOG_LEVEL_ENV, raising=False)
    assert console_log_level() == "CRITICAL"  # no Dagster event is logged at CRITICAL
    assert console_log_level(verbose=True) == "DEBUG"
    for value, level in (("debug", "DEBUG"), ("Warning", "WARNING"), (" error ", "ERROR"),
                         ("", "CRITICAL")):
        monkeypatch.setenv(LOG_LEVEL_ENV, value)
        assert console_log_level() == level
    monkeypatch.setenv(LOG_LEVEL_ENV, "info")
    assert console_log_level(verbose=True) == "DEBUG"  # --verbose wins
    assert run_config_loggers() == {"console": {"config": {"log_level": "INFO"}}}


def test_an_unknown_log_level_names_the_valid_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(LOG_LEVEL_ENV, "loud")
    with pytest.raises(OdibiError, match=r"ODIBI_LOG_LEVEL='loud' is not a log level") as caught:
        console_log_level()
    assert caught.value.fix is not None and "debug, info, warning, error" in caught.value.fix


def _lookup(state: dict[str, int]) -> int:
    return state["batch"]


def test_a_traceback_leaves_out_the_wrappers_around_the_real_error() -> None:
    import dagster as dg

    try:  # the chain a node step raises: Failure from NodeError from the node's exception
        try:
            try:
                _lookup({})
            except KeyError as bug:
                raise NodeError("KeyError: 'batch'", node="p.n", phase="write") from bug
        except NodeError as node_error:
            raise dg.Failure(description="[p.n] KeyError: 'batch'") from node_error
    except dg.Failure:
        info = serializable_error_info_from_exc_info(sys.exc_info())

    text = python_traceback(info)

    assert text.startswith("Traceback (most recent call last):\n")
    assert text.count("Traceback (most recent call last):") == 1
    assert 'in _lookup\n    return state["batch"]' in text
    assert text.endswith("KeyError: 'batch'")
    assert "Failure" not in text and "NodeError" not in text
