"""The deployment files of deploy/ agree with each other, and the command the container image and
the Helm chart run really serves the project.

No docker engine and no helm here: the image is not built and the chart is not rendered. What is
checked is the contract between them: the Dockerfile's CMD is exactly the command the chart builds
from values.yaml (``dagster api grpc -h 0.0.0.0 -p <port> <dagsterApiGrpcArgs>``), and that command,
run here on loopback against a copy of examples/retail, passes the chart's readiness probe
(``dagster api grpc-health-check``), serves the project's assets to a webserver that loads it as a
``grpc_server`` code location (as the chart's webserver does), and runs a launched run.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.webui.dagster_server import (BIN, DagsterServer, free_port, kill_process_tree,
                                        wait_until, write_grpc_workspace)
from tests.webui.retail_flow import IN_PROCESS, RETAIL_ASSETS

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
PG_VARS = {"username": "DAGSTER_PG_USERNAME", "password": "DAGSTER_PG_PASSWORD",
           "hostname": "DAGSTER_PG_HOST", "db_name": "DAGSTER_PG_DB", "port": "DAGSTER_PG_PORT"}


def dockerfile() -> dict[str, Any]:
    """CMD (exec form), EXPOSE and ENV of deploy/Dockerfile (continuation lines joined)."""
    text = re.sub(r"\\\n", " ", (DEPLOY / "Dockerfile").read_text(encoding="utf-8"))
    found: dict[str, Any] = {"env": {}}
    for line in text.splitlines():
        instruction, _, rest = line.strip().partition(" ")
        if instruction == "CMD":
            found["cmd"] = json.loads(rest)
        elif instruction == "EXPOSE":
            found["expose"] = [int(port) for port in rest.split()]
        elif instruction == "ENV":
            for name, value in re.findall(r"(\w+)=(\S*)", rest):
                found["env"][name] = value
    return found


def helm_values() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "helm" / "values.yaml").read_text(encoding="utf-8"))


def odibi_deployment(values: dict[str, Any]) -> dict[str, Any]:
    [deployment] = [d for d in values["dagster-user-deployments"]["deployments"]
                    if d["name"] == "odibi"]
    return deployment


def chart_command(deployment: dict[str, Any]) -> list[str]:
    """The container args the chart's deployment-user.yaml template renders."""
    return ["dagster", "api", "grpc", "-h", "0.0.0.0", "-p", str(deployment["port"]),
            *deployment["dagsterApiGrpcArgs"]]


def test_image_and_chart_run_the_same_command() -> None:
    image, values = dockerfile(), helm_values()
    deployment = odibi_deployment(values)
    assert image["cmd"] == chart_command(deployment) == [
        "dagster", "api", "grpc", "-h", "0.0.0.0", "-p", "4000",
        "-m", "odibi_dagster.definitions"]
    assert image["expose"] == [deployment["port"]] == [4000]
    assert values["dagster-user-deployments"]["enabled"] is True

    env = deployment["env"]
    assert env["ODIBI_PROJECT"] == image["env"]["ODIBI_PROJECT"] == "/opt/odibi/project/odibi.yaml"
    assert env["ODIBI_ENV"], "the deployment selects an environment of the project"
    assert deployment["envSecrets"] and all(s["name"] for s in deployment["envSecrets"])
    assert deployment["includeConfigInLaunchedRuns"] == {"enabled": True}

    daemon = values["dagsterDaemon"]
    assert daemon["enabled"] and daemon["runCoordinator"]["enabled"]
    assert daemon["runCoordinator"]["type"] == "QueuedRunCoordinator"
    assert daemon["runCoordinator"]["config"]["queuedRunCoordinator"]["maxConcurrentRuns"] > 0
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    assert values["telemetry"] == {"enabled": False}
    postgresql = values["postgresql"]
    assert {"postgresqlUsername", "postgresqlDatabase", "service"} <= set(postgresql)
    instance = yaml.safe_load((DEPLOY / "dagster.yaml").read_text(encoding="utf-8"))
    database = instance["storage"]["postgres"]["postgres_db"]
    assert postgresql["postgresqlScheme"] == database["scheme"]


def test_instance_file_names_postgres_storage_from_env() -> None:
    instance = yaml.safe_load((DEPLOY / "dagster.yaml").read_text(encoding="utf-8"))
    assert set(instance["storage"]) == {"postgres"}, "one database for runs, events, schedules"
    assert not {"run_storage", "event_log_storage", "schedule_storage"} & set(instance)
    database = instance["storage"]["postgres"]["postgres_db"]
    assert {key: database[key] for key in PG_VARS} == {
        key: {"env": name} for key, name in PG_VARS.items()}
    assert database["scheme"] == "postgresql+psycopg2"
    assert instance["run_coordinator"]["class"] == "QueuedRunCoordinator"
    assert instance["concurrency"]["runs"]["max_concurrent_runs"] > 0
    assert instance["telemetry"] == {"enabled": False}
    # test_postgres_instance.py loads it with DagsterInstance.get() against a real PostgreSQL.


@pytest.fixture
def code_server(retail: Path, tmp_path: Path) -> Iterator[int]:
    """The image's command, on loopback and a free port, serving a copy of examples/retail;
    yields the port once the chart's readiness probe passes."""
    args = chart_command(odibi_deployment(helm_values()))
    port = free_port()
    args[args.index("0.0.0.0")] = "127.0.0.1"  # only loopback here
    args[args.index("-p") + 1] = str(port)
    args[0] = str(BIN / "dagster")
    log = tmp_path / "code-server.log"
    env = {**os.environ, "ODIBI_PROJECT": str(retail / "odibi.yaml")}
    with log.open("wb") as out:
        proc = subprocess.Popen(args, cwd=retail, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        def healthy() -> bool:
            assert proc.poll() is None, log.read_text(errors="replace")[-4000:]
            probe = subprocess.run(
                [str(BIN / "dagster"), "api", "grpc-health-check", "-p", str(port),
                 "-h", "127.0.0.1"],
                capture_output=True, timeout=30, check=False, stdin=subprocess.DEVNULL)
            return probe.returncode == 0

        try:
            wait_until(healthy, 90, interval=1, what="dagster api grpc-health-check passes")
        except TimeoutError:
            raise AssertionError(log.read_text(errors="replace")[-4000:]) from None
        yield port
    finally:
        kill_process_tree(proc)


@pytest.mark.slow
def test_the_image_command_serves_the_project(code_server: int, tmp_path: Path,
                                              dagster_home: Path) -> None:
    listed = subprocess.run(
        [str(BIN / "dagster"), "job", "list", "--grpc-host", "127.0.0.1",
         "--grpc-port", str(code_server)],
        capture_output=True, text=True, timeout=60, check=False, stdin=subprocess.DEVNULL)
    assert listed.returncode == 0, listed.stderr[-3000:]
    for job in ("__ASSET_JOB", "bronze_job", "sales_job"):
        assert job in listed.stdout

    workspace = write_grpc_workspace(tmp_path / "workspace.yaml", port=code_server)
    log_dir = tmp_path / "dagster-logs"
    log_dir.mkdir()
    with DagsterServer(workspace, dagster_home, log_dir=log_dir) as server:
        assert server.repository_selector == {"repositoryLocationName": "odibi",
                                              "repositoryName": "__repository__"}
        assert {node["key"] for node in server.asset_nodes()} == set(RETAIL_ASSETS)
        # The daemon dequeues the run and the code server (the image's process) executes it.
        run_id = server.launch_assets(["bronze/raw_customers"], run_config=IN_PROCESS)
        assert server.wait_for_run(run_id, timeout=90) == "SUCCESS", server.run_failure(run_id)
        latest = server.latest_materialization("bronze/raw_customers")
        assert latest and latest["runId"] == run_id and latest["metadata"]["dagster/row_count"] > 0
