"""The JSON schema ``dg check yaml`` checks an ``OdibiProjectComponent``'s attributes against:
the project file's own pydantic models (:class:`odibi_core.config.ProjectConfig`), adapted to what
a YAML check needs (a ``${...}`` string allowed for any value, scalar shorthands where a validator
accepts them, unions arranged so an error is reported at its own key), and the rule that exactly
one of ``project_file`` and ``project`` is given.
"""

from __future__ import annotations

import copy
import functools
from typing import Any

from pydantic import model_validator
from pydantic.json_schema import GenerateJsonSchema

__all__ = ["FILE_FIELD", "PROJECT_FIELD", "checked_model", "project_json_schema"]

PROJECT_FIELD = "project"
FILE_FIELD = "project_file"

# A string holding odibi's ${vars.x} / ${ENV} or a Dagster template stands for any value: odibi
# substitutes before validating (a value that is exactly ${vars.n} takes the variable's type).
_SUBSTITUTION = {"type": "string", "pattern": r"\$\{|\{\{|\{%"}
_SCALARS = ["string", "number", "boolean"]
_ANNOTATIONS = {"title", "description", "default", "examples", "deprecated"}


class _ProjectSchemaGenerator(GenerateJsonSchema):
    """pydantic's JSON schema of the project models, plus what their validators accept.

    A ``BeforeValidator`` or ``model_validator(mode="before")`` may turn a scalar into the value
    (``schedule: "0 6 * * *"``, ``automation: eager``, a plain SQL string step, ``"1h"`` or a
    number for a duration); pydantic's schema only shows the value's own type. Such a field also
    accepts any scalar here; odibi's loader then checks it.
    """

    def function_before_schema(self, schema: Any) -> dict[str, Any]:
        inner = super().function_before_schema(schema)
        if schema.get("json_schema_input_schema") is not None:  # the validator declared its input
            return inner
        kind = inner.get("type")
        if kind is not None and not ({"enum", "const"} & inner.keys()):
            kinds = kind if isinstance(kind, list) else [kind]
            return {**inner, "type": [*kinds, *(k for k in _SCALARS if k not in kinds)]}
        return {"if": {"type": ["object", "array"]}, "then": inner}


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


def _adapt(schema: Any, value: bool = False, definitions: dict[str, Any] | None = None) -> Any:
    """Adapt a pydantic JSON schema for checking YAML: precise error locations, and ``value``
    positions (a property, an item, a map value) also accept a ``${...}`` string.
    ``definitions``: the unadapted ``$defs`` (default: the schema's own)."""
    if definitions is None:
        definitions = schema.get("$defs", {}) if isinstance(schema, dict) else {}
    if isinstance(schema, list):
        return [_adapt(item, definitions=definitions) for item in schema]
    if not isinstance(schema, dict):
        return schema
    adapted: dict[str, Any] = {}
    for key, child in schema.items():
        if key == "properties" and isinstance(child, dict):
            adapted[key] = {name: _adapt(sub, True, definitions) for name, sub in child.items()}
        elif key in ("items", "additionalProperties") and isinstance(child, dict):
            adapted[key] = _adapt(child, True, definitions)
        elif key in ("$defs", "patternProperties", "dependentSchemas") and isinstance(child, dict):
            adapted[key] = {name: _adapt(sub, False, definitions) for name, sub in child.items()}
        elif key in ("anyOf", "oneOf", "allOf", "prefixItems", "if", "then", "else", "not"):
            adapted[key] = _adapt(child, False, definitions)
        else:  # keywords whose values are data: enum, const, default, required, ...
            adapted[key] = child
    adapted = _optional(_discriminated(adapted, definitions))
    if value and not _accepts_any_string(adapted):
        annotations = {k: adapted.pop(k) for k in list(adapted) if k in _ANNOTATIONS}
        adapted = {**annotations, "if": _SUBSTITUTION, "else": adapted}
    return adapted


@functools.cache
def _project_schema_cached() -> tuple[dict[str, Any], dict[str, Any]]:
    from odibi_core.config import ProjectConfig

    schema = _adapt(ProjectConfig.model_json_schema(schema_generator=_ProjectSchemaGenerator))
    definitions = schema.pop("$defs", {})
    return schema, definitions


def project_json_schema() -> dict[str, Any]:
    """The JSON schema of a project (file or ``project:`` block) as ``dg check yaml`` uses it:
    the project file's pydantic models (:class:`odibi_core.config.ProjectConfig`), with a
    ``${...}`` string allowed for any value, scalar shorthands allowed where a validator turns
    them into the value, and unions arranged so that an error is reported at its own key."""
    schema, definitions = _project_schema_cached()
    return copy.deepcopy({**schema, "$defs": definitions})


def _component_schema(schema: dict[str, Any]) -> dict[str, Any]:
    project, definitions = _project_schema_cached()
    schema = copy.deepcopy(schema)
    schema.setdefault("$defs", {}).update(copy.deepcopy(definitions))
    schema["$defs"]["OdibiProject"] = copy.deepcopy(project)
    properties = schema.setdefault("properties", {})
    description = properties.get(PROJECT_FIELD, {}).get("description")
    # A string is a Dagster template that renders to the project ({{ ... }}).
    properties[PROJECT_FIELD] = {
        **({"description": description} if description else {}),
        "default": None,
        "if": {"type": ["string", "null"]},
        "else": {"$ref": "#/$defs/OdibiProject"},
    }
    others = sorted(name for name in properties if name != PROJECT_FIELD)
    schema["allOf"] = [
        *schema.get("allOf", []),
        # neither form: "'project_file' is a required property"
        {"if": {"not": {"required": [PROJECT_FIELD]}}, "then": {"required": [FILE_FIELD]}},
        # both forms: "'project' is not one of [...]"
        {"if": {"required": [FILE_FIELD], "properties": {FILE_FIELD: {"type": "string"}}},
         "then": {"propertyNames": {"enum": others}}},
    ]
    return schema


@functools.cache
def checked_model(base: type[Any], *, both: str, neither: str) -> type[Any]:
    """``base`` (Dagster's model of the component's attributes) with :func:`_component_schema`
    as its JSON schema and the exactly-one-form rule (``both`` / ``neither``: the messages), so
    that a load reports it with the defs.yaml line."""

    def model_json_schema(cls: type[Any], *args: Any, **kwargs: Any) -> dict[str, Any]:
        return _component_schema(super(checked, cls).model_json_schema(*args, **kwargs))

    def one_project(self: Any) -> Any:
        given = [name for name in (FILE_FIELD, PROJECT_FIELD)
                 if getattr(self, name, None) is not None]
        if len(given) == 2:
            raise ValueError(both)
        if not given:
            raise ValueError(neither)
        return self

    namespace = {"__module__": base.__module__, "__qualname__": base.__qualname__,
                 "__doc__": base.__doc__,
                 "model_json_schema": classmethod(model_json_schema),
                 "_one_project": model_validator(mode="after")(one_project)}
    checked = type(base)(base.__name__, (base,), namespace)
    return checked
