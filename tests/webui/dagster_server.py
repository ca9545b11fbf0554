"""A real Dagster deployment on loopback for tests: ``dagster-webserver`` and ``dagster-daemon``.

Both are started as subprocesses of the test (each in its own process group) with a given
``DAGSTER_HOME`` (sqlite or Postgres: whatever its ``dagster.yaml`` says) and a workspace file;
the project they load comes from ``ODIBI_PROJECT`` in ``env``. Everything is driven through the
webserver's GraphQL API, as the web UI does it::

    from tests.webui.dagster_server import DagsterServer

    workspace = REPO / "dagster_workspace.yaml"     # the repository's own workspace file
    with DagsterServer(workspace, dagster_home, env={"ODIBI_PROJECT": str(project)}) as server:
        run_id = server.launch_assets(["bronze/raw_orders"])
        assert server.wait_for_run(run_id) == "SUCCESS", server.run_failure(run_id)
        server.graphql("{ version }")

API (every wait is bounded):

- ``DagsterServer(workspace, dagster_home, env=None, *, daemon=True, log_dir=None,
  startup_timeout=90)``; ``start()`` / ``stop()`` or ``with``.
- ``.url`` (``http://127.0.0.1:<port>``), ``.port``, ``.location_name``, ``.repository_name``,
  ``.repository_selector`` (``{"repositoryLocationName", "repositoryName"}``, what
  ``sensorOrError`` / ``scheduleOrError`` / ``schedulesOrError`` selectors need).
- ``.graphql(query, variables=None)``: the ``data`` of the answer; raises ``GraphQLError`` when
  the answer has ``errors``.
- ``.daemon_statuses()`` / ``.wait_for_daemons(types=None, timeout=60)``: the daemon's
  heartbeats (``{"SCHEDULER": True, "SENSOR": True, ...}``).
- ``.launch_assets(keys, *, checks=None, job_name="__ASSET_JOB", tags=None, run_config=None)``:
  the run id of a run launched like the UI's "Materialize" button.
- ``.launch_job(job_name, *, tags=None, run_config=None)``: the run id of a run of a whole job
  (no asset selection), launched like the "Launch run" button of the UI's job page.
- ``.wait_for_run(run_id, timeout=120)``: the run's terminal status (``SUCCESS``, ``FAILURE``,
  ``CANCELED``); raises ``TimeoutError`` when it has none in time.
- ``.runs(filter=None, limit=50)``: runs (``runId``, ``status``, ``jobName``, ``tags``, ...),
  newest first; ``filter`` is a GraphQL ``RunsFilter`` dict
  (``{"tags": [{"key": ..., "value": ...}]}``, ``{"statuses": ["SUCCESS"]}``, ...).
- ``.asset_nodes()``: every asset of the workspace (``key`` "a/b", ``group``, ``kinds``,
  ``dependencies``, ``checks`` {name: blocking}).
- ``.latest_materialization(key)``: ``{"runId", "metadata": {label: value}}`` or ``None``.
- ``.latest_check_executions(key)``: ``{check name: {"status", "runId", "passed", "severity"}}``
  for the asset's latest materialization.
- ``.run_failure(run_id)``: the error messages of a run's events plus the server logs' tails, for
  assertion messages.
- ``.run_status(run_id)``, ``.run_events(run_id)``: one poll of a run, its event log.
- ``.logs()``: the tails of the webserver and daemon logs.

Module functions: ``wait_until(predicate, timeout, *, interval, what)`` (poll any condition with
a deadline), ``write_grpc_workspace(path, port=...)`` (a ``grpc_server`` location),
``free_port()``, ``kill_process_tree(popen)``. Pytest fixtures around this: tests/webui/conftest.py
(``start_dagster``, ``retail_dagster``, ``postgres``, ``artifacts_dir``).

``start()`` first loads the instance once in a subprocess, so that the webserver, the daemon and
their code servers do not all create a new instance's tables at the same moment (they race).

Teardown kills each process group with SIGKILL (background processes here may ignore SIGTERM),
then any descendant left (code servers and run workers are children of the servers).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from tests.processes import free_port, kill_process_tree, wait_until

__all__ = ["BIN", "DagsterServer", "GraphQLError", "free_port", "kill_process_tree",
           "wait_until", "write_grpc_workspace"]

BIN = Path(sys.executable).parent  # the venv's bin: dagster, dagster-webserver, dagster-daemon
TERMINAL_STATUSES = ("SUCCESS", "FAILURE", "CANCELED")


class GraphQLError(RuntimeError):
    """The webserver answered with GraphQL ``errors`` (or not with JSON at all)."""


def write_grpc_workspace(path: Path, *, port: int, host: str = "127.0.0.1",
                         location_name: str = "odibi") -> Path:
    """Write a workspace file whose one code location is a running gRPC code server (what the
    Helm chart's webserver and daemon use for each user deployment); return its path."""
    entry = {"host": host, "port": port, "location_name": location_name}
    path.write_text(json.dumps({"load_from": [{"grpc_server": entry}]}, indent=2) + "\n",
                    encoding="utf-8")
    return path


def _tail(path: Path, chars: int = 3000) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return text[-chars:]


def _key_path(key: str | Sequence[str]) -> list[str]:
    """``"bronze/raw_orders"`` or ``["bronze", "raw_orders"]`` -> ``["bronze", "raw_orders"]``."""
    return key.split("/") if isinstance(key, str) else list(key)


class DagsterServer:
    """``dagster-webserver`` (and by default ``dagster-daemon``) for one workspace and one
    ``DAGSTER_HOME``; see the module docstring."""

    def __init__(self, workspace: Path, dagster_home: Path,
                 env: Mapping[str, str] | None = None, *, daemon: bool = True,
                 log_dir: Path | None = None, startup_timeout: float = 90,
                 host: str = "127.0.0.1") -> None:
        self.workspace = Path(workspace)
        self.dagster_home = Path(dagster_home)
        self.daemon = daemon
        self.startup_timeout = startup_timeout
        self.host = host
        self.port = free_port()
        self.url = f"http://{host}:{self.port}"
        self.log_dir = Path(log_dir) if log_dir else Path(tempfile.mkdtemp(prefix="dagster-logs-"))
        self.env = {**os.environ, **(env or {}), "DAGSTER_HOME": str(self.dagster_home),
                    "PYTHONUNBUFFERED": "1"}
        self.location_name: str | None = None
        self.repository_name: str | None = None
        self._procs: dict[str, subprocess.Popen[Any]] = {}

    # ---- lifecycle ---------------------------------------------------------------------
    def __enter__(self) -> DagsterServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> DagsterServer:
        """Start the processes and wait (bounded) until the code location is loaded."""
        try:
            self._prepare_instance()
            self._spawn("webserver", [str(BIN / "dagster-webserver"), "-h", self.host,
                                      "-p", str(self.port), "-w", str(self.workspace)])
            if self.daemon:
                self._spawn("daemon", [str(BIN / "dagster-daemon"), "run",
                                       "-w", str(self.workspace)])
            deadline = time.monotonic() + self.startup_timeout
            self._wait_for(self._answers_server_info, deadline,
                           "the webserver answers /server_info")
            self._wait_for(self._location_loaded, deadline, "the code location is loaded")
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Kill every process started (and their children); safe to call twice."""
        for name in list(self._procs):
            kill_process_tree(self._procs.pop(name))

    def _prepare_instance(self) -> None:
        """Load the instance once before the servers start: a new instance creates its tables,
        and the webserver, the daemon and their code servers all doing that at the same moment
        race (sqlite: alembic "Version table 'alembic_version' has more than one head")."""
        done = subprocess.run(
            [sys.executable, "-c", "import dagster; dagster.DagsterInstance.get().dispose()"],
            cwd=self.dagster_home, env=self.env, capture_output=True, text=True,
            timeout=self.startup_timeout, stdin=subprocess.DEVNULL, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"the Dagster instance in {self.dagster_home} does not load:\n"
                               f"{done.stderr[-4000:]}")

    def _spawn(self, name: str, command: list[str]) -> None:
        log = (self.log_dir / f"{name}.log").open("wb")
        try:
            self._procs[name] = subprocess.Popen(
                command, cwd=self.dagster_home, env=self.env, stdin=subprocess.DEVNULL,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        finally:
            log.close()  # the child holds its own descriptor

    def _wait_for(self, predicate: Callable[[], Any], deadline: float, what: str) -> Any:
        while True:
            for name, proc in self._procs.items():
                if proc.poll() is not None:
                    raise RuntimeError(f"dagster {name} exited with {proc.returncode} while "
                                       f"waiting until {what}\n{self.logs()}")
            value = predicate()
            if value:
                return value
            if time.monotonic() >= deadline:
                raise TimeoutError(f"waited {self.startup_timeout:.0f} s until {what}\n"
                                   f"{self.logs()}")
            time.sleep(0.5)

    def _answers_server_info(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/server_info", timeout=5) as answer:
                return answer.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def _location_loaded(self) -> bool:
        data = self.graphql(_WORKSPACE_QUERY)["workspaceOrError"]
        if data["__typename"] != "Workspace":
            raise GraphQLError(f"workspaceOrError: {data}")
        entries = data["locationEntries"]
        if not entries or any(entry["loadStatus"] != "LOADED" for entry in entries):
            return False
        entry = entries[0]
        location = entry["locationOrLoadError"]
        if location is None:
            return False
        if location["__typename"] != "RepositoryLocation":
            raise RuntimeError(f"code location {entry['name']!r} failed to load: "
                               f"{location.get('message')}\n{''.join(location.get('stack', []))}")
        self.location_name = location["name"]
        self.repository_name = location["repositories"][0]["name"]
        return True

    def logs(self) -> str:
        """The tails of the server logs (for failure messages)."""
        return "\n".join(f"---- {path.name} ----\n{_tail(path)}"
                         for path in sorted(self.log_dir.glob("*.log")))

    # ---- GraphQL -----------------------------------------------------------------------
    def graphql(self, query: str, variables: Mapping[str, Any] | None = None, *,
                timeout: float = 60) -> dict[str, Any]:
        """POST ``query`` to ``/graphql``; return the answer's ``data``."""
        body = json.dumps({"query": query, "variables": dict(variables or {})}).encode()
        request = urllib.request.Request(f"{self.url}/graphql", data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as answer:
                payload = json.loads(answer.read())
        except urllib.error.HTTPError as error:  # 400 with a JSON body for invalid queries
            raw = error.read().decode(errors="replace")
            raise GraphQLError(f"HTTP {error.code}: {raw[:2000]}") from None
        if payload.get("errors"):
            raise GraphQLError(json.dumps(payload["errors"], indent=1)[:4000])
        return payload["data"]

    @property
    def repository_selector(self) -> dict[str, str]:
        """``{"repositoryLocationName": ..., "repositoryName": ...}`` of the loaded location."""
        if self.location_name is None or self.repository_name is None:
            raise RuntimeError("the server is not started")
        return {"repositoryLocationName": self.location_name,
                "repositoryName": self.repository_name}

    def daemon_statuses(self) -> dict[str, bool | None]:
        """``{daemon type: healthy}`` as the daemon's heartbeats tell (``SCHEDULER``,
        ``SENSOR``, ``QUEUED_RUN_COORDINATOR``, ``BACKFILL``, ``ASSET``, ...); required daemons
        only."""
        health = self.graphql(_DAEMONS_QUERY)["instance"]["daemonHealth"]
        return {d["daemonType"]: d["healthy"] for d in health["allDaemonStatuses"]
                if d["required"]}

    def wait_for_daemons(self, types: Iterable[str] | None = None,
                         timeout: float = 60) -> dict[str, bool | None]:
        """Wait (bounded) until the daemons of ``types`` (default: every required one) report
        healthy heartbeats; return the statuses."""
        wanted = set(types) if types is not None else None

        def healthy() -> dict[str, bool | None] | None:
            statuses = self.daemon_statuses()
            names = wanted if wanted is not None else set(statuses)
            return statuses if names and all(statuses.get(n) for n in names) else None

        return wait_until(healthy, timeout, interval=1, what=f"daemons {wanted or 'all'} healthy")

    def launch_assets(self, keys: Iterable[str | Sequence[str]], *,
                      checks: Iterable[tuple[str | Sequence[str], str]] | None = None,
                      job_name: str = "__ASSET_JOB", tags: Mapping[str, str] | None = None,
                      run_config: Mapping[str, Any] | None = None) -> str:
        """Launch a run materializing ``keys`` (``"pipeline/node"`` strings or key paths);
        return its run id. ``checks`` (``(asset key, check name)`` pairs) limits the asset
        checks run; by default every check of the selected assets runs, as in the UI."""
        selector: dict[str, Any] = {**self.repository_selector, "jobName": job_name,
                                    "assetSelection": [{"path": _key_path(k)} for k in keys]}
        if checks is not None:
            selector["assetCheckSelection"] = [
                {"assetKey": {"path": _key_path(key)}, "name": name} for key, name in checks]
        params: dict[str, Any] = {"selector": selector, "runConfigData": dict(run_config or {})}
        if tags:
            params["executionMetadata"] = {"tags": [{"key": k, "value": v}
                                                    for k, v in tags.items()]}
        result = self.graphql(_LAUNCH_MUTATION, {"params": params})["launchRun"]
        if result["__typename"] != "LaunchRunSuccess":
            raise GraphQLError(f"launchRun: {json.dumps(result, indent=1)[:4000]}")
        return result["run"]["runId"]

    def launch_job(self, job_name: str, *, tags: Mapping[str, str] | None = None,
                   run_config: Mapping[str, Any] | None = None) -> str:
        """Launch job ``job_name`` as a whole (no asset selection), as the UI's job page does;
        return the run id."""
        params: dict[str, Any] = {"selector": {**self.repository_selector, "jobName": job_name},
                                  "runConfigData": dict(run_config or {})}
        if tags:
            params["executionMetadata"] = {"tags": [{"key": k, "value": v}
                                                    for k, v in tags.items()]}
        result = self.graphql(_LAUNCH_MUTATION, {"params": params})["launchRun"]
        if result["__typename"] != "LaunchRunSuccess":
            raise GraphQLError(f"launchRun: {json.dumps(result, indent=1)[:4000]}")
        return result["run"]["runId"]

    def run_status(self, run_id: str) -> str:
        """The current status of a run (``QUEUED``, ``STARTED``, ``SUCCESS``, ...)."""
        result = self.graphql(_RUN_STATUS_QUERY, {"runId": run_id})["runOrError"]
        if result["__typename"] != "Run":
            raise GraphQLError(f"runOrError({run_id}): {result}")
        return result["status"]

    def wait_for_run(self, run_id: str, timeout: float = 120) -> str:
        """Wait (bounded) until the run ends; return its terminal status."""
        last: list[str] = []

        def ended() -> str | None:
            status = self.run_status(run_id)
            last[:] = [status]
            return status if status in TERMINAL_STATUSES else None

        try:
            return wait_until(ended, timeout, interval=0.5, what=f"run {run_id} ends")
        except TimeoutError:
            raise TimeoutError(f"run {run_id} still {last[-1] if last else '?'} after "
                               f"{timeout:.0f} s\n{self.logs()}") from None

    def runs(self, filter: Mapping[str, Any] | None = None,  # noqa: A002 - GraphQL's name
             limit: int = 50) -> list[dict[str, Any]]:
        """Runs matching a GraphQL ``RunsFilter``, newest first."""
        result = self.graphql(_RUNS_QUERY, {"filter": dict(filter or {}),
                                            "limit": limit})["runsOrError"]
        if result["__typename"] != "Runs":
            raise GraphQLError(f"runsOrError: {result}")
        return result["results"]

    def run_events(self, run_id: str, limit: int = 2000) -> list[dict[str, Any]]:
        """The event log of a run (``__typename``, ``message``, ``level``, ``stepKey``,
        ``error``)."""
        result = self.graphql(_EVENTS_QUERY, {"runId": run_id, "limit": limit})["logsForRun"]
        if result["__typename"] != "EventConnection":
            raise GraphQLError(f"logsForRun({run_id}): {result}")
        return result["events"]

    # ---- assets and checks ------------------------------------------------------------
    def asset_nodes(self) -> list[dict[str, Any]]:
        """Every asset definition of the workspace, flattened for assertions."""
        nodes = []
        for node in self.graphql(_ASSET_NODES_QUERY)["assetNodes"]:
            checks = node["assetChecksOrError"]
            nodes.append({
                "key": "/".join(node["assetKey"]["path"]),
                "group": node["groupName"],
                "kinds": node["kinds"],
                "dependencies": ["/".join(k["path"]) for k in node["dependencyKeys"]],
                "checks": {c["name"]: c["blocking"] for c in checks.get("checks", [])},
            })
        return nodes

    def latest_materialization(self, key: str | Sequence[str]) -> dict[str, Any] | None:
        """The asset's latest materialization: its run id and metadata (label -> value; ints,
        floats, text, markdown, paths, JSON strings, booleans)."""
        result = self.graphql(_MATERIALIZATION_QUERY, {"key": {"path": _key_path(key)}})
        asset = result["assetOrError"]
        if asset["__typename"] != "Asset" or not asset["assetMaterializations"]:
            return None
        event = asset["assetMaterializations"][0]
        metadata = {}
        for entry in event["metadataEntries"]:
            values = [v for k, v in entry.items() if k not in ("label", "__typename")]
            metadata[entry["label"]] = values[0] if values else entry["__typename"]
        return {"runId": event["runId"], "metadata": metadata}

    def latest_check_executions(self, key: str | Sequence[str]) -> dict[str, dict[str, Any]]:
        """The asset's checks and how each went for its latest materialization."""
        result = self.graphql(_CHECKS_QUERY, {"key": {"path": _key_path(key)}})
        node = result["assetNodeOrError"]
        if node["__typename"] != "AssetNode":
            raise GraphQLError(f"assetNodeOrError({key}): {node}")
        executions = {}
        for check in node["assetChecksOrError"].get("checks", []):
            run = check["executionForLatestMaterialization"]
            evaluation = (run or {}).get("evaluation") or {}
            executions[check["name"]] = {
                "status": run["status"] if run else None, "runId": run["runId"] if run else None,
                "passed": evaluation.get("success"), "severity": evaluation.get("severity")}
        return executions

    def run_failure(self, run_id: str) -> str:
        """Why a run failed, as text: its error events and the server logs' tails."""
        lines = []
        try:
            for event in self.run_events(run_id):
                if event.get("level") == "ERROR" or event.get("error"):
                    lines.append(f"{event['__typename']} {event.get('stepKey') or ''}: "
                                 f"{event.get('message')}")
                    if event.get("error"):
                        lines.append(event["error"]["message"])
                        lines.extend(event["error"]["stack"][-8:])
        except GraphQLError as error:
            lines.append(f"(events unavailable: {error})")
        return "\n".join(lines) + "\n" + self.logs()


_WORKSPACE_QUERY = """
query Workspace {
  workspaceOrError {
    __typename
    ... on Workspace {
      locationEntries {
        name
        loadStatus
        locationOrLoadError {
          __typename
          ... on RepositoryLocation { name repositories { name } }
          ... on PythonError { message stack }
        }
      }
    }
    ... on PythonError { message }
  }
}
"""

_DAEMONS_QUERY = """
query Daemons {
  instance { daemonHealth { allDaemonStatuses { daemonType required healthy } } }
}
"""

_LAUNCH_MUTATION = """
mutation Launch($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId status } }
    ... on Error { message }
    ... on PythonError { stack }
    ... on RunConfigValidationInvalid { errors { message reason } }
  }
}
"""

_RUN_STATUS_QUERY = """
query RunStatus($runId: ID!) {
  runOrError(runId: $runId) {
    __typename
    ... on Run { runId status }
    ... on Error { message }
  }
}
"""

_RUNS_QUERY = """
query Runs($filter: RunsFilter, $limit: Int) {
  runsOrError(filter: $filter, limit: $limit) {
    __typename
    ... on Runs {
      results {
        runId status jobName creationTime startTime endTime
        tags { key value }
        assetSelection { path }
      }
    }
    ... on Error { message }
  }
}
"""

_ASSET_NODES_QUERY = """
query AssetNodes {
  assetNodes {
    assetKey { path }
    groupName
    kinds
    dependencyKeys { path }
    assetChecksOrError { ... on AssetChecks { checks { name blocking } } }
  }
}
"""

_MATERIALIZATION_QUERY = """
query LatestMaterialization($key: AssetKeyInput!) {
  assetOrError(assetKey: $key) {
    __typename
    ... on Asset {
      assetMaterializations(limit: 1) {
        runId
        metadataEntries {
          __typename
          label
          ... on IntMetadataEntry { intValue }
          ... on FloatMetadataEntry { floatValue }
          ... on TextMetadataEntry { text }
          ... on MarkdownMetadataEntry { mdStr }
          ... on PathMetadataEntry { path }
          ... on JsonMetadataEntry { jsonString }
          ... on BoolMetadataEntry { boolValue }
        }
      }
    }
  }
}
"""

_CHECKS_QUERY = """
query Checks($key: AssetKeyInput!) {
  assetNodeOrError(assetKey: $key) {
    __typename
    ... on AssetNode {
      assetChecksOrError {
        ... on AssetChecks {
          checks {
            name
            executionForLatestMaterialization {
              runId status evaluation { success severity }
            }
          }
        }
      }
    }
  }
}
"""

_EVENTS_QUERY = """
query Events($runId: ID!, $limit: Int) {
  logsForRun(runId: $runId, limit: $limit) {
    __typename
    ... on EventConnection {
      events {
        __typename
        ... on MessageEvent { message level stepKey }
        ... on ErrorEvent { error { message stack } }
      }
    }
    ... on Error { message }
  }
}
"""
