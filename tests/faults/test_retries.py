"""Transient-only retries through real Dagster runs, with real faults (SPEC §8).

A loopback HTTP server answers 503 (or 400) before it answers with CSV; a custom transform fetches
it with urllib. Another transform raises ConnectionResetError a set number of times, counting its
calls in a file. Each retry must be logged (node, attempt, delay, error), recorded in the story and
in the materialization metadata; permanent errors (HTTP 400, a failed validation) must fail at
once; a retried node must write its batch once.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from deltalake import DeltaTable

from odibi_core.config import load_project
from odibi_dagster.execution import ProjectRun, run_project

pytestmark = pytest.mark.timeout(120)

CSV = "id,amount\n1,10\n2,20\n3,30\n"

TRANSFORMS = '''\
import io
import urllib.request
from pathlib import Path

import pandas as pd

from odibi_core import transform


@transform
def fetch_csv(df, url: str):
    """Replace the frame with the CSV served at `url`."""
    with urllib.request.urlopen(url, timeout=10) as response:
        return pd.read_csv(io.BytesIO(response.read()))


@transform
def flaky(df, counter: str, failures: int):
    """Raise ConnectionResetError on the first `failures` calls (counted in `counter`)."""
    path = Path(counter)
    calls = len(path.read_text().splitlines()) + 1 if path.exists() else 1
    with path.open("a") as handle:
        handle.write(f"call {calls}\\n")
    if calls <= failures:
        raise ConnectionResetError(104, "Connection reset by peer")
    return df
'''


@dataclass
class Server:
    """A loopback HTTP server: answers the statuses in ``script`` in turn, then 200 with CSV."""

    script: list[int]
    requests: list[int] = field(default_factory=list)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/orders.csv"


@pytest.fixture
def server() -> Iterator[Server]:
    state = Server(script=[])

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            status = state.script.pop(0) if state.script else 200
            state.requests.append(status)
            body = CSV.encode() if status == 200 else b"try again later"
            self.send_response(status)
            self.send_header("Content-Type", "text/csv")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield state
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


def write_project(root: Path, node: str, *, retry: str = "{initial_delay: 0.1, max_attempts: 3}"
                  ) -> Any:
    (root / "src").mkdir(parents=True, exist_ok=True)
    (root / "src" / "seed.csv").write_text("id,amount\n0,0\n", encoding="utf-8")
    (root / "transforms.py").write_text(TRANSFORMS, encoding="utf-8")
    (root / "odibi.yaml").write_text(f"""\
project: retries
connections:
  src: {{type: local, base_path: ./src}}
  lake: {{type: local, base_path: ./lake}}
system: {{connection: lake, path: _system}}
story: {{connection: lake, path: _stories}}
retry: {retry}
pipelines:
  - pipeline: p
    nodes:
{node}""", encoding="utf-8")
    return load_project(root / "odibi.yaml")


def fetch_node(url: str) -> str:
    return f"""\
      - name: fetch
        read: {{connection: src, format: csv, path: seed.csv}}
        transform:
          steps:
            - function: fetch_csv
              params: {{url: "{url}"}}
        write: {{connection: lake, format: delta, path: fetched, mode: append}}
"""


def flaky_node(counter: Path, failures: int, extra: str = "") -> str:
    return f"""\
      - name: flaky
        read: {{connection: src, format: csv, path: seed.csv}}
        transform:
          steps:
            - function: flaky
              params: {{counter: "{counter}", failures: {failures}}}
{extra}        write: {{connection: lake, format: delta, path: flaky, mode: append}}
"""


def run(project: Any, node: str) -> ProjectRun:
    return run_project(project, [node])


def attempts_of(run_id: str) -> int:
    with dg.DagsterInstance.get() as instance:
        (stats,) = instance.get_run_step_stats(run_id)
        return stats.attempts


def warnings_of(run_id: str) -> list[str]:
    with dg.DagsterInstance.get() as instance:
        return [entry.user_message for entry in instance.all_logs(run_id)
                if entry.dagster_event is None and entry.level >= 30]


def materialization_metadata(key: list[str]) -> dict[str, Any]:
    with dg.DagsterInstance.get() as instance:
        event = instance.get_latest_materialization_event(dg.AssetKey(key))
        assert event is not None and event.asset_materialization is not None
        return {k: v.value for k, v in event.asset_materialization.metadata.items()}


def story_markdown(outcome: ProjectRun) -> str:
    (html,) = outcome.stories
    return html.with_suffix(".md").read_text(encoding="utf-8")


def test_http_503_twice_is_retried_and_the_run_succeeds_on_attempt_3(
        tmp_path: Path, server: Server) -> None:
    server.script = [503, 503]
    project = write_project(tmp_path, fetch_node(server.url))

    outcome = run(project, "p.fetch")

    assert outcome.success, [r.error for r in outcome.results]
    assert server.requests == [503, 503, 200]
    assert attempts_of(outcome.run_id) == 3
    # Every retry is logged with node, attempt n/N, delay and error.
    retries = [m for m in warnings_of(outcome.run_id) if m.startswith("retry ")]
    assert len(retries) == 2
    assert retries[0].startswith("retry 1/2 of p.fetch in 0.1s: http_unavailable (HTTP 503)")
    assert retries[1].startswith("retry 2/2 of p.fetch in 0.3s: http_unavailable (HTTP 503)")
    assert "HTTP Error 503: Service Unavailable" in retries[0]
    # The result (and so the story) has the attempt and the retried attempts.
    (result,) = outcome.results
    assert (result.status, result.attempt, result.max_attempts) == ("success", 3, 3)
    assert [(r.attempt, r.category, r.delay_seconds) for r in result.retries] == [
        (1, "http_unavailable", 0.1), (2, "http_unavailable", 0.3)]
    assert all("HTTP Error 503" in r.error for r in result.retries)
    story = story_markdown(outcome)
    assert "- **Attempt:** 3 of 3 (2 retries)" in story
    assert "### Retries" in story and story.count("| http_unavailable |") == 2
    assert "Retries:** 2 (fetch ×2)" in story
    html = outcome.stories[0].read_text(encoding="utf-8")
    assert "<h4>Retries</h4>" in html and "attempt 3 of 3 (2 retries)" in html
    # ... and so does the materialization.
    metadata = materialization_metadata(["p", "fetch"])
    assert metadata["odibi/attempt"] == 3 and metadata["odibi/max_attempts"] == 3
    assert [(r["attempt"], r["delay"], r["category"]) for r in metadata["odibi/retries"]] == [
        (1, 0.1, "http_unavailable"), (2, 0.3, "http_unavailable")]
    assert "HTTP Error 503" in metadata["odibi/retries"][0]["error"]
    # The rows were written once.
    rows = DeltaTable(str(tmp_path / "lake" / "fetched")).to_pyarrow_table().to_pylist()
    assert sorted(r["id"] for r in rows) == [1, 2, 3]


def test_http_400_is_not_retried(tmp_path: Path, server: Server) -> None:
    server.script = [400]
    project = write_project(tmp_path, fetch_node(server.url))

    outcome = run(project, "p.fetch")

    assert not outcome.success
    assert server.requests == [400]  # one attempt, no retry
    assert attempts_of(outcome.run_id) == 1
    assert not [m for m in warnings_of(outcome.run_id) if m.startswith("retry ")]
    (result,) = outcome.results
    assert result.status == "failed" and result.error is not None
    assert not result.error.transient and "HTTP Error 400" in result.error.message
    assert (result.attempt, result.retries) == (1, ())
    assert "(not transient)" in story_markdown(outcome)
    assert not (tmp_path / "lake" / "fetched").exists()


def test_a_failed_validation_is_not_retried(tmp_path: Path) -> None:
    counter = tmp_path / "calls.txt"
    validation = ("        validation:\n"
                  "          tests: [{type: range, column: amount, min: 100}]\n")
    project = write_project(tmp_path, flaky_node(counter, 0, validation))

    outcome = run(project, "p.flaky")

    assert not outcome.success
    assert counter.read_text().splitlines() == ["call 1"]
    assert attempts_of(outcome.run_id) == 1
    (result,) = outcome.results
    assert result.error is not None and not result.error.transient
    assert result.validation is not None and not result.validation.passed
    assert (result.attempt, result.retries) == (1, ())


def test_connection_reset_twice_is_retried_and_the_batch_written_once(tmp_path: Path) -> None:
    counter = tmp_path / "calls.txt"
    project = write_project(
        tmp_path, flaky_node(counter, 2),
        retry="{initial_delay: 0.1, max_attempts: 3, backoff: constant, jitter: plus_minus}")

    outcome = run(project, "p.flaky")

    assert outcome.success, [r.error for r in outcome.results]
    assert counter.read_text().splitlines() == ["call 1", "call 2", "call 3"]
    assert attempts_of(outcome.run_id) == 3
    retries = [m for m in warnings_of(outcome.run_id) if m.startswith("retry ")]
    assert [m.split(" in ")[0] for m in retries] == ["retry 1/2 of p.flaky",
                                                      "retry 2/2 of p.flaky"]
    assert all("connection_reset (ECONNRESET)" in m for m in retries)
    (result,) = outcome.results
    assert [r.category for r in result.retries] == ["connection_reset"] * 2
    assert all(0 <= r.delay_seconds <= 0.2 for r in result.retries)  # 0.1 +/- 0.1
    # The transient error came before the write: one commit, the seed row once.
    table = DeltaTable(str(tmp_path / "lake" / "flaky"))
    assert table.version() == 0
    assert table.to_pyarrow_table().to_pylist() == [{"id": 0, "amount": 0}]


def test_retries_run_out_and_the_failure_says_so(tmp_path: Path) -> None:
    counter = tmp_path / "calls.txt"
    project = write_project(tmp_path, flaky_node(counter, 5),
                            retry="{initial_delay: 0.05, max_attempts: 2}")

    outcome = run(project, "p.flaky")

    assert not outcome.success
    assert counter.read_text().splitlines() == ["call 1", "call 2"]
    assert attempts_of(outcome.run_id) == 2
    (result,) = outcome.results
    assert (result.attempt, result.max_attempts, len(result.retries)) == (2, 2, 1)
    assert result.error is not None and result.error.transient
    story = story_markdown(outcome)
    assert "transient, gave up after 2 attempts" in story
    with dg.DagsterInstance.get() as instance:
        failure = instance.get_records_for_run(
            outcome.run_id, of_type=dg.DagsterEventType.STEP_FAILURE).records[0]
        description = failure.event_log_entry.dagster_event.step_failure_data.user_failure_data \
            .description
    assert "Gave up on p.flaky after 2 attempts (1 retries)" in description
    assert "connection_reset" in description and f"odibi resume {outcome.run_id}" in description
    assert not (tmp_path / "lake" / "flaky").exists()


def test_retries_off_fail_a_transient_error_at_once_and_say_how_to_retry(
        tmp_path: Path) -> None:
    counter = tmp_path / "calls.txt"
    project = write_project(tmp_path, flaky_node(counter, 1), retry="{enabled: false}")

    outcome = run(project, "p.flaky")

    assert not outcome.success
    assert counter.read_text().splitlines() == ["call 1"]
    (result,) = outcome.results
    assert (result.attempt, result.max_attempts) == (1, 1)
    assert "transient, not retried: retries are off" in story_markdown(outcome)
