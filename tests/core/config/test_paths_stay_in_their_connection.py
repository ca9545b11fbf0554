"""Paths may not leave their connection: ``../`` and absolute paths outside a local connection's
``base_path`` (unless it sets ``allow_outside_base_path: true``), ``../`` above an Azure
container. Refused when the project loads (file, line, key path, a fix naming the flag), before
anything runs; a real ``odibi run`` writes nothing outside the lake."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from odibi_core.config import load_project
from odibi_core.errors import ConfigError
from tests.processes import run_odibi

PROJECT = """\
project: demo
connections:
  landing: {{type: local, base_path: ./landing{landing_flag}}}
  lake: {{type: local, base_path: ./lake}}
  blob: {{type: azure_blob, account_name: acme, container: raw}}
story: {{connection: lake, path: {story}}}
system: {{connection: lake, path: {system}}}
pipelines:
  - pipeline: p
    sensor: {{type: file_arrival, connection: landing, path: "{read}", reads: all_files}}
    nodes:
      - name: orders
        read:
          connection: landing
          format: csv
          path: {read}
          dead_letter: {{connection: lake, path: {dead_letter}}}
        validation:
          tests: [{{type: not_null, columns: [id], on_fail: quarantine}}]
          quarantine: {{connection: lake, path: {quarantine}}}
        write: {{connection: lake, format: delta, path: {write}}}
      - name: blobs
        read: {{connection: blob, format: csv, path: {blob}}}
"""
INSIDE = {"landing_flag": "", "story": "_stories", "system": "_system", "read": "orders/*.csv",
          "dead_letter": "_dlq/orders", "quarantine": "_q/orders",
          "write": "silver/../bronze/orders", "blob": "in/x.csv"}
# key -> (a path leaving its connection, the key paths of the problems)
OUTSIDE = {
    "story": ("../stories", "story.path"),
    "system": ("/var/tmp/odibi_system", "system.path"),
    "read": ("~/orders/*.csv", "pipelines[0].sensor.path pipelines[0].nodes[0].read.path"),
    "dead_letter": ("_dlq/../../dlq", "pipelines[0].nodes[0].read.dead_letter.path"),
    "quarantine": ("../q", "pipelines[0].nodes[0].validation.quarantine.path"),
    "write": ("../../outside/orders", "pipelines[0].nodes[0].write.path"),
    "blob": ("in/../../other/x.csv", "pipelines[0].nodes[1].read.path"),
}


def write(root: Path, **paths: str) -> Path:
    file = root / "odibi.yaml"
    file.write_text(PROJECT.format(**{**INSIDE, **paths}), encoding="utf-8")
    return file


def test_paths_inside_their_connection_load(tmp_path: Path) -> None:
    project = load_project(write(tmp_path))
    assert project.config.connections["landing"].allow_outside_base_path is False


@pytest.mark.parametrize("key", list(OUTSIDE))
def test_a_path_leaving_its_connection_is_a_config_error(tmp_path: Path, key: str) -> None:
    path, key_path = OUTSIDE[key]
    file = write(tmp_path, **{key: path})
    with pytest.raises(ConfigError) as info:
        load_project(file)
    problems = info.value.problems
    assert [(p.file, p.key_path) for p in problems] == [(file, k) for k in key_path.split()]
    lines = file.read_text().splitlines()
    for problem in problems:
        assert path in lines[problem.line - 1]
        assert f"Path '{path}' on connection" in problem.message
        if key == "blob":
            assert "leaves the container" in problem.message
        else:
            assert "leaves its base_path" in problem.message
            assert "allow_outside_base_path: true on connections." in (problem.fix or "")


def test_allow_outside_base_path_lets_a_connection_leave_its_folder(tmp_path: Path) -> None:
    file = write(tmp_path, landing_flag=", allow_outside_base_path: true",
                 read="/srv/incoming/*.csv")
    project = load_project(file)
    assert project.config.connections["landing"].allow_outside_base_path is True
    # ... on that connection only: the lake still refuses.
    with pytest.raises(ConfigError, match="connection 'lake' leaves its base_path"):
        load_project(write(tmp_path, landing_flag=", allow_outside_base_path: true",
                           write="../x"))


def test_odibi_validate_and_run_refuse_and_write_nothing_outside(tmp_path: Path) -> None:
    root = tmp_path / "project"
    root.mkdir()
    (root / "landing" / "orders").mkdir(parents=True)
    (root / "landing" / "orders" / "a.csv").write_text("id\n1\n", encoding="utf-8")
    (root / "odibi.yaml").write_text("""\
project: demo
connections:
  landing: {type: local, base_path: ./landing}
  lake: {type: local, base_path: ./lake}
pipelines:
  - pipeline: p
    nodes:
      - name: orders
        read: {connection: landing, format: csv, path: orders/a.csv}
        write: {connection: lake, format: delta, path: ../../escaped/orders}
""", encoding="utf-8")
    from tests.processes import ODIBI, odibi_env

    validated = subprocess.run([*ODIBI, "validate", str(root / "odibi.yaml")],
                               capture_output=True, text=True, env=odibi_env(root), timeout=120)
    ran = run_odibi(root)
    for done in (validated, ran):
        assert done.returncode == 1, done.stdout + done.stderr
        assert f"{root / 'odibi.yaml'}:10: pipelines[0].nodes[0].write.path" in done.stderr
        assert "allow_outside_base_path" in done.stderr
    assert not (tmp_path / "escaped").exists() and not (root / "lake").exists()


def test_a_streaming_checkpoint_leaving_the_lake_is_a_config_error(tmp_path: Path) -> None:
    file = tmp_path / "odibi.yaml"
    file.write_text("""\
project: demo
engine: spark
connections:
  landing: {type: local, base_path: ./landing}
  lake: {type: local, base_path: ./lake}
pipelines:
  - pipeline: live
    nodes:
      - name: events
        read: {connection: landing, format: json, path: events, streaming: true,
               schema_ddl: "id BIGINT"}
        write:
          connection: lake
          format: delta
          path: silver/events
          streaming: {checkpoint_location: ../../checkpoints/events}
""", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_project(file)
    (problem,) = info.value.problems
    assert (problem.line, problem.key_path) == (
        16, "pipelines[0].nodes[0].write.streaming.checkpoint_location")
    assert "Path '../../checkpoints/events' on connection 'lake' leaves its base_path" \
        in problem.message
