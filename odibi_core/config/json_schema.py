"""The JSON Schema (draft 2020-12) of a project file, made from its pydantic models.

pydantic's schema of :class:`~odibi_core.config.project.ProjectConfig` describes the project
*after* the loader's steps; this module adapts it to the YAML as users write it:

- a ``${vars.x}`` / ``${ENV_VAR}`` string is accepted for any value (the loader substitutes before
  validating, and a value that is exactly ``${vars.n}`` takes the variable's type);
- scalar shorthands are accepted where a validator turns them into the value
  (``schedule: "0 6 * * *"``, ``automation: eager``, a plain SQL string step, ``"1h"`` or a
  number for a duration);
- no top-level key is required, so that imported files and ``env.NAME.yaml`` (parts of a
  project) validate too; ``environments.NAME`` takes only project keys;
- unions are arranged so that an error inside one is reported at its own key.

Unknown keys are rejected everywhere (``additionalProperties: false``), as the loader rejects them.
"""

from __future__ import annotations

import ast
import copy
import functools
import inspect
import json
import re
import sys
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, models_json_schema

from odibi_core.config.node import READ_OPTIONS_MODELS
from odibi_core.config.project import ProjectConfig

__all__ = ["SCHEMA_DIALECT", "SUBSTITUTION_PATTERN", "adapted_project_schema",
           "field_descriptions", "project_file_schema", "readable", "schema_text"]

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
SUBSTITUTION_PATTERN = r"\$\{"
"""A string holding ``${...}`` stands for any value until the loader substitutes it."""

_SCALARS = ["string", "number", "boolean"]
_ANNOTATIONS = {"title", "description", "default", "examples", "deprecated"}
# Keys an environment may not set (see odibi_core.config.environments).
_NOT_IN_ENVIRONMENTS = ("environments", "imports")


class _ProjectSchemaGenerator(GenerateJsonSchema):
    """pydantic's JSON schema of the project models, plus what their validators accept.

    A ``BeforeValidator`` or ``model_validator(mode="before")`` may turn a scalar into the value;
    pydantic's schema only shows the value's own type. Such a field also accepts any scalar here
    (unless the validator declared its input type); the loader then checks it.
    """

    def model_schema(self, schema: Any) -> dict[str, Any]:
        json_schema = super().model_schema(schema)
        model = schema["cls"]
        properties = json_schema.get("properties", {})
        for name, description in field_descriptions(model).items():
            field = model.model_fields[name]
            prop = properties.get(field.alias or name)
            if prop is not None and description and "description" not in prop:
                prop["description"] = description
        return json_schema

    def function_before_schema(self, schema: Any) -> dict[str, Any]:
        inner = super().function_before_schema(schema)
        if schema.get("json_schema_input_schema") is not None:  # the validator declared its input
            return inner
        kind = inner.get("type")
        if kind is not None and not ({"enum", "const"} & inner.keys()):
            kinds = kind if isinstance(kind, list) else [kind]
            return {**inner, "type": [*kinds, *(k for k in _SCALARS if k not in kinds)]}
        return {"if": {"type": ["object", "array"]}, "then": inner}


def field_descriptions(model: type[BaseModel]) -> dict[str, str]:
    """What each field of ``model`` means: its ``description=``, else the string literal written
    under it in the class body (inherited fields included)."""
    written: dict[str, str] = {}
    for cls in reversed(model.__mro__):
        if issubclass(cls, BaseModel) and cls.__module__ in sys.modules:
            written.update(_attribute_docstrings(cls.__module__).get(cls.__qualname__, {}))
    return {name: field.description or written.get(name, "")
            for name, field in model.model_fields.items()}


@functools.cache
def _attribute_docstrings(module_name: str) -> dict[str, dict[str, str]]:
    """Class name -> field -> the string literal right under the field, for one module."""
    try:
        tree = ast.parse(inspect.getsource(sys.modules[module_name]))
    except (OSError, TypeError):  # no source (a frozen or compiled-only install)
        return {}
    found: dict[str, dict[str, str]] = {}
    for node in tree.body:
        if not isinstance(node, ast.ClassDef):
            continue
        found[node.name] = {
            stmt.target.id: inspect.cleandoc(after.value.value)
            for stmt, after in zip(node.body, node.body[1:])
            if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name)
            and isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant)
            and isinstance(after.value.value, str)}
    return found


def readable(text: str) -> str:
    """A docstring as users read it: reST literals and roles become Markdown code, and pointers
    into the design contract (SPEC), which is not part of the repository, are dropped."""
    text = re.sub(r":(?:class|func|mod|meth):`~?([^`]+)`", r"`\1`", text)
    text = re.sub(r" \(SPEC §[^;)]*\)", "", text)
    text = re.sub(r"\(SPEC §[^;)]*; ", "(", text)
    return text.replace("``", "`")


def _accepts_any_string(schema: dict[str, Any]) -> bool:
    if set(schema) <= _ANNOTATIONS:
        return True
    kind = schema.get("type")
    kinds = kind if isinstance(kind, list) else [kind]
    constraints = {"enum", "const", "pattern", "$ref", "if", "anyOf", "oneOf", "allOf", "not"}
    return "string" in kinds and not (constraints & schema.keys())


def _discriminated(schema: dict[str, Any], definitions: dict[str, Any]) -> dict[str, Any]:
    """``oneOf`` + ``discriminator`` -> one ``if``/``then`` per tag, so that an error inside the
    chosen member is reported at its own key (``oneOf`` reports the whole block). A member whose
    tag is its discriminator's default (``sensor:`` without ``type`` is a file-arrival sensor)
    is chosen when the key is absent."""
    discriminator = schema.get("discriminator")
    if "oneOf" not in schema or not isinstance(discriminator, dict) or \
            not discriminator.get("mapping"):
        return schema
    name, mapping = discriminator["propertyName"], discriminator["mapping"]
    default = next((tag for tag, ref in mapping.items()
                    if _property_default(definitions, ref, name) == tag), None)
    rest = {k: v for k, v in schema.items() if k not in ("oneOf", "discriminator")}
    return {
        **rest,
        "type": "object",
        **({} if default is not None else {"required": [name]}),
        "properties": {name: {"enum": sorted(mapping)}},
        "allOf": [{"if": {"properties": {name: {"const": tag}},
                          **({} if tag == default else {"required": [name]})},
                   "then": {"$ref": ref}} for tag, ref in sorted(mapping.items())],
    }


def _property_default(definitions: dict[str, Any], ref: str, name: str) -> Any:
    """The default of property ``name`` of the definition ``ref`` (``#/$defs/X``), if any."""
    definition = definitions.get(ref.rsplit("/", 1)[-1], {})
    return definition.get("properties", {}).get(name, {}).get("default")


def _optional(schema: dict[str, Any]) -> dict[str, Any]:
    """``anyOf: [X, {type: null}]`` -> ``if null, else X``: errors inside X keep their key."""
    members = schema.get("anyOf")
    if not isinstance(members, list):
        return schema
    bare = [m for m in members if isinstance(m, dict) and set(m) == {"type"}]
    other = [m for m in members if m not in bare]
    rest = {k: v for k, v in schema.items() if k != "anyOf"}
    kinds = [k for m in bare for k in (m["type"] if isinstance(m["type"], list) else [m["type"]])]
    if not other:
        return {**rest, "type": kinds}
    if len(other) == 1 and kinds:
        return {**rest, "if": {"type": kinds}, "else": other[0]}
    return schema


def _adapt(schema: Any, substitution: dict[str, Any], definitions: dict[str, Any],
           value: bool = False) -> Any:
    """Adapt a pydantic JSON schema for checking YAML: precise error locations, and ``value``
    positions (a property, an item, a map value) also accept a ``substitution`` string.
    ``definitions``: the unadapted ``$defs``."""
    if isinstance(schema, list):
        return [_adapt(item, substitution, definitions) for item in schema]
    if not isinstance(schema, dict):
        return schema
    adapted: dict[str, Any] = {}
    for key, child in schema.items():
        if key == "properties" and isinstance(child, dict):
            adapted[key] = {name: _adapt(sub, substitution, definitions, True)
                            for name, sub in child.items()}
        elif key in ("items", "additionalProperties") and isinstance(child, dict):
            adapted[key] = _adapt(child, substitution, definitions, True)
        elif key in ("$defs", "patternProperties", "dependentSchemas") and isinstance(child, dict):
            adapted[key] = {name: _adapt(sub, substitution, definitions)
                            for name, sub in child.items()}
        elif key in ("anyOf", "oneOf", "allOf", "prefixItems", "if", "then", "else", "not"):
            adapted[key] = _adapt(child, substitution, definitions)
        elif key == "description" and isinstance(child, str):
            adapted[key] = readable(child)
        else:  # keywords whose values are data: enum, const, default, required, examples, ...
            adapted[key] = child
    adapted = _optional(_discriminated(adapted, definitions))
    if value and not _accepts_any_string(adapted):
        annotations = {k: adapted.pop(k) for k in list(adapted) if k in _ANNOTATIONS}
        adapted = {**annotations, "if": substitution, "else": adapted}
    return adapted


@functools.cache
def _adapted(pattern: str) -> str:
    # ProjectConfig, and the options of the read formats that have a strict block of their own
    # (the model checks them in a validator, so pydantic's schema of read.options is any map).
    models = [ProjectConfig, *READ_OPTIONS_MODELS.values()]
    _, top = models_json_schema([(model, "validation") for model in models],
                                schema_generator=_ProjectSchemaGenerator)
    raw = {**top["$defs"].pop(ProjectConfig.__name__), "$defs": top["$defs"]}
    substitution = {"type": "string", "pattern": pattern}
    schema = _adapt(raw, substitution, raw["$defs"])
    schema["$defs"]["ReadConfig"].setdefault("allOf", []).extend([
        {"if": {"properties": {"format": {"const": read_format}}, "required": ["format"]},
         "then": {"properties": {"options": _adapt(
             {"$ref": f"#/$defs/{model.__name__}"}, substitution, raw["$defs"], True)}}}
        for read_format, model in READ_OPTIONS_MODELS.items()])
    # Imported files and env.NAME.yaml hold part of a project, and what the project file lacks
    # may come from them: no top-level key is required here (the loader reports what is missing).
    schema.pop("required", None)
    top_level = [name for name in schema["properties"] if name not in _NOT_IN_ENVIRONMENTS]
    environments = schema["properties"]["environments"]
    environments["else"]["additionalProperties"]["else"]["propertyNames"] = {"enum": top_level}
    return json.dumps(schema)  # cached as text: callers get their own copy


def adapted_project_schema(pattern: str = SUBSTITUTION_PATTERN) -> dict[str, Any]:
    """The project's JSON schema, with ``$defs``, where a string matching ``pattern`` is accepted
    for any value (the component for ``dg`` also accepts Dagster's ``{{ ... }}`` templates)."""
    return json.loads(_adapted(pattern))


def project_file_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a project file, for editors and ``odibi schema``."""
    schema = adapted_project_schema()
    head = {"$schema": SCHEMA_DIALECT, "title": "odibi project file (odibi.yaml)"}
    description = ("The project file of odibi on Dagster. Every key is documented in "
                   "docs/reference.md; ${vars.x} and ${ENV_VAR} are accepted for any value.")
    body = {k: v for k, v in schema.items() if k not in ("title", "description", "$defs")}
    return {**head, "description": description, **body,
            "$defs": copy.deepcopy(schema.get("$defs", {}))}


def schema_text() -> str:
    """:func:`project_file_schema` as the text written to ``docs/odibi.schema.json``."""
    return json.dumps(project_file_schema(), indent=2, sort_keys=False, ensure_ascii=False) + "\n"
