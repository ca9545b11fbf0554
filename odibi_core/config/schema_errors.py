"""pydantic validation errors -> ``ConfigProblem``s that read like the YAML the user wrote.

The project model is walked along each error's ``loc`` by :mod:`odibi_core.config.model_errors`.
"""

from __future__ import annotations

import difflib
from typing import Any

from pydantic import ValidationError

from odibi_core.config.model_errors import describe_error, model_keys, walk_loc
from odibi_core.config.project import ProjectConfig
from odibi_core.config.yaml_source import KeyPath, SourceMap
from odibi_core.errors import ConfigProblem

__all__ = ["owner_label", "problems_from_validation_error", "validate_project"]

def validate_project(
    data: Any, source: SourceMap
) -> tuple[ProjectConfig | None, list[ConfigProblem]]:
    """Validate merged, substituted project data; every pydantic error becomes a problem."""
    if not isinstance(data, dict):
        return None, [source.problem(
            (), "The project file must be a map of keys (project:, connections:, pipelines:, ...).",
            fix="Start from a starter project (odibi init NAME).")]
    try:
        return ProjectConfig.model_validate(data), []
    except ValidationError as exc:
        return None, problems_from_validation_error(exc, data, source)


def problems_from_validation_error(
    exc: ValidationError, data: Any, source: SourceMap
) -> list[ConfigProblem]:
    """One problem per error of ``exc``, raised while validating ``ProjectConfig`` from ``data``.

    A missing key next to an unknown key that looks like it (``formt`` for ``format``) is one
    mistake: only the unknown key is reported.
    """
    described = []
    for error in exc.errors(include_url=False):
        path, chain = walk_loc(ProjectConfig, error["loc"])
        message, fix, path = describe_error(error, path, chain)
        described.append((error["type"], path, chain, message, fix))
    misspelt = {
        path[:-1] + (close[0],)
        for kind, path, chain, _, _ in described
        if kind == "extra_forbidden" and len(chain) > 1
        for close in [difflib.get_close_matches(str(path[-1]), model_keys(chain[-2]), n=1)]
        if close
    }
    problems = []
    for kind, path, _, message, fix in described:
        if kind == "missing" and path in misspelt:
            continue
        problem = source.problem(path, message, fix=fix)
        if problem not in problems:
            problems.append(problem)
    return problems


def owner_label(path: KeyPath, data: Any) -> str | None:
    """``"sales.clean_orders"`` or ``"sales"`` for a path inside a node or a pipeline, read from
    the raw ``data`` (which may not validate); ``None`` elsewhere."""
    if len(path) < 2 or path[0] != "pipelines" or not isinstance(path[1], int):
        return None
    pipeline = _item(data, "pipelines", path[1])
    pipeline_name = _name(pipeline, "pipeline")
    if pipeline_name is None:
        return None
    if len(path) >= 4 and path[2] == "nodes" and isinstance(path[3], int):
        node_name = _name(_item(pipeline, "nodes", path[3]), "name")
        if node_name is not None:
            return f"{pipeline_name}.{node_name}"
    return pipeline_name


def _item(data: Any, key: str, index: int) -> Any:
    items = data.get(key) if isinstance(data, dict) else None
    return items[index] if isinstance(items, list) and 0 <= index < len(items) else None


def _name(data: Any, key: str) -> str | None:
    value = data.get(key) if isinstance(data, dict) else None
    return value if isinstance(value, str) and value else None
