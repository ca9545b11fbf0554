"""A job of part of a pipeline launched over GraphQL, as the web UI launches it, against a real
``dagster-webserver`` + ``dagster-daemon`` (queued, then started by the daemon; one process per
step): its story is final when the run ends — also when a node fails and the nodes after it
never run — with nothing switched on in the project file."""

from __future__ import annotations

from pathlib import Path

import pytest

from odibi_dagster.run_end_sensor import RUN_FAILED_SENSOR, RUN_SUCCEEDED_SENSOR

from tests.run_stories import (
    FAILED_SALES,
    FINANCE,
    assert_final,
    break_clean_orders,
    build_retail,
    run_stories,
    statuses,
)
from tests.webui.conftest import StartDagster

pytestmark = pytest.mark.slow

SENSOR_STATUS = """
query Sensor($selector: SensorSelector!) {
  sensorOrError(sensorSelector: $selector) {
    __typename
    ... on Sensor { sensorState { status } }
  }
}
"""


def test_a_job_run_launched_over_graphql_ends_its_story(retail: Path,
                                                        start_dagster: StartDagster) -> None:
    build_retail(retail)
    server = start_dagster(retail)
    for name in (RUN_SUCCEEDED_SENSOR, RUN_FAILED_SENSOR):  # the safety net runs by default
        selector = {**server.repository_selector, "sensorName": name}
        sensor = server.graphql(SENSOR_STATUS, {"selector": selector})["sensorOrError"]
        assert sensor["sensorState"]["status"] == "RUNNING", sensor

    run_id = server.launch_job("finance_reports")
    assert server.wait_for_run(run_id, timeout=150) == "SUCCESS", server.run_failure(run_id)
    [run] = server.runs({"runIds": [run_id]})
    assert run["jobName"] == "finance_reports" and not run["assetSelection"]
    # Read as soon as the run ended: the run ended its story itself.
    stories = run_stories(retail, run_id)
    assert set(stories) == {"sales"}
    assert statuses(stories["sales"]) == dict.fromkeys(FINANCE, "success")
    assert_final(stories["sales"], "success")

    break_clean_orders(retail)  # each run loads the project file afresh
    run_id = server.launch_job("sales_job")
    assert server.wait_for_run(run_id, timeout=150) == "FAILURE", server.logs()
    stories = run_stories(retail, run_id)
    assert set(stories) == {"sales"}
    assert statuses(stories["sales"]) == FAILED_SALES
    assert_final(stories["sales"], "failed")
