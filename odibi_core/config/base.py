"""Shared building blocks of the config models: the strict base class and the checked value types.

Validators raise :func:`config_error` so that the loader can turn each failure into a
``ConfigProblem`` with our own message, its fix, and (through ``key``) the exact sub-key it is
about.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict
from pydantic_core import PydanticCustomError

__all__ = [
    "Duration",
    "IDENTIFIER_PATTERN",
    "INPUT_REF_PATTERN",
    "Identifier",
    "InputRef",
    "OdibiModel",
    "Scalar",
    "TAG_PATTERN",
    "TagName",
    "config_error",
    "parse_duration",
]

IDENTIFIER_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
TAG_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{1,63}$")  # Dagster's rule for tag values
INPUT_REF_PATTERN = re.compile(r"^\$([A-Za-z_][A-Za-z0-9_]*)\.([A-Za-z_][A-Za-z0-9_]*)$")

ERROR_TYPE = "odibi_config"


class OdibiModel(BaseModel):
    """Base of every config model: unknown keys are errors and loaded configs never change.

    The string literal under a field is what the key means: docs/reference.md and the JSON
    schema read it (:func:`odibi_core.config.json_schema.field_descriptions`). pydantic's
    ``use_attribute_docstrings`` would parse the source of every model at import instead.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)


def config_error(
    message: str, *, fix: str | None = None, key: str | None = None
) -> PydanticCustomError:
    """An error for a validator to raise.

    Args:
        message: what is wrong.
        fix: what the user should write instead.
        key: a sub-key of the model being validated that the problem is about (``"path"``,
            ``"options.keys"``), so the problem points at that line.
    """
    context: dict[str, Any] = {}
    if fix:
        context["fix"] = fix
    if key:
        context["key"] = key
    # pydantic fills "{name}" only for names in the context, so other braces stay as written.
    return PydanticCustomError(ERROR_TYPE, message, context)


def _check_identifier(value: str) -> str:
    if not IDENTIFIER_PATTERN.match(value):
        raise config_error(
            f"'{value}' is not a valid name: names use letters, digits and '_', and do not start "
            "with a digit.",
            fix=f"Rename it, e.g. '{_suggest(value, IDENTIFIER_PATTERN)}' "
            "(pattern [A-Za-z_][A-Za-z0-9_]*).",
        )
    return value


def _suggest(value: str, pattern: re.Pattern[str]) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9_]", "_", value)[:63] or "_"
    return cleaned if pattern.match(cleaned) else f"_{cleaned}"[:63]


def _check_tag(value: str) -> str:
    if not TAG_PATTERN.match(value):
        raise config_error(
            f"Tag '{value}' is not valid: tags become Dagster tags, whose values use only letters, "
            "digits, '_', '.' and '-', 1 to 63 characters.",
            fix=f"Rename it, e.g. '{_suggest(value, TAG_PATTERN)}' "
            "(pattern [A-Za-z0-9_.-]{1,63}, Dagster's rule for tag values).",
        )
    return value


def _check_input_ref(value: str) -> str:
    if not INPUT_REF_PATTERN.match(value):
        raise config_error(
            f"'{value}' is not a node reference.",
            fix="Write inputs as alias: $pipeline.node, e.g. customers: $crm.customers.",
        )
    return value


def _check_scalar(value: Any) -> Any:
    if isinstance(value, (dict, list, tuple, set)):
        raise config_error("Expected a single value (a number, a date or a string), got a "
                           f"{'map' if isinstance(value, dict) else 'list'}.")
    return value


_DURATION = re.compile(
    r"^\s*(\d+(?:\.\d+)?)\s*"
    r"(s|sec|secs|seconds?|m|min|mins|minutes?|h|hr|hrs|hours?|d|days?|w|weeks?)\s*$",
    re.IGNORECASE,
)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: Any) -> timedelta:
    """``"1h"``, ``"30 min"``, ``"7d"``, ``"2w"`` or a number of seconds -> ``timedelta``.

    Raises:
        PydanticCustomError: the text is not a duration (inside model validation this becomes a
            config problem).
    """
    if isinstance(value, timedelta):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return timedelta(seconds=value)
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match:
            unit = match.group(2).lower()
            seconds = _UNIT_SECONDS["m" if unit.startswith("mi") else unit[0]]
            return timedelta(seconds=float(match.group(1)) * seconds)
    raise config_error(
        f"'{value}' is not a duration.",
        fix="Write a number and a unit: s, m, h, d or w (e.g. 30m, 1h, 7d), or a number of "
        "seconds.",
    )


Identifier = Annotated[str, AfterValidator(_check_identifier)]
"""A pipeline, node or alias name: ``[A-Za-z_][A-Za-z0-9_]*``."""

TagName = Annotated[str, AfterValidator(_check_tag)]
"""A node tag, valid as a Dagster tag value: ``[A-Za-z0-9_.-]{1,63}``."""

InputRef = Annotated[str, AfterValidator(_check_input_ref)]
"""``$pipeline.node``."""

Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
"""A duration written as ``1h`` / ``30m`` / ``7d`` or seconds."""

Scalar = Annotated[Any, AfterValidator(_check_scalar)]
"""A single YAML value: number, string, date or timestamp (a bound of a range test)."""
