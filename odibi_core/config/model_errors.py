"""A pydantic validation error described as the user wrote the YAML, for any config model.

pydantic's ``loc`` includes the discriminator tags of unions (``connections.lake.local.base_path``);
we walk the model types alongside the ``loc`` to drop those, to find the valid keys of the block an
unknown key was found in (for did-you-mean), and the valid values of a ``Literal``.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal, get_args, get_origin

from pydantic import BaseModel, Tag

from odibi_core.config.base import ERROR_TYPE
from odibi_core.config.yaml_source import KeyPath, format_key_path, parse_key_path

__all__ = ["describe_error", "model_keys", "walk_loc"]

_DISCRIMINATORS = ("type", "mode")  # the keys our unions are discriminated on
_SECRET_WORDS = ("key", "token", "password", "secret", "salt", "connection_string", "sas", "url")

_EXPECTED = {
    "string_type": "text",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "list_type": "a list",
    "tuple_type": "a list",
    "set_type": "a list",
    "dict_type": "a map (key: value)",
    "model_type": "a map (key: value)",
    "model_attributes_type": "a map (key: value)",
    "datetime_type": "a timestamp such as 2026-01-01T00:00:00Z",
    "datetime_parsing": "a timestamp such as 2026-01-01T00:00:00Z",
    "datetime_from_date_parsing": "a timestamp such as 2026-01-01T00:00:00Z",
    "timedelta_type": "a duration such as 1h",
    "none_required": "nothing (null)",
}


# --- walking types along a loc ---------------------------------------------------------------


def _unwrap(tp: Any) -> Any:
    """Strip ``Annotated`` and ``None`` from a type (``X | None`` -> ``X``)."""
    while True:
        origin = get_origin(tp)
        if origin is Annotated:
            tp = get_args(tp)[0]
            continue
        if origin in (typing.Union, types.UnionType):
            args = get_args(tp)
            present = [arg for arg in args if arg is not type(None)]
            if len(present) == 1:
                tp = present[0]
                continue
            if len(present) < len(args):
                return typing.Union[tuple(present)]
        return tp


def _members(tp: Any) -> list[tuple[Any, list[str]]]:
    """Members of a union with their tags (``Tag`` metadata or the values of ``Literal`` fields)."""
    if get_origin(tp) not in (typing.Union, types.UnionType):
        return []
    members = []
    for arg in get_args(tp):
        tags = [meta.tag for meta in getattr(arg, "__metadata__", ()) if isinstance(meta, Tag)]
        member = _unwrap(arg)
        if isinstance(member, type) and issubclass(member, BaseModel):
            for name in _DISCRIMINATORS:
                field = member.model_fields.get(name)
                if field is not None and get_origin(field.annotation) is Literal:
                    tags.extend(str(value) for value in get_args(field.annotation))
        members.append((member, tags))
    return members


def _field(model: type[BaseModel], key: Any) -> Any:
    for name, field in model.model_fields.items():
        if key in (name, field.alias):
            return field.annotation
    return None


def _child(tp: Any, key: Any) -> Any:
    tp = _unwrap(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return _field(tp, key)
    origin = get_origin(tp)
    args = get_args(tp)
    if origin in (list, tuple, set, Sequence) and args:
        return args[0]
    if origin in (dict, Mapping) and len(args) == 2:
        return args[1]
    return None


def walk_loc(model: type[BaseModel], loc: tuple[Any, ...]) -> tuple[KeyPath, list[Any]]:
    """The display path of ``loc`` (union tags removed) and the type at each of its prefixes."""
    path: list[Any] = []
    chain: list[Any] = [model]
    for segment in loc:
        if segment == "[key]":  # an invalid dict key: the path already names it
            continue
        member = next((m for m, tags in _members(_unwrap(chain[-1])) if segment in tags), None)
        if member is not None:
            chain[-1] = member
            continue
        path.append(segment)
        chain.append(_child(chain[-1], segment))
    return tuple(path), chain


def model_keys(tp: Any) -> list[str]:
    tp = _unwrap(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [field.alias or name for name, field in tp.model_fields.items()]
    return []


def _union_tags(tp: Any) -> list[str]:
    return [tag for _, tags in _members(_unwrap(tp)) for tag in tags]


# --- messages --------------------------------------------------------------------------------


def _label(path: KeyPath) -> str:
    """The name a message uses for the value at ``path``: its key, or ``key[3]`` for list items."""
    if not path:
        return "the project file"
    if isinstance(path[-1], int):
        return format_key_path(path[-2:]) if len(path) > 1 else f"[{path[-1]}]"
    return str(path[-1])


def _show(value: Any, path: KeyPath) -> str:
    """The wrong value, for a message; never the value of a secret-looking key."""
    if value is None:
        return "nothing (null)"
    if path and any(word in str(path[-1]).lower() for word in _SECRET_WORDS):
        return "a value of the wrong type"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the text '{value[:60]}{'...' if len(value) > 60 else ''}'"
    if isinstance(value, dict):
        return "a map"
    if isinstance(value, list):
        return "a list"
    return f"a {type(value).__name__}"


def _close(value: Any, choices: list[str]) -> str:
    close = difflib.get_close_matches(str(value), choices, n=1, cutoff=0.6)
    return f" Did you mean '{close[0]}'?" if close else ""


def describe_error(
    error: Mapping[str, Any], path: KeyPath, chain: list[Any]
) -> tuple[str, str | None, KeyPath]:
    """(message, fix, key path) of one pydantic error."""
    kind = error["type"]
    context = error.get("ctx") or {}
    value = error.get("input")
    label = _label(path)
    block = format_key_path(path[:-1]) or "the top level"

    if kind == ERROR_TYPE:
        sub = parse_key_path(context["key"]) if context.get("key") else ()
        return error["msg"], context.get("fix"), path + sub
    if kind == "extra_forbidden":
        keys = model_keys(chain[-2]) if len(chain) > 1 else []
        return (f"Unknown key '{label}'.{_close(label, keys)}",
                f"Valid keys in {block}: {', '.join(keys)}." if keys else "Remove it.", path)
    if kind == "missing":
        return f"Missing required key '{label}'.", f"Add {label}: ... to {block}.", path
    if kind == "literal_error":
        choices = [str(v) for v in get_args(_unwrap(chain[-1]))] if chain[-1] is not None else []
        if not choices:
            expected = str(context.get("expected", "")).replace(" or ", ", ")
            choices = [choice.strip(" '") for choice in expected.split(",")]
        return (f"Invalid value '{value}' for '{label}'.{_close(value, choices)}",
                f"Use one of: {', '.join(choices)}.", path)
    if kind == "union_tag_invalid":
        discriminator = str(context.get("discriminator", "type")).strip("'")
        tag = context.get("tag")
        choices = _union_tags(chain[-1]) or [
            choice.strip(" '") for choice in str(context.get("expected_tags", "")).split(",")]
        return (f"Unknown {discriminator} '{tag}'.{_close(tag, choices)}",
                f"Use one of: {', '.join(choices)}.", path + (discriminator,))
    if kind == "union_tag_not_found":
        discriminator = str(context.get("discriminator", "type")).strip("'")
        choices = _union_tags(chain[-1])
        fix = f"Add {discriminator}: one of {', '.join(choices)}." if choices else None
        return f"Missing required key '{discriminator}'.", fix, path
    if kind == "transform_step":
        return (error["msg"], 'Write "SELECT ..." or one of {sql: ...}, {sql_file: path}, '
                "{function: name, params: {...}}, {operation: name, params: {...}}.", path)
    if kind in _EXPECTED:
        expected = _EXPECTED[kind]
        return (f"Wrong type for '{label}': expected {expected}, got {_show(value, path)}.",
                f"Write {label} as {expected}.", path)
    if kind == "too_short":
        least = context.get("min_length", 1)
        items = "an item" if least == 1 else f"{least} items"
        return f"'{label}' needs at least {items}.", f"Add {items} to {label}.", path
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        bound = error["msg"].removeprefix("Input should be ")
        return f"'{label}' should be {bound} (got {value}).", f"Change {label}.", path
    message = str(error["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
    return f"'{label}': {message}.", None, path
