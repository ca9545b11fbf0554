"""examples/retail in a real Dagster deployment (dagster-webserver + dagster-daemon, sqlite
instance): its assets and checks over GraphQL, a run launched as the web UI launches one, queued
and started by the daemon, and what the run recorded."""

from __future__ import annotations

import pytest

from tests.webui.dagster_server import DagsterServer
from tests.webui.retail_flow import assert_retail_definitions, materialize_retail

pytestmark = pytest.mark.slow


def test_launch_all_assets_over_graphql(retail_dagster: DagsterServer) -> None:
    server = retail_dagster
    assert server.repository_selector == {"repositoryLocationName": "odibi",
                                          "repositoryName": "__repository__"}
    assert_retail_definitions(server)
    instance = server.graphql("{ instance { runQueuingSupported } }")["instance"]
    assert instance["runQueuingSupported"], "QueuedRunCoordinator: the daemon starts the runs"
    statuses = server.wait_for_daemons(["QUEUED_RUN_COORDINATOR", "SCHEDULER", "SENSOR"])
    assert all(statuses.values()), statuses

    run_id = materialize_retail(server)
    [run] = server.runs({"statuses": ["SUCCESS"]})
    assert run["runId"] == run_id
    kinds = [event["__typename"] for event in server.run_events(run_id)]
    assert kinds.index("RunEnqueuedEvent") < kinds.index("RunStartingEvent")  # via the queue
    assert "StepWorkerStartedEvent" in kinds  # the default multiprocess executor: one per step
    assert kinds.count("MaterializationEvent") == 7
    assert kinds.count("AssetCheckEvaluationEvent") == 6
