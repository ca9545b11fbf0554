"""docs/reference.md and docs/odibi.schema.json: generated from the models, current, and true to
what the loader accepts and rejects."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from odibi_core.config import load_project
from odibi_core.config.json_schema import field_descriptions, project_file_schema
from odibi_core.config.reference import (
    REFERENCE_FILE,
    REGENERATE,
    SCHEMA_FILE,
    _sections,
    main,
    reference_text,
    stale_files,
)
from odibi_core.config.variables import substitute_variables
from odibi_core.config.yaml_source import SourceMap
from odibi_core.errors import ConfigError
ROOT = Path(__file__).resolve().parents[3]
MINIMAL = """\
project: demo
connections:
  lake: {type: local, base_path: ./lake}
pipelines:
  - pipeline: sales
    nodes:
      - name: raw
        read: {connection: lake, format: csv, path: raw.csv}
      - name: clean
        depends_on: [raw]
        write: {connection: lake, format: parquet, path: clean}
"""


def _project_files() -> list[Path]:
    """Every YAML file of examples/, tests/ and benchmarks/ that holds (part of) a project: the
    project files and the files they import or lay over them (env.NAME.yaml)."""
    found = []
    for folder in (ROOT / "examples", ROOT / "tests", ROOT / "benchmarks"):
        for path in sorted(folder.rglob("*.yaml")):
            if any(part.startswith((".", "lake")) for part in path.relative_to(ROOT).parts):
                continue
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
            if isinstance(data, dict) and ("project" in data or "pipelines" in data
                                           or path.name.startswith("env.")):
                found.append(path)
    return found


PROJECT_FILES = _project_files()


@pytest.fixture(scope="module")
def validator() -> Draft202012Validator:
    """The committed schema, as an editor would read it."""
    schema = json.loads((ROOT / SCHEMA_FILE).read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def _errors(validator: Draft202012Validator, data: Any) -> list[tuple[str, str]]:
    return [(".".join(map(str, error.absolute_path)), error.message)
            for error in validator.iter_errors(data)]


def _minimal() -> dict[str, Any]:
    return yaml.safe_load(MINIMAL)


# --- generated and current ---------------------------------------------------------------------


def test_committed_reference_and_schema_are_what_the_models_generate() -> None:
    stale = stale_files(ROOT)
    assert stale == [], (f"{', '.join(map(str, stale))} differ(s) from the models in "
                         f"odibi_core/config/; regenerate with: {REGENERATE}")


def test_check_mode_names_the_stale_file_and_the_command(tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]
                                                         ) -> None:
    (tmp_path / "docs").mkdir()
    assert main(["--root", str(tmp_path), "--check"]) == 1
    assert f"{REFERENCE_FILE} is out of date; regenerate it: make reference" in \
        capsys.readouterr().err
    assert main(["--root", str(tmp_path)]) == 0
    assert main(["--root", str(tmp_path), "--check"]) == 0
    assert (tmp_path / REFERENCE_FILE).read_text(encoding="utf-8") == reference_text()


def test_every_key_of_every_block_has_a_meaning_and_a_row() -> None:
    text = reference_text()
    for section in _sections():
        meanings = field_descriptions(section.model)
        for name, field in section.model.model_fields.items():
            assert meanings[name], (f"{section.model.__name__}.{name} has no description: "
                                    "write what the key means in a string under the field")
            assert f"| `{field.alias or name}` |" in text


def test_each_variant_of_a_union_has_its_own_section() -> None:
    titles = [line for line in reference_text().splitlines() if line.startswith("### ")]
    for variant in ("`connections.NAME` — `type: local`", "`connections.NAME` — `type: sql`",
                    "`pipelines[].sensor` — `type: source_change`",
                    "`connections.NAME.auth` — `mode: sas`",
                    "`pipelines[].nodes[].read.incremental` — `mode: rolling_window`",
                    "`observability.metrics` — `type: statsd`"):
        assert f"### {variant}" in titles


def _stand_ins() -> dict[str, str]:
    class Anything(dict[str, str]):
        def __contains__(self, key: object) -> bool:
            return True

        def __getitem__(self, key: str) -> str:
            return "InstrumentationKey=0" if "CONNECTION_STRING" in key else "x"

    return Anything()


def _examples() -> Iterator[tuple[type[Any], Any]]:
    for section in _sections():
        for example in (section.model.model_config.get("json_schema_extra") or {}).get(
                "examples", []):
            yield section.model, example


@pytest.mark.parametrize(("model", "example"), list(_examples()),
                         ids=lambda value: getattr(value, "__name__", ""))
def test_every_example_is_valid(model: type[Any], example: Any) -> None:
    data, problems = substitute_variables(example, SourceMap({}, Path("x.yaml")),
                                          environ=_stand_ins())
    assert problems == []
    model.model_validate(data)


def test_every_block_has_an_example() -> None:
    with_examples = {model for model, _ in _examples()}
    missing = [s.model.__name__ for s in _sections() if s.model not in with_examples]
    assert missing == [], f"add json_schema_extra={{'examples': [...]}} to {missing}"


# --- the schema accepts what the loader accepts ------------------------------------------------


def test_schema_is_draft_2020_12_and_strict_at_the_top() -> None:
    schema = project_file_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["additionalProperties"] is False
    assert schema["title"]


def test_each_key_of_the_schema_says_what_it_means() -> None:
    schema = project_file_schema()
    assert schema["properties"]["engine"]["description"] == "The engine every node runs on."
    read = schema["$defs"]["ReadConfig"]
    assert read["properties"]["format"]["description"].startswith("The source's format")
    assert "examples" in read and "Where a node's input comes from" in read["description"]
    assert "SPEC" not in json.dumps(schema) and "``" not in json.dumps(schema)


def test_there_are_project_files_to_check() -> None:
    names = {path.relative_to(ROOT).as_posix() for path in PROJECT_FILES}
    assert {"examples/retail/odibi.yaml", "examples/retail/pipelines/sales.yaml",
            "examples/streaming/odibi.yaml",
            "tests/fixtures/projects/config_full/env.prod.yaml"} <= names


@pytest.mark.parametrize("path", PROJECT_FILES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_project_files_of_the_repository_match_the_schema(
        validator: Draft202012Validator, path: Path) -> None:
    assert _errors(validator, yaml.safe_load(path.read_text(encoding="utf-8"))) == []


def test_the_minimal_test_project_matches_the_schema(validator: Draft202012Validator) -> None:
    assert _errors(validator, _minimal()) == []


def test_substitutions_are_accepted_for_numbers_booleans_and_choices(
        validator: Draft202012Validator) -> None:
    data = _minimal()
    data["engine"] = "${ODIBI_ENGINE}"
    data["retry"] = {"max_attempts": "${vars.attempts}", "enabled": "${RETRY}"}
    data["pipelines"][0]["nodes"][1]["write"]["mode"] = "${WRITE_MODE}"
    data["story"] = {"connection": "lake", "path": "_stories", "max_sample_rows": "${ROWS}"}
    assert _errors(validator, data) == []


def test_csv_options_stay_free_while_sql_and_api_options_are_checked(
        validator: Draft202012Validator) -> None:
    data = _minimal()
    data["pipelines"][0]["nodes"][0]["read"]["options"] = {"header": True, "sep": ";"}
    data["connections"]["db"] = {"type": "sql", "url": "sqlite:///x.db"}
    data["pipelines"][0]["nodes"].append({"name": "from_db", "read": {
        "connection": "db", "format": "sql", "query": "SELECT * FROM t WHERE r = :r",
        "options": {"params": {"r": "EU"}, "chunk_size": "${CHUNK}"}}})
    assert _errors(validator, data) == []


def test_shorthands_are_accepted(validator: Draft202012Validator) -> None:
    data = _minimal()
    pipeline = data["pipelines"][0]
    pipeline["schedule"] = "0 6 * * *"
    pipeline["sensor"] = {"connection": "lake", "path": "in/*.csv"}  # file_arrival by default
    node = pipeline["nodes"][1]
    node["automation"] = "eager"
    node["transform"] = {"steps": ["SELECT * FROM df", {"sql_file": "x.sql"}]}
    node["read"] = {"connection": "lake", "format": "csv", "path": "x.csv",
                    "incremental": {"mode": "stateful", "column": "ts", "watermark_lag": "1h"}}
    node["write"]["table_properties"] = {"delta.enableChangeDataFeed": True}
    node["write"]["format"] = "delta"
    assert _errors(validator, data) == []


# --- and rejects what the loader rejects -------------------------------------------------------


def _load_fails(tmp_path: Path, data: dict[str, Any]) -> str:
    (tmp_path / "odibi.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_project(tmp_path, environ={})
    return str(caught.value)


def _with(change: Any) -> dict[str, Any]:
    data = copy.deepcopy(_minimal())
    change(data)
    return data


BAD = {
    "top-level typo": (_with(lambda d: d.update(pipelins=d.pop("pipelines"))), "", "pipelins"),
    "node typo": (_with(lambda d: d["pipelines"][0]["nodes"][1].update(trasform={})),
                  "pipelines.0.nodes.1", "trasform"),
    "read typo": (_with(lambda d: d["pipelines"][0]["nodes"][0]["read"].update(formt="csv")),
                  "pipelines.0.nodes.0.read", "formt"),
    "connection typo": (_with(lambda d: d["connections"]["lake"].update(base_pth="x")),
                        "connections.lake", "base_pth"),
    "wrong type": (_with(lambda d: d.update(retry={"max_attempts": "two"})),
                   "retry.max_attempts", "two"),
    "bool as text": (_with(lambda d: d["pipelines"][0]["nodes"][0].update(enabled="yes please")),
                     "pipelines.0.nodes.0.enabled", "yes please"),
    "unknown choice": (_with(lambda d: d.update(engine="pandaz")), "engine", "pandaz"),
    "unknown connection type": (_with(lambda d: d["connections"]["lake"].update(type="ftp")),
                                "connections.lake.type", "ftp"),
    "sql option typo": (_with(lambda d: (
        d["connections"].update(db={"type": "sql", "url": "sqlite:///x.db"}),
        d["pipelines"][0]["nodes"][0].update(read={
            "connection": "db", "format": "sql", "table": "t", "options": {"shema": "s"}}))),
        "pipelines.0.nodes.0.read.options", "shema"),
    "api pagination typo": (_with(lambda d: (
        d["connections"].update(api={"type": "http", "base_url": "http://127.0.0.1:9"}),
        d["pipelines"][0]["nodes"][0].update(read={
            "connection": "api", "format": "api", "options": {
                "pagination": {"type": "cursor", "cursor_path": "next", "cursor_parm": "c"}}}))),
        "pipelines.0.nodes.0.read.options.pagination", "cursor_parm"),
    "unknown key in an environment": (_with(lambda d: d.update(
        environments={"prod": {"conections": {}}})), "environments.prod", "conections"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_schema_rejects_what_the_loader_rejects(validator: Draft202012Validator, tmp_path: Path,
                                                case: str) -> None:
    data, where, word = BAD[case]
    errors = _errors(validator, data)
    assert errors, f"the schema accepts {case}"
    assert any(path == where and word in message for path, message in errors), errors
    assert word in _load_fails(tmp_path, data)


# --- in an editor ------------------------------------------------------------------------------


@pytest.mark.slow
def test_the_yaml_language_server_checks_the_example_through_its_schema_line() -> None:
    """What an editor shows: the example's first line finds docs/odibi.schema.json; a typo, a
    wrong type and a value outside the choices are flagged at their lines; ${...} is not."""
    from tests.core.config.yaml_language_server import YamlLanguageServer

    path = ROOT / "examples" / "retail" / "odibi.yaml"
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# yaml-language-server: $schema=../../docs/odibi.schema.json\n")
    lines = text.splitlines()
    engine = next(i for i, line in enumerate(lines, 1) if line.startswith("engine:"))
    pipelines = next(i for i, line in enumerate(lines, 1) if line.startswith("pipelines:"))
    with YamlLanguageServer() as server:
        assert server.diagnostics(path, text) == []
        assert server.diagnostics(path, text.replace("engine: pandas", "engine: ${ENGINE}")) == []
        bad = (text.replace("engine: pandas", "engine: pandaz")
               .replace("\npipelines:", "\npipelins:")
               .replace("max_attempts: 2", "max_attempts: two"))
        found = server.diagnostics(path, bad)
    assert (pipelines, "Property pipelins is not allowed.") in found
    assert any(line == engine and "pandas" in message for line, message in found)
    assert any("integer" in message for _, message in found)
    assert len(found) == 3
