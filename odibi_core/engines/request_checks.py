"""Checks of a read or write request that do not depend on the engine: one copy, used by every
engine (a new engine gets them by calling them, not by copying them)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from odibi_core.errors import ConfigError, ConfigProblem
from odibi_core.storage.requests import WriteRequest

__all__ = ["format_not_available", "refuse_unknown_options", "require_append_for_batch_replace"]


def refuse_unknown_options(fmt: str, action: str, options: Mapping[str, Any],
                           allowed: Sequence[str] = ()) -> None:
    """Refuse every key of ``options`` (of a ``read``/``write`` in ``fmt``) not in ``allowed``."""
    unknown = [k for k in options if k not in allowed]
    if unknown:
        raise ConfigError([ConfigProblem(
            message=f"Unknown {fmt} {action} option '{key}'.",
            key_path=f"{action}.options.{key}",
            fix=f"Valid {fmt} {action} options: {', '.join(allowed) or '(none)'}.",
        ) for key in unknown])


def format_not_available(fmt: str, action: str, engine: str) -> ConfigError:
    """The error for a format ``engine`` does not read or write."""
    return ConfigError(ConfigProblem(
        message=f"format '{fmt}' is not available on the {engine} engine yet ({action}).",
        key_path=f"{action}.format",
        fix="Use csv, parquet, json or delta; sql, api and avro sources come in a later "
            "release.",
    ))


def require_append_for_batch_replace(request: WriteRequest) -> None:
    """A batch replace deletes the batch's old rows and appends the new ones: ``append`` only."""
    if request.mode != "append":
        raise ConfigError(ConfigProblem(
            message=f"Replacing a batch needs mode append; this write is {request.mode}.",
            key_path="write.mode", fix="Write the batch with mode: append."))
