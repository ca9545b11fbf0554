"""deploy/dagster.yaml as it is: a Postgres-backed instance (a PostgreSQL server started by the
test), the webserver and the daemon on it, examples/retail launched over GraphQL; the run, its
events and the asset check results land in PostgreSQL's tables."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import dagster as dg
import pytest

from tests.webui.dagster_server import DagsterServer
from tests.webui.postgres_server import PostgresServer
from tests.webui.retail_flow import IN_PROCESS, RETAIL_ASSETS, RETAIL_CHECKS, materialize_retail

pytestmark = pytest.mark.slow

DEPLOY_INSTANCE = Path(__file__).resolve().parents[2] / "deploy" / "dagster.yaml"


def test_retail_on_the_postgres_instance(postgres: PostgresServer, dagster_home: Path,
                                         retail: Path,
                                         start_dagster: Callable[..., DagsterServer],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copy(DEPLOY_INSTANCE, dagster_home / "dagster.yaml")  # replaces the sqlite one
    for name, value in postgres.dagster_env().items():
        monkeypatch.setenv(name, value)

    instance = dg.DagsterInstance.get()  # what `dagster-webserver` / `-daemon` will load
    try:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
        assert type(instance.schedule_storage).__name__ == "PostgresScheduleStorage"
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
        assert instance.get_concurrency_config().run_queue_config.max_concurrent_runs == 4
        assert not instance.telemetry_enabled
    finally:
        instance.dispose()
    assert not (dagster_home / "history").exists(), "no sqlite run storage next to it"

    server = start_dagster(retail)  # inherits DAGSTER_PG_* from the environment
    info = server.graphql("{ instance { runLauncher { name } runQueueConfig "
                          "{ maxConcurrentRuns } } }")["instance"]
    assert info == {"runLauncher": {"name": "DefaultRunLauncher"},
                    "runQueueConfig": {"maxConcurrentRuns": 4}}

    # In-process executor: this test is about where things are stored (the sqlite test runs
    # the default multiprocess executor).
    run_id = materialize_retail(server, run_config=IN_PROCESS)

    [(run_rows, status)] = postgres.query(
        "SELECT count(*), max(status) FROM runs WHERE run_id = %s", (run_id,))
    assert (run_rows, status) == (1, "SUCCESS")
    materialized = postgres.query(
        "SELECT DISTINCT asset_key FROM event_logs WHERE run_id = %s "
        "AND dagster_event_type = 'ASSET_MATERIALIZATION'", (run_id,))
    assert {key for (key,) in materialized} == {
        '["' + '", "'.join(key.split("/")) + '"]' for key in RETAIL_ASSETS}
    checks = postgres.query(
        "SELECT asset_key, check_name, execution_status FROM asset_check_executions "
        "WHERE run_id = %s", (run_id,))
    assert len(checks) == sum(len(names) for names in RETAIL_CHECKS.values())
    assert {name for _, name, _ in checks} == {n for c in RETAIL_CHECKS.values() for n in c}
    assert not (dagster_home / "history").exists()
