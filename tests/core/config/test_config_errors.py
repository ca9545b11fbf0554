"""Bad project files (SPEC §13): every problem with its message, file, line, key path and fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from odibi_core.config import load_project
from odibi_core.errors import ConfigError, ConfigProblem

RAW_READ = "read: {connection: lake, format: csv, path: raw.csv}"
CLEAN_WRITE = "write: {connection: lake, format: parquet, path: clean}"


def problems_of(project_file: Path, match: str, **kwargs: Any) -> list[ConfigProblem]:
    """The problems of the ConfigError that loading ``project_file`` raises; asserts ``match``."""
    kwargs.setdefault("environ", {})
    with pytest.raises(ConfigError, match=match) as caught:
        load_project(project_file, **kwargs)
    return caught.value.problems


def where(problem: ConfigProblem) -> tuple[Path | None, int | None, str]:
    return problem.file, problem.line, problem.key_path


def test_yaml_syntax_error(write_files, line_of) -> None:
    project_file = write_files({"odibi.yaml": """\
        project: demo
        connections:
          lake: {type: local, base_path: ./lake
        pipelines: []
        """})
    (problem,) = problems_of(project_file, "YAML syntax error")
    assert where(problem) == (project_file, line_of(project_file, "pipelines:"), "")
    assert problem.fix


def test_duplicate_yaml_key(minimal_with, line_of) -> None:
    project_file = minimal_with(extra="engine: pandas\nengine: polars\n")
    (problem,) = problems_of(project_file, r"Duplicate key 'engine' \(first written on line 12\)")
    assert where(problem) == (project_file, line_of(project_file, "engine: polars"), "engine")


def test_unknown_key_suggests_the_nearest(minimal_with, line_of) -> None:
    project_file = minimal_with(("format: csv", "formt: csv"))
    # the "missing format" that goes with the typo is not reported separately
    (problem,) = problems_of(project_file,
                             r"\[sales.raw\] Unknown key 'formt'. Did you mean 'format'\?")
    assert where(problem) == (project_file, line_of(project_file, "formt"),
                              "pipelines[0].nodes[0].read.formt")
    assert problem.fix is not None and "connection, format, path, table, query" in problem.fix


def test_unknown_top_level_key(minimal_with) -> None:
    problems_of(minimal_with(extra="pipline: x\n"),
                r"Unknown key 'pipline'. Did you mean 'pipelines'\?")


def test_wrong_type(minimal_with, line_of) -> None:
    project_file = minimal_with(extra="retry: {max_attempts: three}\n")
    (problem,) = problems_of(project_file, "Wrong type for 'max_attempts': expected a whole "
                                           "number, got the text 'three'")
    assert where(problem) == (project_file, line_of(project_file, "three"), "retry.max_attempts")
    assert problem.fix == "Write max_attempts as a whole number."


def test_wrong_type_of_block(minimal_with, line_of) -> None:
    project_file = minimal_with((CLEAN_WRITE, "write: [lake]"))
    (problem,) = problems_of(project_file,
                             r"\[sales.clean\] Wrong type for 'write': expected a map")
    assert where(problem) == (project_file, line_of(project_file, "write: [lake]"),
                              "pipelines[0].nodes[1].write")


def test_bad_enum_value_lists_the_valid_ones(minimal_with) -> None:
    (problem,) = problems_of(minimal_with(("format: parquet", "format: orc")),
                             "Invalid value 'orc' for 'format'")
    assert problem.fix == "Use one of: delta, parquet, csv, json."


def test_unknown_connection_type(minimal_with, line_of) -> None:
    project_file = minimal_with(("type: local", "type: locl"))
    (problem,) = problems_of(project_file, r"Unknown type 'locl'. Did you mean 'local'\?")
    assert where(problem) == (project_file, line_of(project_file, "locl"), "connections.lake.type")
    assert problem.fix == "Use one of: local, azure_blob, azure_adls, delta, http, sql."


def test_missing_required_key_says_which(minimal_with, line_of) -> None:
    project_file = minimal_with(("connection: lake, format: csv", "format: csv"))
    (problem,) = problems_of(project_file, r"\[sales.raw\] Missing required key 'connection'.")
    assert where(problem) == (project_file, line_of(project_file, "raw.csv"),
                              "pipelines[0].nodes[0].read.connection")


def test_unknown_connection(minimal_with, line_of) -> None:
    project_file = minimal_with(("write: {connection: lake", "write: {connection: lak"))
    (problem,) = problems_of(project_file, r"\[sales.clean\] Unknown connection 'lak'. "
                                           r"Did you mean 'lake'\? Known connections: lake.")
    assert where(problem) == (project_file, line_of(project_file, "connection: lak,"),
                              "pipelines[0].nodes[1].write.connection")


def test_unknown_connection_in_project_blocks(minimal_with, line_of) -> None:
    project_file = minimal_with(extra="story: {connection: stories, path: s}\n"
                                      "system: {connection: lake, path: s}\n")
    (problem,) = problems_of(project_file, "Unknown connection 'stories'")
    assert where(problem) == (project_file, line_of(project_file, "stories"), "story.connection")


def test_connection_of_the_wrong_kind(minimal_with) -> None:
    project_file = minimal_with(
        ("lake: {type: local, base_path: ./lake}",
         "lake: {type: local, base_path: ./lake}\n  db: {type: sql, url: 'sqlite://'}"),
        (RAW_READ, "read: {connection: lake, format: sql, table: t}"))
    problems_of(project_file, "format: sql reads need a connection of type sql; 'lake' is local")


DEPENDENCY_CYCLE = """\
project: demo
connections: {lake: {type: local, base_path: ./lake}}
pipelines:
  - pipeline: sales
    nodes:
      - name: a
        depends_on: [c]
      - name: b
        depends_on: [a]
      - name: c
        depends_on: [b]
"""


def test_dependency_cycle_is_named(write_files, line_of) -> None:
    project_file = write_files({"odibi.yaml": DEPENDENCY_CYCLE})
    (problem,) = problems_of(project_file,
                             "Dependency cycle: sales.a → sales.c → sales.b → sales.a")
    assert where(problem) == (project_file, line_of(project_file, "depends_on: [c]"),
                              "pipelines[0].nodes[0].depends_on[0]")


def test_cycle_across_pipelines_through_inputs(write_files) -> None:
    project_file = write_files({"odibi.yaml": """\
        project: demo
        connections: {lake: {type: local, base_path: ./lake}}
        pipelines:
          - pipeline: one
            nodes: [{name: a, inputs: {b: $two.b}}]
          - pipeline: two
            nodes: [{name: b, inputs: {a: $one.a}}]
        """})
    (problem,) = problems_of(project_file, "Dependency cycle: one.a → two.b → one.a")
    assert problem.key_path == "pipelines[0].nodes[0].inputs.b"


def test_self_dependency(write_files) -> None:
    project_file = write_files({"odibi.yaml": DEPENDENCY_CYCLE.replace("[c]", "[a]")})
    problems_of(project_file, "Dependency cycle: sales.a depends on itself")


def test_missing_depends_on_node(minimal_with, line_of) -> None:
    project_file = minimal_with(("depends_on: [raw]", "depends_on: [rwa]"))
    (problem,) = problems_of(project_file, r"\[sales.clean\] depends_on names 'rwa', which is "
                                           r"not a node of pipeline 'sales'. "
                                           r"Did you mean 'raw'\?")
    assert where(problem) == (project_file, line_of(project_file, "depends_on"),
                              "pipelines[0].nodes[1].depends_on[0]")


def test_depends_on_another_pipeline_suggests_inputs(minimal_with) -> None:
    project_file = minimal_with(extra="  - pipeline: gold\n"
                                      "    nodes: [{name: report, depends_on: [clean]}]\n")
    (problem,) = problems_of(project_file, "depends_on names 'clean', which is not a node of "
                                           "pipeline 'gold'")
    assert problem.fix == ("depends_on only names nodes of the same pipeline; to read sales.clean "
                           "use inputs: {clean: $sales.clean}.")


def test_missing_inputs_node(minimal_with, line_of) -> None:
    project_file = minimal_with(("depends_on: [raw]", "inputs: {r: $sales.rwa}"))
    (problem,) = problems_of(project_file, r"\[sales.clean\] inputs.r names '\$sales.rwa', "
                                           r"which is not a node. Did you mean '\$sales.raw'\?")
    assert where(problem) == (project_file, line_of(project_file, "inputs:"),
                              "pipelines[0].nodes[1].inputs.r")


def test_inputs_from_an_unknown_pipeline(minimal_with) -> None:
    project_file = minimal_with(("depends_on: [raw]", "inputs: {r: $crm.raw}"))
    problems_of(project_file, r"which is not a node \(there is no pipeline 'crm'\)")


def test_nothing_to_read(minimal_with, line_of) -> None:
    project_file = minimal_with(("        depends_on: [raw]\n", ""))
    (problem,) = problems_of(project_file, r"\[sales.clean\] Nothing to read: the node has no "
                                           "read, no depends_on and no inputs.")
    assert where(problem) == (project_file, line_of(project_file, "name: clean"),
                              "pipelines[0].nodes[1]")


def test_unknown_environment_lists_the_known_ones(write_files, line_of, minimal_yaml: str) -> None:
    project_file = write_files({
        "odibi.yaml": minimal_yaml + "environments:\n  prod: {engine: polars}\n  dev: {}\n",
        "env.staging.yaml": "engine: polars\n",
    })
    (problem,) = problems_of(project_file, r"Unknown environment 'prd'. Did you mean 'prod'\? "
                                           "Known environments: prod, dev, staging.", env="prd")
    assert where(problem) == (project_file, line_of(project_file, "environments:"), "environments")


def test_unknown_environment_from_odibi_env(minimal_with) -> None:
    problems_of(minimal_with(), r"Unknown environment 'qa'. Known environments: \(none\).",
                environ={"ODIBI_ENV": "qa"})


def test_missing_environment_variable(minimal_with, line_of) -> None:
    project_file = minimal_with(("path: raw.csv", 'path: "${LANDING}/raw.csv"'))
    (problem,) = problems_of(project_file,
                             r"\[sales.raw\] Environment variable 'LANDING' is not set")
    assert where(problem) == (project_file, line_of(project_file, "LANDING"),
                              "pipelines[0].nodes[0].read.path")
    assert problem.fix is not None and "export LANDING=" in problem.fix


def test_unknown_project_variable(minimal_with, line_of) -> None:
    project_file = minimal_with(("base_path: ./lake", 'base_path: "${vars.lnding}"'),
                                extra="vars: {landing: ./in}\n")
    (problem,) = problems_of(project_file,
                             r"Unknown variable 'vars.lnding'. Did you mean 'vars.landing'\?")
    assert where(problem) == (project_file, line_of(project_file, "lnding"),
                              "connections.lake.base_path")


def test_duplicate_node_names(minimal_with, line_of) -> None:
    project_file = minimal_with(("name: clean", "name: raw"))
    first = line_of(project_file, RAW_READ) - 1
    (problem,) = problems_of(project_file, "Node name 'raw' is used twice in pipeline 'sales'")
    assert problem.message == ("[sales.raw] Node name 'raw' is used twice in pipeline 'sales'. "
                               f"First declared at {project_file}:{first}.")
    assert where(problem) == (project_file, line_of(project_file, "depends_on") - 1,
                              "pipelines[0].nodes[1].name")


def test_duplicate_pipeline_names_across_files(write_files, minimal_yaml: str) -> None:
    project_file = write_files({
        "odibi.yaml": minimal_yaml + "imports: [more.yaml]\n",
        "more.yaml": "pipelines:\n  - pipeline: sales\n"
                     "    nodes: [{name: x, read: {connection: lake, format: csv, path: x}}]\n",
    })
    (problem,) = problems_of(project_file, "Pipeline name 'sales' is used twice")
    assert where(problem) == (project_file.parent / "more.yaml", 2, "pipelines[1].pipeline")
    assert f"First declared at {project_file}:5." in problem.message


def test_bad_identifier(minimal_with, line_of) -> None:
    project_file = minimal_with(("pipeline: sales", "pipeline: sales-eu"))
    (problem,) = problems_of(project_file,
                             "'sales-eu' is not a valid name: names use letters, digits and '_'")
    assert where(problem) == (project_file, line_of(project_file, "sales-eu"),
                              "pipelines[0].pipeline")
    assert problem.fix == "Rename it, e.g. 'sales_eu' (pattern [A-Za-z_][A-Za-z0-9_]*)."


def test_bad_tag(minimal_with, line_of) -> None:
    project_file = minimal_with(("- name: raw", "- name: raw\n        tags: [daily run]"))
    (problem,) = problems_of(project_file, r"\[sales.raw\] Tag 'daily run' is not valid: "
                                           "tags become Dagster tags")
    assert where(problem) == (project_file, line_of(project_file, "daily run"),
                              "pipelines[0].nodes[0].tags[0]")
    assert problem.fix is not None and "Dagster's rule for tag values" in problem.fix


def test_missing_sql_file(minimal_with, line_of) -> None:
    project_file = minimal_with((
        "depends_on: [raw]\n",
        "depends_on: [raw]\n        transform: {steps: [{sql_file: q.sql}]}\n"))
    (problem,) = problems_of(project_file, "SQL file not found")
    assert where(problem) == (project_file, line_of(project_file, "q.sql"),
                              "pipelines[0].nodes[1].transform.steps[0].sql_file")


def test_no_project_file(tmp_path: Path) -> None:
    problems_of(tmp_path, "No project file at")


def test_secrets_are_not_echoed(minimal_with) -> None:
    project_file = minimal_with((
        "lake: {type: local, base_path: ./lake}",
        "lake: {type: local, base_path: ./lake}\n  blob: {type: azure_blob, account_name: a, "
        "container: c, auth: {mode: account_key, account_key: [hunter2]}}"))
    problems = problems_of(project_file, "Wrong type for 'account_key'")
    assert "hunter2" not in str(ConfigError(problems))


MANY_PROBLEMS = """\
project: demo
engine: pandaz
connections:
  lake: {type: local, base_path: ./lake}
retry: {max_attempts: 0}
pipelines:
  - pipeline: sales
    nodes:
      - name: raw
        read: {connection: lake, formt: csv, path: raw.csv}
      - name: clean
        depends_on: [rwa]
        write: {connection: lak, format: parquet, path: "${OUT_DIR}/clean"}
      - name: clean
        depends_on: [raw]
      - name: loop_a
        depends_on: [loop_b]
      - name: loop_b
        depends_on: [loop_a]
"""


def test_every_problem_is_reported_at_once(write_files, line_of) -> None:
    project_file = write_files({"odibi.yaml": MANY_PROBLEMS})
    problems = problems_of(project_file, "The project file has 8 problems")

    def line(snippet: str) -> int:
        return line_of(project_file, snippet)

    assert [(p.file, p.line, p.key_path) for p in problems] == [
        (project_file, line("pandaz"), "engine"),
        (project_file, line("max_attempts"), "retry.max_attempts"),
        (project_file, line("formt"), "pipelines[0].nodes[0].read.formt"),
        (project_file, line("[rwa]"), "pipelines[0].nodes[1].depends_on[0]"),
        (project_file, line("OUT_DIR"), "pipelines[0].nodes[1].write.path"),
        (project_file, line("OUT_DIR"), "pipelines[0].nodes[1].write.connection"),
        (project_file, line("depends_on: [raw]") - 1, "pipelines[0].nodes[2].name"),
        (project_file, line("[loop_b]"), "pipelines[0].nodes[3].depends_on[0]"),
    ]
    assert [p.message.split(". ")[0].rstrip(".") for p in problems] == [
        "Invalid value 'pandaz' for 'engine'",
        "'max_attempts' should be greater than or equal to 1 (got 0)",
        "[sales.raw] Unknown key 'formt'",
        "[sales.clean] depends_on names 'rwa', which is not a node of pipeline 'sales'",
        "[sales.clean] Environment variable 'OUT_DIR' is not set (used as ${OUT_DIR})",
        "[sales.clean] Unknown connection 'lak'",
        "[sales.clean] Node name 'clean' is used twice in pipeline 'sales'",
        "[sales.loop_a] Dependency cycle: sales.loop_a → sales.loop_b → sales.loop_a",
    ]
    assert all(problem.fix for problem in problems)
    rendered = str(ConfigError(problems))
    assert f"{project_file}:{line('formt')}: pipelines[0].nodes[0].read.formt:" in rendered


def test_reference_checks_still_run_beside_schema_problems(write_files) -> None:
    project_file = write_files({"odibi.yaml": """\
        project: demo
        connections: {lake: {type: local, base_path: ./lake}}
        pipelines:
          - pipeline: sales
            nodes:
              - name: raw
                read: {connection: lake, format: xml, path: raw.xml}
              - name: clean
                depends_on: [raw]
                write: {connection: lake2, format: parquet, path: clean}
        """})
    problems = problems_of(project_file, "Unknown connection 'lake2'")
    assert [p.key_path for p in problems] == ["pipelines[0].nodes[0].read.format",
                                              "pipelines[0].nodes[1].write.connection"]
