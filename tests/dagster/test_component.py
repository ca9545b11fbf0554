"""``OdibiProjectComponent``: an odibi project in a ``defs.yaml`` of a ``create-dagster`` project.

Fast tests load real ``defs.yaml`` files through Dagster's own component loader (a defs-folder
sandbox); the slow test scaffolds a project with ``create-dagster`` and drives ``dg``.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import yaml
from dagster.components.testing import create_defs_folder_sandbox
from dagster_shared.yaml_utils import DagsterYamlLoader
from jsonschema import Draft202012Validator

from odibi_core.config import load_project
from odibi_dagster import OdibiProjectComponent, defs_from_project
from odibi_dagster.component import OdibiProjectComponentError, load_inline_project

COMPONENT_TYPE = "odibi_dagster.OdibiProjectComponent"


# ---- helpers ----------------------------------------------------------------------------------


def _defs_yaml(attributes: str, type_name: str = COMPONENT_TYPE) -> str:
    return f"type: {type_name}\nattributes:\n{textwrap.indent(attributes, '  ')}"


def _inline(project_text: str) -> str:
    """``project:`` holding ``project_text`` (a project file's text)."""
    return "project:\n" + textwrap.indent(project_text, "  ")


def _project_folder(retail: Path, folder: Path) -> None:
    """Put what a retail project file refers to (landing files, imported pipelines, transforms.py)
    in ``folder``: the defs.yaml folder is the inline project's root."""
    shutil.copytree(retail, folder, ignore=shutil.ignore_patterns("odibi.yaml", "lake*"),
                    dirs_exist_ok=True)


@contextmanager
def _component(defs_yaml: str, *, folder_setup: Any = None,
               extra_files: dict[str, str] | None = None
               ) -> Iterator[tuple[Any, dg.Definitions, Path]]:
    """Load ``defs_yaml`` at ``defs/odibi/defs.yaml`` of a sandbox project with Dagster's loader;
    yield the component, its Definitions and the defs.yaml path."""
    with create_defs_folder_sandbox() as sandbox:
        folder = sandbox.defs_folder_path / "odibi"
        if folder_setup is not None:
            folder_setup(folder)
        folder.mkdir(parents=True, exist_ok=True)
        for name, text in (extra_files or {}).items():
            path = sandbox.project_root / "src" / sandbox.project_name / name
            path.write_text(text.replace("__PROJECT__", sandbox.project_name), encoding="utf-8")
        defs_yaml = defs_yaml.replace("__PROJECT__", sandbox.project_name)
        (folder / "defs.yaml").write_text(defs_yaml, encoding="utf-8")
        with sandbox.load_component_and_build_defs(defs_path=folder) as (component, defs):
            yield component, defs, folder / "defs.yaml"


def _load_error(defs_yaml: str, **kwargs: Any) -> str:
    """The text of every exception in the chain raised while loading ``defs_yaml``."""
    with pytest.raises(Exception) as info:  # noqa: PT011 - Dagster wraps the error; read all
        with _component(defs_yaml, **kwargs):
            pass
    texts, error = [], info.value
    while error is not None:
        texts.append(f"{type(error).__name__}: {error}")
        error = error.__cause__ or error.__context__
    return "\n".join(texts)


def _shape(defs: dg.Definitions) -> dict[str, set[str]]:
    graph = defs.resolve_asset_graph()
    return {
        "assets": {key.to_user_string() for key in graph.get_all_asset_keys()},
        "checks": {key.to_user_string() for key in graph.asset_check_keys},
        "groups": {graph.get(key).group_name or "" for key in graph.get_all_asset_keys()},
        "jobs": {job.name for job in defs.jobs or []},
        "schedules": {schedule.name for schedule in defs.schedules or []},
        "sensors": {sensor.name for sensor in defs.sensors or []},
    }


def _materialize(defs: dg.Definitions, selection: str) -> dg.ExecuteInProcessResult:
    job = defs.resolve_implicit_global_asset_job_def()
    keys = list(dg.AssetSelection.from_string(selection).resolve(defs.resolve_asset_graph()))
    with dg.DagsterInstance.ephemeral() as instance:
        return job.execute_in_process(instance=instance, asset_selection=keys,
                                      raise_on_error=False)


# ---- the two forms build what defs_from_project builds ------------------------------------------


@contextmanager
def _project_file_component(retail: Path, extra: str = ""
                            ) -> Iterator[tuple[Any, dg.Definitions, Path]]:
    """The component with ``project_file:`` written relative to the defs.yaml's folder."""
    with create_defs_folder_sandbox() as sandbox:
        folder = sandbox.defs_folder_path / "odibi"
        folder.mkdir(parents=True)
        relative = os.path.relpath(retail / "odibi.yaml", folder)
        (folder / "defs.yaml").write_text(_defs_yaml(f"project_file: {relative}\n{extra}"),
                                          encoding="utf-8")
        with sandbox.load_component_and_build_defs(defs_path=folder) as (component, defs):
            yield component, defs, folder / "defs.yaml"


def test_project_file_relative_to_defs_yaml_builds_same_defs_as_defs_from_project(
        retail: Path) -> None:
    with _project_file_component(retail) as (component, defs, _):
        assert isinstance(component, OdibiProjectComponent)
        assert not Path(component.project_file).is_absolute()
        expected = _shape(defs_from_project(retail / "odibi.yaml"))
        assert _shape(defs) == expected
        assert "bronze/raw_orders" in expected["assets"]
        assert any(check.startswith("bronze/raw_orders:") for check in expected["checks"])
        dg.Definitions.validate_loadable(defs)


def test_inline_project_builds_same_defs_as_the_project_file(retail: Path) -> None:
    text = (retail / "odibi.yaml").read_text(encoding="utf-8")
    with _component(_defs_yaml(_inline(text)),
                    folder_setup=lambda folder: _project_folder(retail, folder)) as (
            component, defs, _):
        assert component.project_file is None
        assert component.project["project"] == "retail"
        assert _shape(defs) == _shape(defs_from_project(retail / "odibi.yaml"))


def test_inline_loader_gives_the_same_project_as_load_project(retail: Path) -> None:
    """The inline form runs load_project's steps: imports, environments, ${vars}, models."""
    folder = retail.parent / "inline"
    _project_folder(retail, folder)
    data = yaml.safe_load((retail / "odibi.yaml").read_text(encoding="utf-8"))
    for env in (None, "prod"):
        inline = load_inline_project(data, file=folder / "defs.yaml", env=env)
        from_file = load_project(retail / "odibi.yaml", env=env)
        assert inline.config == from_file.config
        assert inline.file == (folder / "defs.yaml").resolve()
        assert inline.root == folder.resolve()
        assert inline.env == env
        assert [p.name for p in inline.files[1:]] == [p.name for p in from_file.files[1:]]
        assert inline.graph.topological_order() == from_file.graph.topological_order()
    assert load_inline_project(data, file=folder / "defs.yaml", env="prod").config \
        .connections["lake"].base_path == "./lake_prod"


def test_inline_project_runs(retail: Path) -> None:
    text = (retail / "odibi.yaml").read_text(encoding="utf-8")
    with _component(_defs_yaml(_inline(text)),
                    folder_setup=lambda folder: _project_folder(retail, folder)) as (
            _, defs, defs_file):
        result = _materialize(defs, 'key:"bronze/raw_customers"')
        assert result.success
        # relative paths of an inline project are relative to the defs.yaml's folder
        assert (defs_file.parent / "lake" / "bronze" / "customers" / "_delta_log").is_dir()


# ---- exactly one of project_file and project --------------------------------------------------


def test_both_forms_are_refused_with_the_defs_yaml_line(retail: Path) -> None:
    text = _load_error(_defs_yaml("project_file: odibi.yaml\n" + _inline("project: x\n")))
    assert "not both" in text
    assert "defs.yaml:2" in text  # the attributes: line


def test_neither_form_is_refused_with_a_clear_message() -> None:
    text = _load_error(_defs_yaml("env: prod\n"))
    assert "Give project_file: (a project file, relative to the defs.yaml) or project:" in text
    assert "defs.yaml:2" in text


def test_both_and_neither_refused_in_python_too(retail: Path) -> None:
    with pytest.raises(ValueError, match="not both"):
        OdibiProjectComponent(project_file=str(retail / "odibi.yaml"), project={"project": "x"})
    with pytest.raises(ValueError, match="Give project_file"):
        OdibiProjectComponent(env="prod")


def test_unknown_attribute_is_refused() -> None:
    text = _load_error(_defs_yaml("project_file: odibi.yaml\nenviron: prod\n"))
    assert "environ" in text


# ---- errors name the defs.yaml and the project file -----------------------------------------


def test_bad_project_file_error_names_defs_yaml_and_project_file(retail: Path) -> None:
    project_file = retail / "odibi.yaml"
    text = project_file.read_text(encoding="utf-8")
    project_file.write_text(text.replace("max_attempts: 2", "max_attempts: two"),
                            encoding="utf-8")
    line = next(i for i, row in enumerate(project_file.read_text().splitlines(), 1)
                if "max_attempts: two" in row)
    with pytest.raises(Exception) as info:  # noqa: PT011 - Dagster wraps it
        with _project_file_component(retail):
            pass
    error = info.value
    while error is not None and not isinstance(error, OdibiProjectComponentError):
        error = error.__cause__ or error.__context__
    assert isinstance(error, OdibiProjectComponentError)
    message = str(error)
    assert "defs.yaml" in message.splitlines()[0]
    assert f"({project_file.resolve()})" in message.splitlines()[0]
    assert f"{project_file.resolve()}:{line}: retry.max_attempts" in message
    assert "Fix: Write max_attempts as a whole number." in message


def test_missing_project_file_is_named(tmp_path: Path) -> None:
    text = _load_error(_defs_yaml("project_file: nowhere/odibi.yaml\n"))
    assert "OdibiProjectComponentError" in text
    assert "project_file nowhere/odibi.yaml" in text
    assert "No project file at" in text


def test_inline_problems_point_at_defs_yaml_lines(retail: Path) -> None:
    text = (retail / "odibi.yaml").read_text(encoding="utf-8")
    text = text.replace("max_attempts: 2", "max_attempts: two")
    text = text.replace("        tags: [ingest]\n", "        tags: [ingest]\n        reed: 1\n", 1)
    defs_yaml = _defs_yaml(_inline(text))
    rows = defs_yaml.splitlines()
    retry_line = next(i for i, row in enumerate(rows, 1) if "max_attempts: two" in row)
    reed_line = next(i for i, row in enumerate(rows, 1) if "reed: 1" in row)
    message = _load_error(defs_yaml,
                          folder_setup=lambda folder: _project_folder(retail, folder))
    assert "the project written under project: cannot be loaded" in message
    assert f"defs.yaml:{retry_line}: retry.max_attempts: Wrong type" in message
    assert f"defs.yaml:{reed_line}: pipelines[0].nodes[0].reed: [bronze.raw_orders] " \
           "Unknown key 'reed'. Did you mean 'read'?" in message


def test_inline_unknown_environment_is_reported(retail: Path) -> None:
    text = (retail / "odibi.yaml").read_text(encoding="utf-8")
    message = _load_error(_defs_yaml(_inline(text) + "env: prd\n"),
                          folder_setup=lambda folder: _project_folder(retail, folder))
    assert "environment prd cannot be loaded" in message
    assert "Unknown environment 'prd'. Did you mean 'prod'?" in message


# ---- environments, templates, key_prefix, translator -------------------------------------------


def test_env_attribute_selects_the_environment(retail: Path) -> None:
    with _project_file_component(retail, "env: prod\n") as (_, defs, _):
        assert _materialize(defs, 'key:"bronze/raw_customers"').success
    assert (retail / "lake_prod" / "bronze" / "customers" / "_delta_log").is_dir()
    assert not (retail / "lake").exists()


def test_env_defaults_to_odibi_env(retail: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ODIBI_ENV", "prod")
    with _project_file_component(retail) as (component, defs, _):
        assert component.env is None
        assert _materialize(defs, 'key:"bronze/raw_customers"').success
    assert (retail / "lake_prod" / "bronze" / "customers" / "_delta_log").is_dir()


def test_dagster_templates_and_odibi_variables_both_work(
        retail: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``{{ env.X }}`` is rendered by Dagster when the component loads; ``${X}`` by odibi."""
    monkeypatch.setenv("RETAIL_ENV", "prod")
    monkeypatch.setenv("LANDING_DIR", "./landing")
    monkeypatch.setenv("RETAIL_PROJECT", "retail")
    text = (retail / "odibi.yaml").read_text(encoding="utf-8")
    text = text.replace("project: retail", 'project: "{{ env.RETAIL_PROJECT }}"')
    text = text.replace("landing: ./landing", 'landing: "${LANDING_DIR}"')
    text = text.replace("max_sample_rows: 5", 'max_sample_rows: "5"')
    with _component(_defs_yaml(_inline(text) + 'env: "{{ env.RETAIL_ENV }}"\n'),
                    folder_setup=lambda folder: _project_folder(retail, folder)) as (
            component, defs, defs_file):
        assert component.env == "prod"
        assert component.project["project"] == "retail"
        assert component.project["vars"]["landing"] == "${LANDING_DIR}"  # left to odibi
        assert component.project["story"]["max_sample_rows"] == "5"  # quoted text stays text
        assert _materialize(defs, 'key:"bronze/raw_customers"').success
        assert (defs_file.parent / "lake_prod" / "bronze" / "customers").is_dir()


def test_key_prefix(retail: Path) -> None:
    with _project_file_component(retail, "key_prefix: [odibi, retail]\n") as (_, defs, _):
        graph = defs.resolve_asset_graph()
        orders = graph.get(dg.AssetKey(["odibi", "retail", "sales", "clean_orders"]))
        assert dg.AssetKey(["odibi", "retail", "bronze", "raw_orders"]) in orders.parent_keys
        assert all(key.path[:2] == ["odibi", "retail"] for key in graph.get_all_asset_keys())


TEAM_COMPONENT = '''
from odibi_dagster import OdibiProjectComponent, OdibiTranslator


class TeamTranslator(OdibiTranslator):
    def get_asset_spec(self, project, node):
        return super().get_asset_spec(project, node).replace_attributes(owners=["team:data"])


class TeamComponent(OdibiProjectComponent):
    def get_translator(self):
        return TeamTranslator(super().get_translator().settings)
'''


def test_subclass_overrides_get_translator(retail: Path) -> None:
    defs_yaml = _defs_yaml(f"project_file: {retail / 'odibi.yaml'}\nkey_prefix: [acme]\n",
                           type_name="__PROJECT__.team.TeamComponent")
    with _component(defs_yaml, extra_files={"team.py": TEAM_COMPONENT}) as (component, defs, _):
        assert isinstance(component, OdibiProjectComponent)
        assert type(component).__name__ == "TeamComponent"
        spec = defs.resolve_asset_graph().get(dg.AssetKey(["acme", "bronze", "raw_orders"]))
        assert spec.owners == ["team:data"]


# ---- dg scaffold defs odibi_dagster.OdibiProjectComponent PATH [--project-file FILE] -----------


def test_scaffold_without_project_file_writes_a_runnable_starter() -> None:
    with create_defs_folder_sandbox() as sandbox:
        folder = sandbox.scaffold_component(component_cls=OdibiProjectComponent,
                                            defs_path="odibi")
        assert yaml.safe_load((folder / "defs.yaml").read_text()) == {
            "type": "odibi_dagster.component.OdibiProjectComponent",
            "attributes": {"project_file": "odibi.yaml"}}
        assert (folder / "odibi.yaml").is_file()
        with sandbox.load_component_and_build_defs(defs_path=folder) as (_, defs):
            assert _shape(defs)["assets"] == {"starter/raw_sales", "starter/sales_by_region"}
            assert _materialize(defs, "group:starter").success
        assert (folder / "lake" / "bronze" / "sales" / "_delta_log").is_dir()


def test_scaffold_with_project_file(retail: Path) -> None:
    with create_defs_folder_sandbox() as sandbox:
        folder = sandbox.scaffold_component(
            component_cls=OdibiProjectComponent, defs_path="odibi",
            scaffold_params={"project_file": str(retail / "odibi.yaml")})
        assert yaml.safe_load((folder / "defs.yaml").read_text())["attributes"] == {
            "project_file": str(retail / "odibi.yaml")}
        assert sorted(path.name for path in folder.iterdir()) == ["defs.yaml"]
        with sandbox.load_component_and_build_defs(defs_path=folder) as (_, defs):
            assert _shape(defs) == _shape(defs_from_project(retail / "odibi.yaml"))


# ---- the JSON schema that `dg check yaml` validates defs.yaml against --------------------------


@functools.cache
def _validator() -> Draft202012Validator:
    schema = OdibiProjectComponent.get_model_cls().model_json_schema()
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def _as_dg_reads(text: str) -> Any:
    """YAML as dg reads a defs.yaml (no timestamp parsing)."""
    return yaml.load(text, Loader=DagsterYamlLoader)  # noqa: S506 - a SafeLoader subclass


def _errors(attributes: Any) -> list[tuple[list[Any], str]]:
    return [(list(error.absolute_path), error.message)
            for error in _validator().iter_errors(attributes)]


def test_schema_accepts_the_retail_project_written_in_place(retail: Path) -> None:
    project = _as_dg_reads((retail / "odibi.yaml").read_text(encoding="utf-8"))
    for imported in sorted((retail / "pipelines").glob("*.yaml")):
        project["pipelines"] += _as_dg_reads(imported.read_text(encoding="utf-8"))["pipelines"]
    assert _errors({"project": project, "env": "prod", "key_prefix": ["odibi"]}) == []
    assert _errors({"project_file": "../odibi.yaml"}) == []


def test_schema_accepts_substitutions_and_shorthands() -> None:
    """``${vars.n}`` may stand for any value; a cron string for a schedule, a SQL string for a
    step and a number for a duration are what odibi's validators accept."""
    project = _as_dg_reads(textwrap.dedent("""
        project: demo
        vars: {n: 3, columns: [a]}
        connections:
          lake: {type: local, base_path: "${LAKE}"}
        retry: {max_attempts: "${vars.n}", initial_delay: "{{ env.DELAY }}"}
        pipelines:
          - pipeline: p
            schedule: "0 6 * * *"
            partitions: {type: daily, start: 2026-01-01, column: day}
            nodes:
              - name: a
                read: {connection: lake, format: csv, path: a.csv}
                transform:
                  steps:
                    - SELECT * FROM df
                    - {operation: deduplicate, params: {keys: "${vars.columns}"}}
                validation:
                  tests:
                    - {type: not_null, columns: "${vars.columns}"}
                    - {type: freshness, column: day, max_age: 86400}
                write: {connection: lake, format: delta, path: a, mode: overwrite}
    """))
    assert _errors({"project": project}) == []


def test_schema_reports_each_problem_at_its_own_key() -> None:
    project = _as_dg_reads(textwrap.dedent("""
        project: demo
        engine: pandaz
        connections:
          lake: {type: local, base_path: ./lake, extra: 1}
        retry: {max_attempts: two}
        pipelines:
          - pipeline: p
            nodes:
              - name: a
                reed: {connection: lake, format: csv, path: a.csv}
                validation:
                  tests:
                    - {type: not_nul, columns: [x]}
    """))
    errors = _errors({"project": project})
    assert (["project", "engine"], "'pandaz' is not one of ['pandas', 'polars', 'spark']") \
        in errors
    assert (["project", "connections", "lake"],
            "Additional properties are not allowed ('extra' was unexpected)") in errors
    assert (["project", "retry", "max_attempts"], "'two' is not of type 'integer'") in errors
    assert (["project", "pipelines", 0, "nodes", 0],
            "Additional properties are not allowed ('reed' was unexpected)") in errors
    assert any(path == ["project", "pipelines", 0, "nodes", 0, "validation", "tests", 0, "type"]
               and "'not_nul' is not one of" in message for path, message in errors)


def test_schema_says_exactly_one_form() -> None:
    assert _errors({"env": "prod"}) == [([], "'project_file' is a required property")]
    both = _errors({"project_file": "odibi.yaml",
                    "project": {"project": "x", "connections": {}, "pipelines": []}})
    assert ([], "'project' is not one of ['env', 'key_prefix', 'project_file']") in both


# ---- end to end: create-dagster + dg -----------------------------------------------------------


def _run(command: list[str], cwd: Path, env: dict[str, str], timeout: int = 120
         ) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)


@pytest.mark.slow
def test_create_dagster_project_with_odibi_component(retail: Path, tmp_path: Path,
                                                     dagster_home: Path) -> None:
    bin_dir = Path(sys.executable).parent
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "VIRTUAL_ENV": str(bin_dir.parent),  # this venv is the project's environment
        "DAGSTER_HOME": str(dagster_home),
        "DAGSTER_DG_UPDATE_CHECK_ENABLED": "0",  # no PyPI look-up for a newer create-dagster
        "NO_COLOR": "1",
        "COLUMNS": "200",
    }
    scaffold = _run([str(bin_dir / "create-dagster"), "project", "acme", "--no-uv-sync"],
                    cwd=tmp_path, env=env)
    assert scaffold.returncode == 0, scaffold.stdout + scaffold.stderr
    acme = tmp_path / "acme"
    with (acme / "pyproject.toml").open("a", encoding="utf-8") as pyproject:
        pyproject.write("\n[tool.dg.cli.telemetry]\nenabled = false\n")
    # What `pip install -e .` (or uv sync) of the project would give: its package importable.
    env["PYTHONPATH"] = str(acme / "src")
    defs_folder = acme / "src" / "acme" / "defs" / "odibi"
    defs_folder.mkdir(parents=True)
    defs_yaml = defs_folder / "defs.yaml"
    relative = os.path.relpath(retail / "odibi.yaml", defs_folder)
    defs_yaml.write_text(_defs_yaml(f"project_file: {relative}\n"), encoding="utf-8")
    dg_cli = str(bin_dir / "dg")

    checked = _run([dg_cli, "check", "yaml"], cwd=acme, env=env)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "All component YAML validated successfully." in checked.stdout

    listed = _run([dg_cli, "list", "defs", "--json"], cwd=acme, env=env)
    assert listed.returncode == 0, listed.stdout + listed.stderr
    listing = json.loads(listed.stdout[listed.stdout.index("{"):])
    assets = {asset["asset_key"]: asset for asset in listing["assets"]}
    assert {"bronze/raw_orders", "bronze/raw_customers", "sales/clean_orders"} <= set(assets)
    assert assets["bronze/raw_orders"]["source"] == "src/acme/defs/odibi/defs.yaml:1"
    assert assets["bronze/raw_orders"]["group_name"] == "bronze"
    assert any(check["key"].startswith("sales/clean_orders:") for check in listing["asset_checks"])

    launched = _run([dg_cli, "launch", "--assets", "group:bronze"], cwd=acme, env=env)
    assert launched.returncode == 0, launched.stdout[-3000:] + launched.stderr[-3000:]
    for table in ("orders", "customers", "products"):
        assert (retail / "lake" / "bronze" / table / "_delta_log").is_dir()

    # A blocking contract fails: the run fails, the CLI exits non-zero, nothing is written.
    shutil.rmtree(retail / "lake")
    orders = retail / "landing" / "orders"
    for old in orders.glob("*.csv"):
        old.unlink()
    (orders / "2026-11-03.csv").write_text(
        "order_id,customer_id,product_id,quantity,unit_price,status,order_ts,updated_at\n"
        "2001,,10,1,9.99,open,2026-11-03 08:00:00,2026-11-03 08:00:00\n", encoding="utf-8")
    failed = _run([dg_cli, "launch", "--assets", 'key:"bronze/raw_orders"'], cwd=acme, env=env)
    assert failed.returncode != 0, failed.stdout[-3000:]
    assert "breaks 1 contract" in failed.stdout + failed.stderr
    assert not (retail / "lake" / "bronze" / "orders" / "_delta_log").exists()

    # A broken project written in place: `dg check yaml` fails and shows the defs.yaml line.
    project_text = (retail / "odibi.yaml").read_text(encoding="utf-8")
    broken = _defs_yaml(_inline(project_text.replace(
        "        tags: [ingest]\n", "        tags: [ingest]\n        reed: 1\n", 1)))
    defs_yaml.write_text(broken, encoding="utf-8")
    _project_folder(retail, defs_folder)
    reed_line = next(i for i, row in enumerate(broken.splitlines(), 1) if "reed: 1" in row)
    bad = _run([dg_cli, "check", "yaml"], cwd=acme, env=env)
    assert bad.returncode != 0
    assert f"defs.yaml:{reed_line}" in bad.stdout
    assert "attributes.project.pipelines.0.nodes.0.reed" in bad.stdout
    assert "'reed' was unexpected" in bad.stdout
