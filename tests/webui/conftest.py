"""Fixtures for tests that drive a real Dagster deployment (webserver + daemon) on loopback.

- ``start_dagster(project, *, env=None, daemon=True, dagster_home=None)``: start
  ``dagster-webserver`` (and ``dagster-daemon``) loading ``project`` (an odibi.yaml, or the folder
  holding it) through ``odibi_dagster.definitions``; returns a started
  ``tests.webui.dagster_server.DagsterServer``; every server is stopped at teardown.
- ``retail_dagster``: that, for a fresh copy of examples/retail, sqlite instance in the test's
  ``DAGSTER_HOME`` (the autouse ``dagster_home`` fixture of tests/conftest.py).
- ``postgres``: a started ``tests.webui.postgres_server.PostgresServer``.
- ``artifacts_dir``: ``test-artifacts/`` at the repository root (gitignored), for screenshots.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # `python -m pytest` adds it; a bare `pytest` run does not
    sys.path.insert(0, str(REPO))

pytest.register_assert_rewrite("tests.webui.retail_flow")  # its asserts explain themselves

from tests.webui.dagster_server import DagsterServer  # noqa: E402
from tests.webui.postgres_server import PostgresServer  # noqa: E402

StartDagster = Callable[..., DagsterServer]


@pytest.fixture
def start_dagster(tmp_path: Path, dagster_home: Path) -> Iterator[StartDagster]:
    started: list[DagsterServer] = []

    def start(project: Path, *, env: Mapping[str, str] | None = None, daemon: bool = True,
              home: Path | None = None) -> DagsterServer:
        project_file = project / "odibi.yaml" if project.is_dir() else project
        index = len(started)
        # The repository's own workspace file, as `dagster dev -w dagster_workspace.yaml` loads it.
        workspace = REPO / "dagster_workspace.yaml"
        log_dir = tmp_path / f"dagster-logs-{index}"
        log_dir.mkdir()
        server = DagsterServer(workspace, home or dagster_home,
                               env={"ODIBI_PROJECT": str(project_file), **(env or {})},
                               daemon=daemon, log_dir=log_dir)
        started.append(server)
        return server.start()

    try:
        yield start
    finally:
        for server in started:
            server.stop()


@pytest.fixture
def retail_dagster(start_dagster: StartDagster, retail: Path) -> DagsterServer:
    return start_dagster(retail)


@pytest.fixture
def postgres() -> Iterator[PostgresServer]:
    with PostgresServer() as server:
        yield server


@pytest.fixture
def artifacts_dir() -> Path:
    path = REPO / "test-artifacts"
    path.mkdir(exist_ok=True)
    return path
