"""load_project on real files: the full fixture, imports, variables, environments, transforms.py."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from odibi_core.config import (
    AzureBlobConnectionConfig,
    DistributionTest,
    FunctionStep,
    HttpConnectionConfig,
    LocalConnectionConfig,
    OperationStep,
    PrometheusMetricsConfig,
    RollingWindowIncrementalConfig,
    SqlConnectionConfig,
    SqlFileStep,
    SqlStep,
    StatefulIncrementalConfig,
    VolumeDropTest,
    load_project,
)
from odibi_core.errors import ConfigError
from odibi_core.graph import Upstream

# --- the full fixture project ----------------------------------------------------------------


def test_full_project_loads_every_block(
    full_project_dir: Path, full_environ: dict[str, str]
) -> None:
    project = load_project(full_project_dir, environ=full_environ)
    config = project.config
    assert project.file == full_project_dir / "odibi.yaml"
    assert project.root == full_project_dir and project.env is None
    assert project.files == (full_project_dir / "odibi.yaml",
                             full_project_dir / "pipelines" / "crm.yaml")
    assert project.transforms_file == full_project_dir / "transforms.py"

    assert config.project == "retail" and config.engine == "pandas"
    assert config.connections["landing"] == LocalConnectionConfig(type="local",
                                                                   base_path="./landing")
    blob = config.connections["blob"]
    assert isinstance(blob, AzureBlobConnectionConfig) and blob.auth is not None
    assert blob.auth.mode == "account_key" and blob.auth.account_key == "YXp1cmUtc2VjcmV0LWtleQ=="
    assert isinstance(config.connections["crm_api"], HttpConnectionConfig)
    assert isinstance(config.connections["crm_db"], SqlConnectionConfig)  # from the import
    assert config.story is not None and config.story.path == "_stories"
    assert config.system is not None and config.system.connection == "lake"
    assert (config.retry.max_attempts, config.retry.backoff) == (4, "linear")
    assert config.profiling.enabled is True
    metrics, tracing = config.observability.metrics, config.observability.tracing
    assert isinstance(metrics, PrometheusMetricsConfig) and metrics.labels == {"environment": "dev"}
    assert tracing is not None and tracing.exporter == "otlp"
    assert [p.pipeline for p in config.pipelines] == ["sales", "crm"]

    sales = config.pipeline("sales")
    assert sales.schedule is not None and sales.schedule.cron == "0 6 * * *"
    assert sales.on_failure == "rollback"
    assert sales.sensor is not None and sales.sensor.minimum_interval_seconds == 60
    raw = sales.node("raw_orders")
    assert raw.read is not None and isinstance(raw.read.incremental, StatefulIncrementalConfig)
    assert raw.read.incremental.watermark_lag == timedelta(hours=1)
    assert raw.read.dead_letter is not None and raw.read.dead_letter.max_bad_fraction == 0.05
    assert [t.type for t in raw.contracts] == ["not_null", "row_count"]

    clean = sales.node("clean_orders")
    assert clean.steps == [
        SqlStep(sql="SELECT * FROM df WHERE amount >= 0"),
        SqlStep(sql="SELECT o.*, c.segment FROM df o LEFT JOIN customers c USING (customer_id)"),
        SqlFileStep(sql_file="sql/enrich.sql"),
        FunctionStep(function="add_tax", params={"rate": 0.2}),
        OperationStep(operation="drop_columns", params={"columns": ["_tmp"]}),
    ]
    assert clean.privacy is not None and clean.privacy.salt == "pepper"
    validation = clean.validation
    assert validation is not None and len(validation.tests) == 11
    assert isinstance(validation.tests[9], DistributionTest)
    assert isinstance(validation.tests[10], VolumeDropTest)
    assert validation.gate is not None and validation.gate.thresholds[0].test == "not_null"
    assert clean.schema_policy is not None and clean.schema_policy.on_missing_columns == "fill_null"
    assert clean.materialized == "incremental" and clean.cache is True
    assert clean.write is not None and clean.write.skip_if_unchanged
    assert clean.write.keys == ["order_id"]
    assert config.retry_for(clean).max_attempts == 5

    contacts = config.node("crm.contacts").read
    assert contacts is not None
    assert isinstance(contacts.incremental, RollingWindowIncrementalConfig)

    graph = project.graph
    assert graph.upstream("sales.clean_orders") == [
        Upstream("sales.raw_orders", "raw_orders", "depends_on"),
        Upstream("crm.customers", "customers", "inputs"),
    ]
    assert graph.upstream("sales.order_totals") == [
        Upstream("sales.clean_orders", "clean_orders", "sql")]
    assert graph.disabled() == {"sales.order_totals"}


def test_full_project_in_prod(full_project_dir: Path, full_environ: dict[str, str]) -> None:
    project = load_project(full_project_dir, env="prod", environ=full_environ)
    config = project.config
    assert project.env == "prod" and project.files[-1] == full_project_dir / "env.prod.yaml"
    assert config.engine == "polars"
    assert isinstance(config.connections["lake"], AzureBlobConnectionConfig)
    assert config.retry.max_attempts == 5 and config.retry.backoff == "linear"
    assert config.story is not None and config.story.path == "_stories_prod"
    assert config.profiling.include == ["null_percentage"]


def test_locate_points_into_the_file_that_declared_a_key(
    full_project_dir: Path, full_environ: dict[str, str], line_of
) -> None:
    project = load_project(full_project_dir / "odibi.yaml", environ=full_environ)
    imported = full_project_dir / "pipelines" / "crm.yaml"
    assert project.locate("pipelines[1].nodes[0].read.format") == (
        imported, line_of(imported, "format: sql"))
    assert project.node_key_path("crm.contacts") == "pipelines[1].nodes[1]"
    assert project.locate_node("crm.contacts") == (imported, line_of(imported, "name: contacts"))


def test_loading_twice_gives_equal_configs(
    full_project_dir: Path, full_environ: dict[str, str]
) -> None:
    first = load_project(full_project_dir, environ=full_environ)
    second = load_project(full_project_dir, environ=full_environ)
    assert first.config == second.config


# --- imports ---------------------------------------------------------------------------------


def test_imports_glob_sorted_and_pipelines_append(write_files) -> None:
    project_file = write_files({
        "odibi.yaml": """\
            project: demo
            connections: {lake: {type: local, base_path: ./lake}}
            imports: [pipelines/*.yaml, extra/connections.yaml]
            pipelines:
              - pipeline: base
                nodes: [{name: a, read: {connection: lake, format: csv, path: a.csv}}]
            """,
        "pipelines/b.yaml": """\
            pipelines:
              - pipeline: second
                nodes: [{name: b, read: {connection: lake, format: csv, path: b.csv}}]
            """,
        "pipelines/a.yaml": """\
            pipelines:
              - pipeline: first
                nodes: [{name: a, read: {connection: other, format: csv, path: a.csv}}]
            """,
        "extra/connections.yaml": """\
            connections:
              other: {type: local, base_path: ./other}
            """,
    })
    project = load_project(project_file, environ={})
    assert [p.pipeline for p in project.config.pipelines] == ["base", "first", "second"]
    assert set(project.config.connections) == {"lake", "other"}
    root = project_file.parent
    assert project.files == (project_file, root / "pipelines/a.yaml", root / "pipelines/b.yaml",
                             root / "extra/connections.yaml")


def test_problems_in_imported_files_point_into_them(write_files, line_of) -> None:
    project_file = write_files({
        "odibi.yaml": """\
            project: demo
            connections: {lake: {type: local, base_path: ./lake}}
            imports: [pipelines/*.yaml]
            pipelines:
              - pipeline: base
                nodes: [{name: a, read: {connection: lake, format: csv, path: a.csv}}]
            """,
        "pipelines/sales.yaml": """\
            # sales pipeline
            pipelines:
              - pipeline: sales
                nodes:
                  - name: raw
                    read: {connection: lake, format: csv, path: raw.csv}
                    write: {connection: lake, format: parqet, path: out}
            """,
    })
    imported = project_file.parent / "pipelines" / "sales.yaml"
    with pytest.raises(ConfigError, match=r"\[sales.raw\] Invalid value 'parqet' for 'format'. "
                                          r"Did you mean 'parquet'\?") as caught:
        load_project(project_file, environ={})
    (problem,) = caught.value.problems
    assert (problem.file, problem.line, problem.key_path) == (
        imported, line_of(imported, "parqet"), "pipelines[1].nodes[0].write.format")


def test_imported_files_may_import_more(write_files) -> None:
    project_file = write_files({
        "odibi.yaml": """\
            project: demo
            imports: [conf/connections.yaml]
            pipelines:
              - pipeline: p
                nodes: [{name: a, read: {connection: deep, format: csv, path: a}}]
            """,
        "conf/connections.yaml": """\
            imports: [more/deep.yaml]
            connections: {lake: {type: local, base_path: .}}
            """,
        "conf/more/deep.yaml": "connections: {deep: {type: local, base_path: ./deep}}\n",
    })
    project = load_project(project_file, environ={})
    assert set(project.config.connections) == {"lake", "deep"}
    assert project.config.imports == ["conf/connections.yaml"]
    assert len(project.files) == 3


def test_an_import_that_matches_nothing_is_a_problem(minimal_with, line_of) -> None:
    project_file = minimal_with(extra="imports: [pipelines/*.yml]\n")
    with pytest.raises(ConfigError,
                       match=r"imports\[0\] 'pipelines/\*.yml' matches no file") as caught:
        load_project(project_file, environ={})
    assert caught.value.problems[0].line == line_of(project_file, "imports:")


def test_syntax_error_in_an_imported_file(write_files, minimal_yaml: str) -> None:
    project_file = write_files({"odibi.yaml": minimal_yaml + "imports: [more.yaml]\n",
                                "more.yaml": "pipelines:\n  - pipeline: x\n    nodes: [\n"})
    with pytest.raises(ConfigError, match="YAML syntax error") as caught:
        load_project(project_file, environ={})
    assert caught.value.problems[0].file == project_file.parent / "more.yaml"


# --- variables -------------------------------------------------------------------------------


def test_vars_and_environment_variables(write_files) -> None:
    project_file = write_files({"odibi.yaml": """\
        project: demo
        vars:
          root: ${DATA_ROOT}/lake
          attempts: 5
          nested: {folder: raw}
        connections:
          lake: {type: local, base_path: "${vars.root}"}
        retry: {max_attempts: "${vars.attempts}"}
        pipelines:
          - pipeline: sales
            description: "costs $${NOT_A_VAR} and ${vars.attempts} tries"
            nodes:
              - name: raw
                read: {connection: lake, format: csv, path: "${vars.nested.folder}/${FILE}"}
        """})
    config = load_project(project_file, environ={"DATA_ROOT": "/data", "FILE": "o.csv"}).config
    assert config.connections["lake"].base_path == "/data/lake"
    assert config.vars["root"] == "/data/lake"
    assert config.retry.max_attempts == 5  # a whole-value ${vars.x} keeps the variable's type
    assert config.pipelines[0].description == "costs ${NOT_A_VAR} and 5 tries"
    read = config.node("sales.raw").read
    assert read is not None and read.path == "raw/o.csv"


def test_vars_may_use_other_vars(minimal_with) -> None:
    project_file = minimal_with(("./lake", '"${vars.lake}"'),
                                extra='vars: {root: "${ROOT}", lake: "${vars.root}/lake"}\n')
    config = load_project(project_file, environ={"ROOT": "/srv"}).config
    assert config.connections["lake"].base_path == "/srv/lake"


def test_vars_that_refer_to_each_other_in_a_circle(minimal_with) -> None:
    project_file = minimal_with(extra='vars: {a: "${vars.b}", b: "${vars.a}"}\n')
    with pytest.raises(ConfigError, match="Variables refer to each other in a circle: a -> b -> a"):
        load_project(project_file, environ={})


def test_environ_defaults_to_os_environ(minimal_with, monkeypatch: pytest.MonkeyPatch) -> None:
    project_file = minimal_with(("./lake", '"${ODIBI_TEST_LAKE}"'))
    monkeypatch.setenv("ODIBI_TEST_LAKE", "/tmp/lake")
    assert load_project(project_file).config.connections["lake"].base_path == "/tmp/lake"


def test_unselected_environments_may_name_unset_variables(minimal_with) -> None:
    project_file = minimal_with(extra="environments:\n"
                                      '  prod: {connections: {lake: {base_path: "${PROD}"}}}\n')
    assert load_project(project_file, environ={}).config.environments["prod"]["connections"]


# --- environments ----------------------------------------------------------------------------

ENV_PROJECT = """\
project: demo
engine: pandas
connections:
  lake: {type: local, base_path: ./lake}
  landing: {type: local, base_path: ./landing}
story: {connection: lake, path: _stories, max_sample_rows: 10}
retry: {max_attempts: 3}
profiling: {include: [null_percentage, unique_count]}
environments:
  prod:
    engine: polars
    connections:
      lake: {type: azure_blob, account_name: acme, container: lake}
    story: {max_sample_rows: 0}
    profiling: {include: [histograms]}
  dev: {retry: {max_attempts: 1}}
pipelines:
  - pipeline: sales
    nodes:
      - name: raw
        read: {connection: landing, format: csv, path: raw.csv}
        write: {connection: lake, format: delta, path: raw}
"""


def test_environment_block_merges_over_the_base(write_files) -> None:
    project = load_project(write_files({"odibi.yaml": ENV_PROJECT}), env="prod", environ={})
    config = project.config
    assert project.env == "prod"
    assert config.engine == "polars"
    # Another connection type replaces the base connection instead of merging into it.
    assert config.connections["lake"] == AzureBlobConnectionConfig(
        type="azure_blob", account_name="acme", container="lake")
    assert isinstance(config.connections["landing"], LocalConnectionConfig)  # maps merge
    assert config.story is not None
    assert (config.story.path, config.story.max_sample_rows) == ("_stories", 0)
    assert config.profiling.include == ["histograms"]  # lists replace


def test_odibi_env_selects_the_environment(write_files) -> None:
    project = load_project(write_files({"odibi.yaml": ENV_PROJECT}), environ={"ODIBI_ENV": "dev"})
    assert project.env == "dev" and project.config.retry.max_attempts == 1
    explicit = load_project(project.file, env="prod", environ={"ODIBI_ENV": "dev"})
    assert explicit.env == "prod" and explicit.config.retry.max_attempts == 3


def test_env_file_merges_last(write_files) -> None:
    project_file = write_files({
        "odibi.yaml": ENV_PROJECT,
        "env.prod.yaml": """\
            engine: pandas  # prod says polars: the env file wins
            story: {path: _prod_stories}
            profiling: {include: [min_max]}
            """,
    })
    project = load_project(project_file, env="prod", environ={})
    config = project.config
    assert config.engine == "pandas"
    assert config.story is not None
    assert (config.story.path, config.story.max_sample_rows) == ("_prod_stories", 0)
    assert config.profiling.include == ["min_max"]
    assert project.files[-1] == project_file.parent / "env.prod.yaml"


def test_env_file_alone_defines_an_environment(write_files, minimal_yaml: str) -> None:
    project_file = write_files({"odibi.yaml": minimal_yaml, "env.staging.yaml": "engine: polars\n"})
    assert load_project(project_file, env="staging", environ={}).config.engine == "polars"
    assert load_project(project_file, environ={}).config.engine == "pandas"


def test_an_environment_that_changes_a_block_kind_replaces_it(write_files) -> None:
    project_file = write_files({"odibi.yaml": """\
        project: demo
        connections:
          lake:
            type: azure_blob
            account_name: acme
            container: lake
            auth: {mode: account_key, account_key: "${KEY}"}
        environments:
          prod:
            connections:
              lake: {auth: {mode: aad_msi}}
        pipelines:
          - pipeline: p
            nodes: [{name: a, read: {connection: lake, format: csv, path: a.csv}}]
        """})
    lake = load_project(project_file, env="prod", environ={"KEY": "k"}).config.connections["lake"]
    assert isinstance(lake, AzureBlobConnectionConfig) and lake.container == "lake"  # merged
    assert lake.auth is not None and lake.auth.mode == "aad_msi"  # replaced: no account_key


def test_problems_from_an_environment_point_at_it(write_files) -> None:
    project_file = write_files({"odibi.yaml": ENV_PROJECT,
                                "env.prod.yaml": "retry: {max_attempts: 0}\n"})
    with pytest.raises(ConfigError,
                       match="'max_attempts' should be greater than or equal to 1") as caught:
        load_project(project_file, env="prod", environ={})
    problem = caught.value.problems[0]
    assert (problem.file, problem.line, problem.key_path) == (
        project_file.parent / "env.prod.yaml", 1, "retry.max_attempts")


def test_unknown_key_in_an_unselected_environment(write_files, line_of) -> None:
    project_file = write_files({"odibi.yaml": ENV_PROJECT.replace("dev: {retry:", "dev: {retyr:")})
    with pytest.raises(ConfigError, match="Unknown key 'retyr' in environment 'dev'. "
                                          "Did you mean 'retry'") as caught:
        load_project(project_file, environ={})
    problem = caught.value.problems[0]
    assert (problem.line, problem.key_path) == (line_of(project_file, "retyr"),
                                                "environments.dev.retyr")


# --- transforms.py ---------------------------------------------------------------------------


def test_transforms_file_is_imported(write_files, minimal_yaml: str) -> None:
    project_file = write_files({
        "odibi.yaml": minimal_yaml,
        "rate_helpers_for_odibi_test.py": "RATE = 0.25\n",  # a module beside transforms.py
        "transforms.py": "from rate_helpers_for_odibi_test import RATE\n\nLOADED_RATE = RATE\n",
    })
    project = load_project(project_file, environ={})
    assert project.transforms_file == project_file.parent / "transforms.py"
    (module,) = [m for name, m in sys.modules.items() if name.startswith("odibi_user_transforms_")
                 and getattr(m, "__file__", None) == str(project.transforms_file)]
    assert module.LOADED_RATE == 0.25


def test_transforms_file_syntax_error(write_files, minimal_yaml: str) -> None:
    project_file = write_files({"odibi.yaml": minimal_yaml, "transforms.py": "def f(:\n    pass\n"})
    with pytest.raises(ConfigError, match="transforms.py has a syntax error") as caught:
        load_project(project_file, environ={})
    problem = caught.value.problems[0]
    assert (problem.file, problem.line) == (project_file.parent / "transforms.py", 1)


def test_transforms_file_exception(write_files, minimal_yaml: str) -> None:
    project_file = write_files({"odibi.yaml": minimal_yaml,
                                "transforms.py": "import math\n\n\nVALUE = math.sqrt(-1)\n"})
    with pytest.raises(ConfigError, match="Importing transforms.py failed: "
                                          "ValueError: math domain error") as caught:
        load_project(project_file, environ={})
    problem = caught.value.problems[0]
    assert (problem.file, problem.line) == (project_file.parent / "transforms.py", 4)


# --- the boundary ----------------------------------------------------------------------------


def test_config_and_graph_load_no_framework() -> None:
    code = ("import odibi_core.config, odibi_core.graph, sys; "
            "print([m for m in sys.modules "
            "if m.split('.')[0] in {'dagster','pandas','polars','pyspark'}])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stderr


@pytest.mark.parametrize("module", ["odibi_core.graph", "odibi_core.config.loader"])
def test_each_module_imports_first(module: str) -> None:
    out = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
