"""``OdibiProjectComponent``: an odibi project as a Dagster Component, for ``defs.yaml`` files of a
project made with ``create-dagster`` (``dg check yaml``, ``dg list defs``, ``dg launch``, ``dg dev``).

.. code-block:: yaml

    # src/acme/defs/odibi/defs.yaml
    type: odibi_dagster.OdibiProjectComponent
    attributes:
      project_file: ../../../../odibi.yaml     # relative to this file's folder
      env: prod                                # optional; default $ODIBI_ENV
      key_prefix: [odibi]                      # optional

or the project written in place, under ``project:`` (the same keys as a project file). Exactly one
of ``project_file`` and ``project`` is given. Both build what :func:`defs_from_project` builds:
the component is a thin wrapper over the same translation (see docs/components.md).

``dg check yaml`` validates ``project:`` against a JSON schema made from the project file's own
pydantic models (:class:`odibi_core.config.ProjectConfig`), adapted to what JSON schema cannot
say by itself (see :mod:`odibi_dagster.component_schema`); loading then runs odibi's full loader, whose
``ConfigError`` names this ``defs.yaml`` and the line of each problem.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import dagster as dg
from pydantic import PrivateAttr, model_validator

from odibi_dagster.component_schema import FILE_FIELD as _FILE_FIELD
from odibi_dagster.component_schema import PROJECT_FIELD as _PROJECT_FIELD
from odibi_dagster.component_schema import checked_model
from odibi_dagster.translator import OdibiTranslator, OdibiTranslatorSettings

__all__ = [
    "OdibiProjectComponent",
    "OdibiProjectComponentError",
    "OdibiProjectScaffolder",
    "load_inline_project",
]

_BOTH = (f"Give either {_FILE_FIELD} (a project file) or {_PROJECT_FIELD} (the project written "
         "in place), not both.")
_NEITHER = (f"Give {_FILE_FIELD}: (a project file, relative to the defs.yaml) or {_PROJECT_FIELD}: "
            "(the project written in place).")


class OdibiProjectComponentError(Exception):
    """The odibi project of an :class:`OdibiProjectComponent` cannot be loaded: names the
    ``defs.yaml`` and the project file, then lists every problem (the ``ConfigError`` text)."""


def _render_templates(context: dg.ResolutionContext, value: Any) -> Any:
    """Render Dagster templates (``{{ env.X }}``) in the strings of an inline project. Only strings
    that hold a template are rendered, so quoted values keep their type (Dagster's renderer would
    turn ``"123"`` into a number); odibi's ``${...}`` is left for odibi's loader."""
    if isinstance(value, str):
        return context.resolve_value(value) if ("{{" in value or "{%" in value) else value
    if isinstance(value, Mapping):
        return {key: _render_templates(context.at_path(key), item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_render_templates(context.at_path(index), item)
                for index, item in enumerate(value)]
    return value


def _resolve_inline_project(context: dg.ResolutionContext, value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    rendered = _render_templates(context, value)
    if not isinstance(rendered, Mapping):
        raise ValueError(f"{_PROJECT_FIELD}: must be a map of project keys (project:, "
                         f"connections:, pipelines:, ...), got {type(rendered).__name__}.")
    return dict(rendered)


InlineProject = Annotated[
    dict[str, Any] | None,
    dg.Resolver(
        _resolve_inline_project,
        model_field_type=dict[str, Any],
        description="The odibi project written in place: the keys of a project file (project, "
        "engine, connections, pipelines, ...). Relative paths are relative to this defs.yaml's "
        "folder. Exclusive with project_file.",
    ),
]


class OdibiProjectScaffoldParams(dg.Model):
    """``dg scaffold defs odibi_dagster.OdibiProjectComponent PATH [--project-file FILE]``."""

    project_file: str | None = None


class OdibiProjectScaffolder(dg.Scaffolder[OdibiProjectScaffoldParams]):
    """Writes the ``defs.yaml``. With ``--project-file`` it points at that project file
    (relative to the new folder); without, a runnable starter project (the one ``odibi init``
    writes) is created in the new folder and the ``defs.yaml`` points at it."""

    @classmethod
    def get_scaffold_params(cls) -> type[OdibiProjectScaffoldParams]:
        return OdibiProjectScaffoldParams

    def scaffold(self, request: dg.ScaffoldRequest[OdibiProjectScaffoldParams]) -> None:
        from dagster.components import scaffold_component

        project_file = request.params.project_file if request.params else None
        if project_file is None:
            from odibi_dagster.cli.starter import write_starter

            write_starter(request.target_path)
            project_file = "odibi.yaml"
        scaffold_component(request, {_FILE_FIELD: project_file})


@dg.scaffold_with(OdibiProjectScaffolder)
class OdibiProjectComponent(dg.Component, dg.Resolvable, dg.Model):
    """An odibi project as Dagster assets: one asset per node, asset checks for contracts and
    validation tests, a job per pipeline (what ``odibi_dagster.defs_from_project`` builds).

    Give exactly one of ``project_file`` (a project file or a folder holding ``odibi.yaml``,
    relative to this ``defs.yaml``'s folder) and ``project`` (the project written in place).
    ``env`` selects an environment (default ``$ODIBI_ENV``); ``key_prefix`` is put in front of
    every asset key. Override :meth:`get_translator` in a subclass to change how nodes become
    assets.
    """

    project_file: Annotated[str | None, dg.Resolver.default(
        description="An odibi project file (or a folder holding odibi.yaml), relative to this "
        "defs.yaml's folder. Exclusive with project.")] = None
    project: InlineProject = None
    env: Annotated[str | None, dg.Resolver.default(
        description="The environment to apply (environments.NAME / env.NAME.yaml); default "
        "$ODIBI_ENV, else none.")] = None
    key_prefix: Annotated[list[str] | None, dg.Resolver.default(
        description="Put in front of every asset key: [odibi] gives odibi/<pipeline>/<node>.")
    ] = None

    # Where the attributes were written (set when loaded from a defs.yaml): the file, and the
    # line of each key of an inline project, so that odibi's problems point into the defs.yaml.
    _defs_file: Path | None = PrivateAttr(default=None)
    _project_marks: dict[Any, Any] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _one_project(self) -> OdibiProjectComponent:
        if self.project_file is not None and self.project is not None:
            raise ValueError(_BOTH)
        if self.project_file is None and self.project is None:
            raise ValueError(_NEITHER)
        return self

    # ---- Dagster hooks ------------------------------------------------------------------------
    @classmethod
    def get_model_cls(cls) -> type[Any]:
        """Dagster's model of the attributes, with a JSON schema that checks ``project:`` against
        the project file's models and says that exactly one of the two forms is given."""
        return checked_model(super().get_model_cls(), both=_BOTH, neither=_NEITHER)

    @classmethod
    def resolve_from_model(cls, context: dg.ResolutionContext, model: Any) -> Any:
        component = super().resolve_from_model(context, model)
        tree = context.source_position_tree
        if tree is not None:
            component._defs_file = Path(tree.position.filename).resolve()
            project_tree = _subtree(tree, [*context.path, _PROJECT_FIELD])
            if project_tree is not None:
                component._project_marks = _marks(project_tree)
        return component

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        """Load the project (odibi's loader: imports, environment, ``${vars.x}``/``${ENV}``,
        checks) and translate it with :meth:`get_translator`.

        Raises:
            OdibiProjectComponentError: the project has problems; the message names the
                ``defs.yaml``, the project file and every problem with its file and line.
        """
        from odibi_dagster.definitions import defs_from_loaded_project

        project = self.load_project(context)
        return defs_from_loaded_project(project, translator=self.get_translator())

    # ---- override points ----------------------------------------------------------------------
    def get_translator(self) -> OdibiTranslator:
        """The translator from nodes to assets. Override it to return your subclass; keep the
        settings so that ``key_prefix`` still applies:

        .. code-block:: python

            class TeamComponent(OdibiProjectComponent):
                def get_translator(self):
                    return TeamTranslator(super().get_translator().settings)
        """
        return OdibiTranslator(OdibiTranslatorSettings(key_prefix=tuple(self.key_prefix or ())))

    def load_project(self, context: dg.ComponentLoadContext) -> Any:
        """The loaded ``odibi_core.config.Project`` of this component.

        Raises:
            OdibiProjectComponentError: see :meth:`build_defs`.
        """
        from odibi_core.errors import ConfigError

        folder = Path(context.path)
        defs_file = self._defs_file or folder / "defs.yaml"
        env = self.env or os.environ.get("ODIBI_ENV") or None
        if self.project_file is not None:
            path = Path(self.project_file).expanduser()
            path = path if path.is_absolute() else folder / path
            shown = f" ({path.resolve()})" if str(path.resolve()) != self.project_file else ""
            source = f"project_file {self.project_file}{shown}"
        else:
            source = "the project written under project:"
        try:
            if self.project_file is not None:
                from odibi_core.config import load_project

                return load_project(path, env=env)
            return load_inline_project(self.project or {}, file=defs_file, env=env,
                                       marks=self._project_marks)
        except ConfigError as exc:
            raise OdibiProjectComponentError(
                f"OdibiProjectComponent in {defs_file}: {source}"
                f"{f', environment {env}' if env else ''} cannot be loaded.\n{exc}") from None


# ---- the inline project ---------------------------------------------------------------------


def load_inline_project(data: Mapping[str, Any], *, file: Path, env: str | None = None,
                        marks: Mapping[Any, Any] | None = None,
                        environ: Mapping[str, str] | None = None) -> Any:
    """``load_project`` for a project written inside ``file`` (a ``defs.yaml``); relative paths,
    ``imports``, ``env.NAME.yaml`` and ``transforms.py`` are taken from ``file``'s folder.

    Args:
        marks: the line of each key path of ``data`` (``("pipelines", 0, "nodes")`` ->
            ``Mark``), so that problems point into ``file``.

    Raises:
        ConfigError: with every problem found.
    """
    from odibi_core.config import load_project_data

    return load_project_data(dict(data), file=file, marks=marks, env=env, environ=environ)


def _subtree(tree: Any, path: list[Any]) -> Any:
    for part in path:
        tree = tree.children.get(part)
        if tree is None:
            return None
    return tree


def _marks(tree: Any) -> dict[Any, Any]:
    """odibi line marks (key path -> file and line) from Dagster's source position tree."""
    from odibi_core.config.yaml_source import Mark

    marks: dict[Any, Any] = {}

    def walk(node: Any, path: tuple[Any, ...]) -> None:
        position = node.position
        marks[path] = Mark(Path(position.filename).resolve(), position.start.line)
        for key, child in node.children.items():
            walk(child, (*path, key))

    walk(tree, ())
    return marks
