"""Engines, chosen by name: ``get_engine("pandas")``.

The registry maps each engine name to ``"module:Class"`` so that choosing an engine imports its
library (pandas, polars, pyspark) only then; importing this package loads none of them.
"""

from __future__ import annotations

import importlib
from difflib import get_close_matches
from collections.abc import Mapping
from typing import Any

from odibi_core.engines.base import Engine
from odibi_core.errors import ConfigError, ConfigProblem

__all__ = ["ENGINES", "ENGINE_ALIASES", "Engine", "available_engines", "build_engine",
           "engine_for_project", "get_engine"]

ENGINES: dict[str, str] = {
    "pandas": "odibi_core.engines.pandas:PandasEngine",
    "polars": "odibi_core.engines.polars:PolarsEngine",
    "spark": "odibi_core.engines.spark:SparkEngine",
}
ENGINE_ALIASES: dict[str, str] = {
    "pd": "pandas",
    "pl": "polars",
    "pyspark": "spark",
}
# The extra that installs an engine's library, for the message when it is missing.
_EXTRAS = {"spark": "odibi-dagster[spark]"}


def available_engines() -> list[str]:
    """Names :func:`get_engine` accepts (aliases excluded)."""
    return sorted(ENGINES)


def engine_for_project(config: Any, **options: Any) -> Engine:
    """The engine a project's configuration (``ProjectConfig``) names, with its settings
    (``polars.streaming``); ``options`` are passed on (a Spark ``session``)."""
    return build_engine(str(config.engine), polars_streaming=bool(config.polars.streaming),
                        **options)


def build_engine(name: str, *, polars_streaming: bool = False, session: Any = None,
                 session_config: Mapping[str, Any] | None = None) -> Engine:
    """Engine ``name`` with the project's settings that apply to it: polars' streaming switch;
    for an engine that runs in a session (Spark), ``session`` or else the process's own, built
    with ``session_config`` (the project's ``spark`` block)."""
    key = ENGINE_ALIASES.get(name, name)
    if key == "polars":
        return get_engine(key, streaming=polars_streaming)
    if key == "spark":
        if session is None:
            from odibi_core.engines.spark_session import spark_session

            session = spark_session(session_config)
        return get_engine(key, session=session)
    return get_engine(key)


def get_engine(name: str, **options: Any) -> Engine:
    """A new engine by name or alias, built with ``options``.

    Raises:
        ConfigError: the name is unknown (with a did-you-mean) or the options do not fit.

    Example:
        >>> get_engine("pd").name
        'pandas'
    """
    key = ENGINE_ALIASES.get(name.strip().lower(), name.strip().lower())
    if key not in ENGINES:
        raise ConfigError(_unknown(name))
    module_name, _, class_name = ENGINES[key].partition(":")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except ModuleNotFoundError as exc:
        raise ConfigError(ConfigProblem(
            message=f"The {key} engine needs the Python package '{exc.name}', which is not "
                    "installed.",
            key_path="engine",
            fix=f"pip install '{_EXTRAS.get(key, exc.name)}'",
        )) from exc
    try:
        return cls(**options)
    except TypeError as exc:
        raise ConfigError(ConfigProblem(
            message=f"Engine '{key}' does not accept the options {sorted(options)} ({exc}).",
            key_path="engine",
            fix="Remove the options, or check the engine's documentation.",
        )) from exc


def _unknown(name: str) -> ConfigProblem:
    known = available_engines()
    close = get_close_matches(name, [*known, *ENGINE_ALIASES], n=1)
    hint = f" Did you mean '{ENGINE_ALIASES.get(close[0], close[0])}'?" if close else ""
    return ConfigProblem(
        message=f"Unknown engine '{name}'.{hint}",
        key_path="engine",
        fix="Known engines: " + ", ".join(known) + ".",
    )
