"""Environments (SPEC §9): ``environments.NAME`` and ``env.NAME.yaml`` laid over the base.

Maps merge key by key; scalars and lists replace. A map whose kind changes (another connection
``type``, another ``auth`` or ``incremental`` ``mode``) replaces the base map instead of merging
into it: a ``local`` connection's ``base_path`` means nothing to the ``azure_blob`` connection that
replaces it in production. Line marks follow the values, so a problem in a value that came from an
environment points at the environment's line, not the base's.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from odibi_core.config.project import ProjectConfig
from odibi_core.config.yaml_source import KeyPath, Mark, SourceMap, YamlDocument, read_yaml
from odibi_core.errors import ConfigProblem

__all__ = [
    "EnvironmentSelection",
    "deep_merge",
    "env_file",
    "known_environments",
    "rebase_marks",
    "select_environment",
]

# Keys an environment may not set: they are resolved before environments are applied.
_FIXED_KEYS = ("environments", "imports")


def deep_merge(
    base: Any,
    base_marks: Mapping[KeyPath, Mark],
    over: Any,
    over_marks: Mapping[KeyPath, Mark],
) -> tuple[Any, dict[KeyPath, Mark]]:
    """Lay ``over`` over ``base``: maps merge recursively, anything else in ``over`` replaces.

    Both mark maps use paths relative to the same root. Marks of replaced values are dropped.
    """
    replaced: list[KeyPath] = []

    def merge(left: Any, right: Any, path: KeyPath) -> Any:
        both_maps = isinstance(left, dict) and isinstance(right, dict)
        if both_maps and not _kind_changed(path, left, right):
            merged = dict(left)
            for key, value in right.items():
                merged[key] = merge(left[key], value, path + (key,)) if key in left else value
            return merged
        replaced.append(path)
        return right

    data = merge(base, over, ())
    marks = {
        path: mark
        for path, mark in base_marks.items()
        if not any(path[: len(prefix)] == prefix for prefix in replaced)
    }
    marks.update(over_marks)
    return data, marks


def _kind_changed(path: KeyPath, left: dict[Any, Any], right: dict[Any, Any]) -> bool:
    """True when ``right`` is another kind of block than ``left`` (its discriminator differs)."""
    keys = ["type"]
    if path and path[-1] in ("auth", "incremental"):
        keys.append("mode")
    return any(key in left and key in right and left[key] != right[key] for key in keys)


def rebase_marks(marks: Mapping[KeyPath, Mark], old: KeyPath, new: KeyPath) -> dict[KeyPath, Mark]:
    """Marks under ``old``, re-rooted at ``new``."""
    return {new + path[len(old):]: mark for path, mark in marks.items() if path[: len(old)] == old}


def env_file(project_file: Path, name: str) -> Path:
    """``env.NAME.yaml`` beside the project file."""
    return project_file.parent / f"env.{name}.yaml"


def known_environments(data: Any, project_file: Path) -> list[str]:
    """Environment names from the ``environments`` block and from ``env.*.yaml`` files."""
    names: list[str] = []
    block = data.get("environments") if isinstance(data, dict) else None
    if isinstance(block, dict):
        names.extend(str(name) for name in block)
    for path in sorted(project_file.parent.glob("env.*.yaml")):
        name = path.name[len("env."):-len(".yaml")]
        if name and name not in names:
            names.append(name)
    return names


@dataclass
class EnvironmentSelection:
    """The base with the chosen environment laid over it."""

    data: Any
    marks: dict[KeyPath, Mark]
    files: list[Path]  # environment files read
    problems: list[ConfigProblem]


def select_environment(
    data: Any, marks: Mapping[KeyPath, Mark], *, name: str | None, project_file: Path
) -> EnvironmentSelection:
    """Apply environment ``name`` (if any) to ``data``: ``environments.NAME`` first, then
    ``env.NAME.yaml``. The ``environments`` block itself stays in the data, untouched."""
    source = SourceMap(marks, project_file)
    problems = _check_environment_blocks(data, source, selected=name)
    if name is None or problems:
        return EnvironmentSelection(data, dict(marks), [], problems)

    known = known_environments(data, project_file)
    if name not in known:
        close = difflib.get_close_matches(name, known, n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        listed = ", ".join(known) or "(none)"
        problem = source.problem(
            ("environments",) if isinstance(data, dict) and "environments" in data else (),
            f"Unknown environment '{name}'.{hint} Known environments: {listed}.",
            fix=f"Pick one of the known environments, or add environments.{name} to the project "
            f"file or a file {env_file(project_file, name).name} beside it.",
        )
        return EnvironmentSelection(data, dict(marks), [], [problem])

    merged, merged_marks = data, dict(marks)
    block = data.get("environments", {}) if isinstance(data, dict) else {}
    if isinstance(block, dict) and isinstance(block.get(name), dict):
        overlay_marks = rebase_marks(marks, ("environments", name), ())
        overlay_marks.pop((), None)
        merged, merged_marks = deep_merge(merged, merged_marks, block[name], overlay_marks)

    path = env_file(project_file, name)
    if not path.is_file():
        return EnvironmentSelection(merged, merged_marks, [], problems)
    document, problems = _read_env_file(path)
    if document is not None and not problems:
        overlay_marks = dict(document.marks)
        overlay_marks.pop((), None)
        merged, merged_marks = deep_merge(merged, merged_marks, document.data, overlay_marks)
    return EnvironmentSelection(merged, merged_marks, [path], problems)


def _read_env_file(path: Path) -> tuple[YamlDocument | None, list[ConfigProblem]]:
    document, problems = read_yaml(path)
    if document is None or document.data is None:
        return None, problems
    if not isinstance(document.data, dict):
        problems.append(ConfigProblem(
            f"{path.name} must be a map of project keys.", file=path, line=1,
            fix="Write it like the project file: key: value lines."))
        return None, problems
    source = SourceMap(document.marks, path)
    for key in _FIXED_KEYS:
        if key in document.data:
            problems.append(source.problem((key,), f"{path.name} may not set '{key}'.",
                                           fix=f"Move '{key}' to the project file."))
    return document, problems


def _check_environment_blocks(
    data: Any, source: SourceMap, *, selected: str | None
) -> list[ConfigProblem]:
    """Shape checks of every environment; top-level key names of those not selected (the selected
    one is validated as part of the merged project)."""
    if not isinstance(data, dict) or data.get("environments") is None:
        return []
    block = data["environments"]
    if not isinstance(block, dict):
        return [source.problem(
            ("environments",), "environments must be a map of NAME: {overrides}.",
            fix="Write environments: {prod: {connections: {...}}}.")]
    allowed = [field.alias or key for key, field in ProjectConfig.model_fields.items()
               if key not in _FIXED_KEYS]
    problems = []
    for name, overlay in block.items():
        path: KeyPath = ("environments", name)
        if not isinstance(overlay, dict):
            problems.append(source.problem(
                path, f"Environment '{name}' must be a map of project keys.",
                fix=f"Write environments.{name}: {{key: value, ...}}."))
            continue
        for key in overlay:
            if key in _FIXED_KEYS:
                problems.append(source.problem(
                    path + (key,), f"Environment '{name}' may not set '{key}'.",
                    fix=f"Move '{key}' to the top level of the project file."))
            elif key not in allowed and name != selected:
                close = difflib.get_close_matches(str(key), allowed, n=1)
                hint = f" Did you mean '{close[0]}'?" if close else ""
                problems.append(source.problem(
                    path + (key,), f"Unknown key '{key}' in environment '{name}'.{hint}",
                    fix=f"Use one of: {', '.join(allowed)}."))
    return problems
