"""docs/reference.md and docs/odibi.schema.json, generated from the project models.

``python -m odibi_core.config.reference`` (``make reference``) writes both; ``--check`` only says
whether the committed files are current. Each block of the project file is one section: its
docstring, a table of its keys (type, default, meaning: the string written under the field in
the model, or its ``description=``) and its ``examples`` (``json_schema_extra``). Each member
of a union discriminated on ``type`` or ``mode`` gets its own section.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import inspect
import sys
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import annotated_types
import yaml
from pydantic import BaseModel, BeforeValidator
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from odibi_core.config import base, orchestration
from odibi_core.config.json_schema import field_descriptions, readable, schema_text
from odibi_core.config.node import READ_OPTIONS_MODELS, ReadConfig
from odibi_core.config.project import ProjectConfig

__all__ = ["REFERENCE_FILE", "SCHEMA_FILE", "main", "reference_text"]

REFERENCE_FILE = Path("docs/reference.md")
SCHEMA_FILE = Path("docs/odibi.schema.json")
REGENERATE = "make reference  (or: python -m odibi_core.config.reference)"

# The checked value types of the models, by name.
_NAMED: dict[Any, str] = {
    base.Identifier: "name",
    base.TagName: "tag",
    base.InputRef: "`$pipeline.node`",
    base.Scalar: "number, date or string",
    base.Duration: "duration (`30m`, `1h`, `7d`, or seconds)",
    orchestration.CronExpr: "cron (`\"0 6 * * *\"`, `@daily`)",
    orchestration.TimezoneName: "time zone (IANA, e.g. `Europe/Berlin`)",
}
_PLAIN = {str: "string", int: "integer", float: "number", bool: "boolean", dict: "map",
          list: "list", Any: "any", dt.date: "date", dt.datetime: "timestamp",
          dt.timedelta: "duration"}
_BOUNDS = {annotated_types.Ge: ("≥", "ge"), annotated_types.Gt: (">", "gt"),
           annotated_types.Le: ("≤", "le"), annotated_types.Lt: ("<", "lt")}
# Free-form fields that are a strict block of their own in some cases: read.options of a sql or
# api read (the model checks them in a validator).
_OWN_BLOCKS: dict[tuple[type[BaseModel], str], list[tuple[type[BaseModel], str]]] = {
    (ReadConfig, "options"): [(model, f"format: {read_format}")
                              for read_format, model in READ_OPTIONS_MODELS.items()]}
# The sample name a map's example is written under (connections: {lake: {...}}).
_SAMPLE_KEYS = {"connections": "lake"}

_INTRO = """\
# Project file reference

<!-- Generated from the models in odibi_core/config/ by `make reference`; do not edit by hand.
     tests/core/config/test_reference.py fails when this file is out of date. -->

Every key of the project file (`odibi.yaml`), block by block: its type, its default and what it
means, with an example per block. Every block is strict: a key that is not listed here is an
error (with a did-you-mean), reported by `odibi validate` with its file and line.

How the file is read, in order (`odibi_core/config/loader.py`):

1. **`imports`**: the listed files (globs, relative to the project file) are merged in; their
   `pipelines` lists are appended, their other keys deep-merged. An imported file holds part of
   a project, in the same keys.
2. **Environment**: with `--env NAME` or `ODIBI_ENV=NAME`, `environments.NAME`, then a file
   `env.NAME.yaml` beside the project file, are deep-merged over the base (maps merge key by key;
   scalars and lists replace; a map whose `type` or `mode` changes replaces the base map).
3. **Substitution**: `${vars.x}` (from `vars:`) and `${ENV_VAR}` (from the process environment)
   are replaced in every string value; a value that is exactly `${vars.x}` takes the variable's
   own type (a number stays a number). `$${` writes a literal `${`.
4. **Validation** against the blocks below, then references (connections, nodes, inputs) and
   the dependency graph.

Shorthands: `schedule: "0 6 * * *"` is `schedule: {cron: "0 6 * * *"}`; `automation: eager` is
`automation: {condition: eager}`; a transform step written as a plain string is a SQL step;
a `sensor:` without `type` is a `file_arrival` sensor. Durations are written `30s`, `15m`,
`1h`, `7d`, `2w` or as a number of seconds.

## Editor support (JSON Schema)

[`odibi.schema.json`](odibi.schema.json) (JSON Schema draft 2020-12, generated with this page)
describes the file as you write it: unknown keys, wrong types and values outside a list of
choices are flagged as you type, and each key shows its meaning. With the YAML language server
(VS Code's YAML extension, or any editor using `yaml-language-server`), put this first line in
`odibi.yaml`, with the path from the project file to the schema:

```yaml
# yaml-language-server: $schema=../../docs/odibi.schema.json
```

`odibi schema` prints the same schema (`odibi schema --output odibi.schema.json` writes it), so
a project outside this repository can keep its own copy.

What the schema cannot know is checked by `odibi validate`: a `${...}` value is accepted for
any key, since it is only known after substitution; references between blocks (a node's
`connection`, `depends_on`, `inputs`), cron expressions, time zones and rules that tie keys
together (exactly one of `path` and `table`, `options.keys` for an `upsert`) are not in the
schema. The schema requires no top-level key, so that it also fits imported files and
`env.NAME.yaml` (parts of a project); `odibi validate` reports a missing `project:`,
`connections:` or `pipelines:`.
"""


@dataclass
class _Section:
    model: type[BaseModel]
    path: str  # where the block is written, e.g. pipelines[].nodes[].read
    variant: str | None  # "type: local" for a member of a discriminated union
    also: list[str]


def reference_text() -> str:
    """The whole of docs/reference.md."""
    sections = _sections()
    parts = [_INTRO, "## Blocks\n", *(_toc_line(s) for s in sections), ""]
    parts += [_section_text(section) for section in sections]
    return "\n".join(parts).rstrip() + "\n"


# --- walking the models ------------------------------------------------------------------------


@functools.cache
def _sections() -> list[_Section]:
    """Every model reachable from ProjectConfig, depth first in field order (a block's inner
    blocks follow it)."""
    found: dict[type[BaseModel], _Section] = {}

    def visit(model: type[BaseModel], path: str, variant: str | None) -> None:
        if model in found:
            found[model].also.append(path)
            return
        found[model] = _Section(model, path, variant, [])
        # Contracts take the same tests as validation.tests: document them there, where
        # every on_fail applies.
        fields = sorted(model.model_fields.items(), key=lambda item: item[0] == "contracts")
        for name, field in fields:
            key = field.alias or name
            child_path = f"{path}.{key}" if path else key
            for child, child_at, child_variant in _models_in(field.rebuild_annotation(),
                                                             child_path):
                visit(child, child_at, child_variant)
            for child, child_variant in _OWN_BLOCKS.get((model, name), []):
                visit(child, child_path, child_variant)

    visit(ProjectConfig, "", None)
    return list(found.values())


def _models_in(tp: Any, path: str) -> Iterator[tuple[type[BaseModel], str, str | None]]:
    """The models a field's type holds, with the path each is written at and its variant."""
    tp, _ = _unwrap(tp)
    origin = get_origin(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        yield tp, path, None
    elif origin is list:
        yield from _models_in(get_args(tp)[0], f"{path}[]")
    elif origin is dict:
        yield from _models_in(get_args(tp)[1], f"{path}.NAME")
    elif _is_union(tp):
        members = [m for m in get_args(tp) if m is not type(None)]
        for member in members:
            inner, _ = _unwrap(member)
            if isinstance(inner, type) and issubclass(inner, BaseModel) and len(members) > 1:
                yield inner, path, _variant(inner)
            else:
                yield from _models_in(member, path)


def _variant(model: type[BaseModel]) -> str | None:
    """``type: local`` for a model whose ``type`` (or ``mode``) is a Literal; else its one key."""
    for key in ("type", "mode"):
        field = model.model_fields.get(key)
        if field is not None and get_origin(field.annotation) is Literal:
            return f"{key}: " + " / ".join(str(v) for v in get_args(field.annotation))
    fields = [n for n, f in model.model_fields.items() if f.is_required()]
    return f"{fields[0]}: ..." if len(fields) == 1 else None


def _unwrap(tp: Any) -> tuple[Any, list[Any]]:
    """``Annotated[X, meta...]`` -> ``(X, meta)`` (nested Annotated flattened)."""
    metadata: list[Any] = []
    while get_origin(tp) is typing.Annotated:
        args = get_args(tp)
        tp, metadata = args[0], [*metadata, *args[1:]]
    return tp, metadata


def _is_union(tp: Any) -> bool:
    return get_origin(tp) in (typing.Union, types.UnionType)


# --- rendering ---------------------------------------------------------------------------------


def _anchor(model: type[BaseModel]) -> str:
    return model.__name__.lower()


def _title(section: _Section) -> str:
    where = f"`{section.path}`" if section.path else "Top level"
    return where + (f" — `{section.variant}`" if section.variant else "")


def _toc_line(section: _Section) -> str:
    depth = section.path.replace(".NAME", "").count(".") + 1 if section.path else 0
    return f"{'  ' * min(depth, 4)}- [{_title(section)}](#{_anchor(section.model)})"


def _section_text(section: _Section) -> str:
    model = section.model
    lines = [f'<a id="{_anchor(model)}"></a>', f"### {_title(section)}", ""]
    if section.also:
        lines += ["Also written at: " + ", ".join(f"`{p}`" for p in section.also) + ".", ""]
    doc = inspect.getdoc(model)
    if doc and model.__doc__ is not None and "__doc__" in model.__dict__:
        lines += [readable(doc), ""]
    lines += ["| Key | Type | Default | Meaning |", "|---|---|---|---|"]
    meanings = field_descriptions(model)
    for name, field in model.model_fields.items():
        lines.append("| " + " | ".join([
            f"`{field.alias or name}`", _cell(_type_text(field.rebuild_annotation())
                                              + _own_blocks_text(model, name)),
            _cell(_default_text(field)), _cell(readable(meanings[name]))]) + " |")
    lines.append("")
    for example in (model.model_config.get("json_schema_extra") or {}).get("examples", []):
        lines += ["```yaml", _example_yaml(section.path, example).rstrip(), "```", ""]
    return "\n".join(lines)


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _type_text(tp: Any) -> str:
    try:
        return _NAMED[tp]
    except (KeyError, TypeError):  # not a named type (or not hashable)
        pass
    tp, metadata = _unwrap(tp)
    for item in metadata:  # a shorthand: the validator declares what it takes
        if isinstance(item, BeforeValidator) and item.json_schema_input_type is not \
                PydanticUndefined:
            return _type_text(item.json_schema_input_type)
    text = _bare_type_text(tp)
    # Field(ge=...) inside Annotated keeps its constraints in its own .metadata
    constraints = [c for m in metadata for c in (m.metadata if isinstance(m, FieldInfo) else [m])]
    bounds = [f"{_BOUNDS[type(c)][0]} {getattr(c, _BOUNDS[type(c)][1])}"
              for c in constraints if type(c) in _BOUNDS]
    bounds += [f"at least {c.min_length}" for c in constraints
               if isinstance(c, annotated_types.MinLen)]
    return f"{text} ({', '.join(bounds)})" if bounds else text


def _bare_type_text(tp: Any) -> str:
    origin = get_origin(tp)
    if tp in _PLAIN:
        return _PLAIN[tp]
    if tp is type(None):
        return "null"
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return f"[`{_block_name(tp)}`](#{_anchor(tp)})"
    if origin is Literal:
        return " | ".join(f"`{_flow(v)}`" for v in get_args(tp))
    if origin is list:
        return f"list of {_type_text(get_args(tp)[0])}"
    if origin is dict:
        key, value = get_args(tp)
        return f"map of {_type_text(key)} to {_type_text(value)}"
    if _is_union(tp):
        members = [m for m in get_args(tp) if m is not type(None)]
        models = [_unwrap(m)[0] for m in members]
        if len(members) > 1 and all(isinstance(m, type) and issubclass(m, BaseModel)
                                    for m in models):
            return "one of " + ", ".join(f"[`{_variant(m) or m.__name__}`](#{_anchor(m)})"
                                         for m in models)
        return " or ".join(_type_text(m) for m in members)
    return getattr(tp, "__name__", str(tp))


def _own_blocks_text(model: type[BaseModel], name: str) -> str:
    blocks = _OWN_BLOCKS.get((model, name), [])
    return "".join(f"; with `{variant}`: [block](#{_anchor(block)})" for block, variant in blocks)


def _block_name(model: type[BaseModel]) -> str:
    """The name a block is known by: the last part of where it is written (``read``,
    ``nodes[]``)."""
    path = next(s.path for s in _sections() if s.model is model)
    return path.replace(".NAME", "").rsplit(".", 1)[-1]


def _default_text(field: FieldInfo) -> str:
    if field.is_required():
        return "**required**"
    if field.default_factory is not None:
        value = field.default_factory()  # type: ignore[call-arg]
    else:
        value = field.default
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    return "`" + _flow(value) + "`"


def _flow(value: Any) -> str:
    return yaml.safe_dump(value, default_flow_style=True, width=10_000).strip() \
        .removesuffix("...").strip()


class _ExampleDumper(yaml.SafeDumper):
    """Block style, except for short lists and maps of plain values: ``keys: [order_id]``."""


def _represent_list(dumper: yaml.SafeDumper, value: list[Any]) -> yaml.Node:
    return dumper.represent_sequence("tag:yaml.org,2002:seq", value, flow_style=_short(value))


def _represent_dict(dumper: yaml.SafeDumper, value: dict[Any, Any]) -> yaml.Node:
    return dumper.represent_mapping("tag:yaml.org,2002:map", value, flow_style=_short(value))


def _short(value: list[Any] | dict[Any, Any]) -> bool:
    items = value.values() if isinstance(value, dict) else value
    return all(not isinstance(item, (list, dict)) for item in items) and len(_flow(value)) <= 60


_ExampleDumper.add_representer(list, _represent_list)
_ExampleDumper.add_representer(dict, _represent_dict)


def _example_yaml(path: str, example: Any) -> str:
    """``example`` written where it goes: under its key, as a list item, or under a sample
    name in a map."""
    parts = path.split(".") if path else []
    if not parts:
        wrapped = example
    elif parts[-1] == "NAME":
        wrapped = {parts[-2]: {_SAMPLE_KEYS.get(parts[-2], "NAME"): example}}
    elif parts[-1].endswith("[]"):
        wrapped = {parts[-1][:-2]: [example]}
    else:
        wrapped = {parts[-1]: example}
    return yaml.dump(wrapped, Dumper=_ExampleDumper, sort_keys=False, width=100,
                     allow_unicode=True)


# --- command line ------------------------------------------------------------------------------


def _generated() -> dict[Path, str]:
    return {REFERENCE_FILE: reference_text(), SCHEMA_FILE: schema_text()}


def stale_files(root: Path) -> list[Path]:
    """The generated files under ``root`` that differ from what the models produce."""
    return [path for path, text in _generated().items()
            if not (root / path).is_file() or (root / path).read_text(encoding="utf-8") != text]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m odibi_core.config.reference",
        description=f"Write {REFERENCE_FILE} and {SCHEMA_FILE} from the project models.")
    parser.add_argument("--root", type=Path, default=Path("."),
                        help="the repository (default: the current folder)")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 when a file is out of date")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_files(args.root)
        for path in stale:
            print(f"{path} is out of date; regenerate it: {REGENERATE}", file=sys.stderr)
        return 1 if stale else 0
    for path, text in _generated().items():
        (args.root / path).write_text(text, encoding="utf-8")
        print(f"wrote {args.root / path}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
