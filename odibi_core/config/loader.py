"""``load_project``: a project file on disk -> a validated :class:`Project`, or one ``ConfigError``
listing every problem found.

Steps: YAML with line marks -> ``imports`` -> environment -> ``${vars.x}`` / ``${ENV}`` -> models ->
reference and graph checks -> ``transforms.py``.
"""

from __future__ import annotations

import glob
import hashlib
import importlib.util
import os
import sys
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

# odibi_core.graph imports the config models and may still be initialising when this module is
# imported: bind the module, not its names.
from odibi_core import graph as graph_module
from odibi_core.config.environments import deep_merge, select_environment
from odibi_core.config.orchestration_checks import orchestration_problems
from odibi_core.config.project import ProjectConfig
from odibi_core.config.references import check_references, partial_config
from odibi_core.config.schema_errors import owner_label, validate_project
from odibi_core.config.variables import substitute_variables
from odibi_core.config.write_checks import write_mode_problems
from odibi_core.config.yaml_source import (
    KeyPath,
    Mark,
    SourceMap,
    YamlDocument,
    parse_key_path,
    read_yaml,
)
from odibi_core.errors import ConfigError, ConfigProblem

if TYPE_CHECKING:
    from odibi_core.graph import ProjectGraph

__all__ = ["PROJECT_FILE_NAME", "TRANSFORMS_FILE_NAME", "Project", "load_project",
           "load_project_data"]

PROJECT_FILE_NAME = "odibi.yaml"
TRANSFORMS_FILE_NAME = "transforms.py"


@dataclass(frozen=True)
class Project:
    """A loaded project: the validated config, its graph, and where everything came from.

    Attributes:
        config: the project after imports, environment and substitution.
        file: the project file (absolute).
        root: its folder; relative paths in the project are relative to it.
        env: the environment applied, or ``None``.
        graph: the dependency graph of every node.
        files: every YAML file read (the project file first, then imports and ``env.NAME.yaml``).
        transforms_file: the ``transforms.py`` that was imported, if any.
        marks: where each key of the merged data was written (see :meth:`locate`).
    """

    config: ProjectConfig
    file: Path
    root: Path
    env: str | None
    graph: ProjectGraph
    files: tuple[Path, ...]
    transforms_file: Path | None = None
    marks: Mapping[KeyPath, Mark] = field(default_factory=dict, repr=False, compare=False)

    def locate(self, key_path: str) -> tuple[Path, int | None]:
        """File and line where ``key_path`` (``"pipelines[0].nodes[2].write"``) was written, or
        where its nearest written parent was."""
        return SourceMap(self.marks, self.file).locate(parse_key_path(key_path))

    def node_key_path(self, key: str) -> str:
        """The key path of node ``"pipeline.name"``, e.g. ``"pipelines[0].nodes[2]"``.

        Raises:
            KeyError: no such node.
        """
        ref = self.graph.node(key)
        index = next(i for i, p in enumerate(self.config.pipelines) if p.pipeline == ref.pipeline)
        return f"pipelines[{index}].nodes[{ref.index}]"

    def locate_node(self, key: str) -> tuple[Path, int | None]:
        """File and line of node ``"pipeline.name"``."""
        return self.locate(self.node_key_path(key))


def load_project(
    path: str | Path, *, env: str | None = None, environ: Mapping[str, str] | None = None
) -> Project:
    """Load, check and return a project.

    Args:
        path: a project file, or a folder holding ``odibi.yaml``.
        env: the environment to apply; defaults to ``environ["ODIBI_ENV"]``.
        environ: the variables ``${ENV_VAR}`` reads; defaults to ``os.environ``.

    Raises:
        ConfigError: with every problem found, each with file, line, key path and fix.

    Example:
        >>> project = load_project("examples/retail", env="dev")  # doctest: +SKIP
        >>> project.graph.topological_order()                      # doctest: +SKIP
    """
    document, problems = _read_project_file(_project_file(Path(path)))
    if document is None:
        raise ConfigError(problems)
    return _load(document, env=env, environ=environ, problems=problems)


def load_project_data(
    data: Any, *, file: str | Path, marks: Mapping[KeyPath, Mark] | None = None,
    env: str | None = None, environ: Mapping[str, str] | None = None
) -> Project:
    """:func:`load_project` for a project given as data rather than read from its own file, e.g.
    written inside a Dagster ``defs.yaml``: the same steps (imports, environment, ``${...}``,
    models, references, ``transforms.py``), with ``imports``, ``env.NAME.yaml``,
    ``transforms.py`` and relative paths taken from ``file``'s folder.

    Args:
        file: the file the data was written in (problems name it).
        marks: the line of each key path of ``data`` in ``file``, so problems point at lines.

    Raises:
        ConfigError: with every problem found.
    """
    file = Path(file).expanduser().resolve()
    if not isinstance(data, dict):
        raise ConfigError(ConfigProblem(
            "A project must be a map of keys (project:, connections:, ...).", file=file,
            fix="Write one key: value per line."))
    return _load(YamlDocument(file=file, data=data, marks={(): Mark(file, 1), **(marks or {})}),
                 env=env, environ=environ)


def _load(document: YamlDocument, *, env: str | None, environ: Mapping[str, str] | None,
          problems: Sequence[ConfigProblem] = ()) -> Project:
    environ = os.environ if environ is None else environ
    env = env or environ.get("ODIBI_ENV") or None
    file = document.file
    root = file.parent

    document, files, import_problems = _with_imports(document)
    if problems or import_problems:
        raise ConfigError([*problems, *import_problems])

    selection = select_environment(document.data, document.marks, name=env, project_file=file)
    files += selection.files
    if selection.problems:
        raise ConfigError(selection.problems)
    source = SourceMap(selection.marks, file)

    data, problems = substitute_variables(selection.data, source, environ=environ)
    config, schema_problems = validate_project(data, source)
    problems += schema_problems
    if config is not None:
        problems += check_references(config, source, root=root)
        problems += orchestration_problems(config, source)
        problems += write_mode_problems(config, source)
    else:
        partial, stand_ins = partial_config(data)
        if partial is not None:
            problems += check_references(partial, source, root=root, skip=stand_ins)

    transforms_file = root / TRANSFORMS_FILE_NAME
    if transforms_file.is_file():
        problems += _import_transforms(transforms_file)
    if problems or config is None:
        raise ConfigError(_in_reading_order([_named(problem, data) for problem in problems], files))
    return Project(
        config=config,
        file=file,
        root=root,
        env=env,
        graph=graph_module.ProjectGraph.build(config, base_dir=root),
        files=tuple(files),
        transforms_file=transforms_file if transforms_file.is_file() else None,
        marks=source.marks,
    )


def _project_file(path: Path) -> Path:
    path = path.expanduser().resolve()
    file = path / PROJECT_FILE_NAME if path.is_dir() else path
    if not file.is_file():
        raise ConfigError(ConfigProblem(
            f"No project file at {file}.", file=file,
            fix=f"Pass the path of a project file, or of a folder holding {PROJECT_FILE_NAME} "
            "(odibi init NAME creates one)."))
    return file


def _named(problem: ConfigProblem, data: Any) -> ConfigProblem:
    """Prefix the message with ``[pipeline.node]`` when the key path is inside a node (key paths
    use positions, people use names)."""
    owner = owner_label(parse_key_path(problem.key_path), data)
    if owner is None or problem.message.startswith("["):
        return problem
    return replace(problem, message=f"[{owner}] {problem.message}")


def _in_reading_order(problems: list[ConfigProblem], files: list[Path]) -> list[ConfigProblem]:
    """Problems sorted by file (in the order read) and line; the sort is stable."""
    rank = {file: index for index, file in enumerate(files)}
    return sorted(problems, key=lambda p: (rank.get(p.file, len(rank)) if p.file else -1,
                                           p.line or 0))


# --- imports -----------------------------------------------------------------------------------


def _read_project_file(file: Path) -> tuple[YamlDocument | None, list[ConfigProblem]]:
    """The project file's document, or None with the problems (unreadable, empty, not a map)."""
    document, problems = read_yaml(file)
    if document is None:
        return None, problems
    if document.data is None:
        problems.append(ConfigProblem("The project file is empty.", file=file, line=1,
                                      fix="Write at least project:, connections: and pipelines:."))
        return None, problems
    if not isinstance(document.data, dict):
        problems.append(ConfigProblem(
            "The project file must be a map of keys (project:, connections:, ...).", file=file,
            line=1, fix="Write one key: value per line at the top level."))
        return None, problems
    return document, problems


def _with_imports(document: YamlDocument
                  ) -> tuple[YamlDocument, list[Path], list[ConfigProblem]]:
    """``document`` with every imported file merged in: top-level maps merge, ``pipelines``
    lists append; imported files may import further files (each file once)."""
    file = document.file
    files, problems = [file], []
    data, marks = document.data, dict(document.marks)
    pending = [(file, document)]
    while pending:
        owner, owner_document = pending.pop(0)
        for imported in _imported_files(owner, owner_document, problems):
            if imported in files:
                continue
            files.append(imported)
            child, child_problems = read_yaml(imported)
            problems += child_problems
            if child is None or child.data is None:
                continue
            if not isinstance(child.data, dict):
                problems.append(ConfigProblem(
                    "An imported file must be a map of project keys.", file=imported, line=1,
                    fix="Write key: value lines at the top level."))
                continue
            data, marks = _merge_import(data, marks, child)
            pending.append((imported, child))
    return YamlDocument(file=file, data=data, marks=marks), files, problems


def _imported_files(
    owner: Path, document: YamlDocument, problems: list[ConfigProblem]
) -> list[Path]:
    patterns = document.data.get("imports") if isinstance(document.data, dict) else None
    if patterns is None:
        return []
    source = SourceMap(document.marks, owner)
    if not isinstance(patterns, list) or not all(isinstance(p, str) for p in patterns):
        problems.append(source.problem(
            ("imports",), "imports must be a list of file paths or globs.",
            fix="Write imports: [pipelines/*.yaml]."))
        return []
    found: list[Path] = []
    for index, pattern in enumerate(patterns):
        full = pattern if os.path.isabs(pattern) else str(owner.parent / pattern)
        matches = sorted(Path(match).resolve() for match in glob.glob(full, recursive=True))
        matches = [match for match in matches if match.is_file()]
        if not matches:
            problems.append(source.problem(
                ("imports", index), f"imports[{index}] '{pattern}' matches no file.",
                fix=f"Paths are relative to {owner.name}'s folder ({owner.parent}); check the "
                "name or glob."))
        found += [match for match in matches if match not in found]
    return found


def _merge_import(
    data: dict[str, Any], marks: dict[KeyPath, Mark], child: YamlDocument
) -> tuple[dict[str, Any], dict[KeyPath, Mark]]:
    """Merge one imported file: its ``pipelines`` append, its other keys deep-merge over
    ``data``."""
    child_data = {key: value for key, value in child.data.items()
                  if key not in ("imports", "pipelines")}
    child_marks = {path: mark for path, mark in child.marks.items()
                   if path and path[0] not in ("imports", "pipelines")}
    data, marks = deep_merge(data, marks, child_data, child_marks)
    pipelines = child.data.get("pipelines")
    if pipelines is not None:
        existing = data.get("pipelines")
        if isinstance(existing, list) and isinstance(pipelines, list):
            offset = len(existing)
            data = {**data, "pipelines": existing + pipelines}
            for path, mark in child.marks.items():
                if len(path) >= 2 and path[0] == "pipelines" and isinstance(path[1], int):
                    marks[("pipelines", path[1] + offset, *path[2:])] = mark
        else:  # nothing to append to (or not lists): let validation report the shape
            pipeline_marks = {p: m for p, m in child.marks.items() if p and p[0] == "pipelines"}
            data, marks = deep_merge(data, marks, {"pipelines": pipelines}, pipeline_marks)
    return data, marks


# --- transforms.py -----------------------------------------------------------------------------


def _import_transforms(file: Path) -> list[ConfigProblem]:
    """Import ``transforms.py`` under a name unique to its path so its ``@transform`` functions
    register. Importing the same unchanged file again is a no-op."""
    name = "odibi_user_transforms_" + hashlib.sha1(str(file).encode()).hexdigest()[:12]
    stat = file.stat()
    stamp = (stat.st_mtime_ns, stat.st_size)
    loaded = sys.modules.get(name)
    if loaded is not None and getattr(loaded, "__odibi_stamp__", None) == stamp:
        return []
    spec = importlib.util.spec_from_file_location(name, file)
    if spec is None or spec.loader is None:
        return [ConfigProblem(f"Cannot import {file.name}.", file=file,
                              fix="Make it a Python source file.")]
    module: ModuleType = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    added_path = str(file.parent) not in sys.path
    if added_path:  # so that transforms.py can import helper modules beside it
        sys.path.insert(0, str(file.parent))
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        sys.modules.pop(name, None)
        return [ConfigProblem(f"{file.name} has a syntax error: {exc.msg}.", file=file,
                              line=exc.lineno, fix=f"Fix the Python syntax in {file.name}.")]
    except Exception as exc:  # noqa: BLE001 - any failure of user code is reported, not raised
        sys.modules.pop(name, None)
        line = next((frame.lineno for frame in reversed(traceback.extract_tb(exc.__traceback__))
                     if Path(frame.filename) == file), None)
        detail = exc.render() if isinstance(exc, ConfigError) else f"{type(exc).__name__}: {exc}"
        return [ConfigProblem(f"Importing {file.name} failed: {detail}", file=file, line=line,
                              fix=f"Fix {file.name} so that it imports cleanly (python {file}).")]
    finally:
        if added_path and str(file.parent) in sys.path:
            sys.path.remove(str(file.parent))
    module.__odibi_stamp__ = stamp  # type: ignore[attr-defined]
    return []
