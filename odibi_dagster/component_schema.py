"""The JSON schema ``dg check yaml`` checks an ``OdibiProjectComponent``'s attributes against:
the project file's schema (:mod:`odibi_core.config.json_schema`, with Dagster templates accepted
too) under ``project:``, and the rule that exactly one of ``project_file`` and ``project`` is
given.
"""

from __future__ import annotations

import copy
import functools
from typing import Any

from pydantic import model_validator

from odibi_core.config.json_schema import adapted_project_schema

__all__ = ["FILE_FIELD", "PROJECT_FIELD", "checked_model", "project_json_schema"]

PROJECT_FIELD = "project"
FILE_FIELD = "project_file"

# A string holding odibi's ${vars.x} / ${ENV} or a Dagster template stands for any value.
_SUBSTITUTION_PATTERN = r"\$\{|\{\{|\{%"


@functools.cache
def _project_schema_cached() -> tuple[dict[str, Any], dict[str, Any]]:
    schema = adapted_project_schema(_SUBSTITUTION_PATTERN)
    definitions = schema.pop("$defs", {})
    return schema, definitions


def project_json_schema() -> dict[str, Any]:
    """The JSON schema of a project (file or ``project:`` block) as ``dg check yaml`` uses it:
    :func:`odibi_core.config.json_schema.adapted_project_schema`, where a Dagster template
    (``{{ ... }}``) is also accepted for any value."""
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
