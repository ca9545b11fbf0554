"""Run records under the project's ``system`` store, and the story each pipeline run publishes.

Every node, in whichever process it runs, records its :class:`NodeResult` under
``<system>/runs/<run_id>/<pipeline>/<node>.json`` and then re-publishes its pipeline's story from
all the records of that run so far (with the pipeline's graph, secrets and private values masked,
retention applied; :func:`refresh_story` spaces out the re-publishing of a long run's successful
nodes). A file lock per run serialises publishing between processes.

The story ends inside the run, whoever launched it (``odibi run``, the Dagster UI over GraphQL, a
schedule, ``dagster job execute``, ``dagster asset materialize``): when a node's record settles its
pipeline's part of the run — each node the run executes has a final record (not one a retry will
replace) or can never run (it is downstream, within the run, of a node that failed for good) —
the story is published final: nodes never run are "skipped", the status is success or failed and
``finished_at`` is set (:func:`settled_pipelines`).
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from odibi_core.connections import build_connection
from odibi_core.errors import ConfigError, ConfigProblem
from odibi_core.exactly_once.rollback import TargetRollback
from odibi_core.file_lock import exclusive_lock
from odibi_core.results import NodeResult, iso_utc
from odibi_core.storage.redaction import is_secret_option
from odibi_core.story import RunStory, parse_timestamp, status_from_nodes, write_story
from odibi_core.story.redact import MIN_SECRET_LENGTH, NodePrivacy, redact_story

__all__ = ["RunMeta", "RunRecords", "never_run", "pipeline_edges", "publish_story",
           "refresh_story", "secret_values", "settled_pipelines", "story_root", "story_secrets",
           "system_root"]

DEFAULT_STATE_DIR = ".odibi"


@dataclass(frozen=True)
class RunMeta:
    """What is known of a run before any node finishes."""

    run_id: str
    project: str
    started_at: str
    environment: str | None = None
    engine: str = "pandas"
    parent_run_id: str | None = None
    dry_run: bool = False
    # What started the run when not a person: {"by": "schedule daily_schedule"} or
    # {"by": "sensor ingest_files_sensor", "files": [...]}; the story shows it.
    trigger: dict[str, Any] | None = None


def _local_root(project: Any, block: Any, default: str, what: str) -> Path:
    if block is None or getattr(block, "connection", None) is None:
        base = project.root / DEFAULT_STATE_DIR / default
        path = getattr(block, "path", None) if block is not None else None
        return (project.root / path).resolve() if path else base

    name = block.connection
    location = build_connection(name, project.config.connections[name], project.root).resolve(
        block.path or default)
    if not location.is_local:
        raise ConfigError(ConfigProblem(
            message=f"The {what} store must be on a local connection for now; "
                    f"'{name}' is {location.display}.",
            file=project.file, key_path=f"{what}.connection",
            fix=f"Point `{what}.connection` at a local connection.",
        ))
    return Path(location.uri)


def system_root(project: Any) -> Path:
    """Folder of the ``system`` store (run records, later HWMs and the write ledger)."""
    return _local_root(project, project.config.system, "system", "system")


def story_root(project: Any) -> Path:
    """Folder stories are written under: ``<root>/<pipeline>/<date>/run_<time>.*``."""
    return _local_root(project, project.config.story, "stories", "story")


def _write_json_atomic(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2, default=str)
    os.replace(tmp, path)


# Locks on run records this thread holds (path -> depth): RunRecords.lock is re-entrant, so that
# a story can be published (which locks) while the caller holds the lock.
_HELD = threading.local()

# Beside the records: a marker per node whose latest attempt failed for good, and per node whose
# latest attempt failed and will be retried (the record a later attempt replaces).
_OUTCOMES = ".outcomes"
_FAILED = ".failed"
_RETRYING = ".retrying"


class RunRecords:
    """The per-run records of node results, shared by every process of a run."""

    def __init__(self, root: Path) -> None:
        self.root = root / "runs"

    def run_dir(self, run_id: str) -> Path:
        return self.root / run_id

    def start(self, meta: RunMeta) -> RunMeta:
        """Record the run's start once; later callers get the first caller's record."""
        path = self.run_dir(meta.run_id) / "run.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            return self.meta(meta.run_id) or meta
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(asdict(meta), handle, indent=2)
        return meta

    def meta(self, run_id: str) -> RunMeta | None:
        path = self.run_dir(run_id) / "run.json"
        try:
            return RunMeta(**json.loads(path.read_text(encoding="utf-8")))
        except (FileNotFoundError, json.JSONDecodeError):
            return None

    def record(self, run_id: str, result: NodeResult) -> None:
        """Record ``result`` (replacing an earlier attempt's record of the node).

        The failed-for-good or retrying marker is written before the record and the retrying
        one removed after it: whoever sees the record also sees that it is not final.
        """
        outcomes = self.run_dir(run_id) / _OUTCOMES
        retrying = outcomes / (result.key + _RETRYING)
        if result.retry_pending:
            _touch(retrying)
        elif result.status == "failed":
            _touch(outcomes / (result.key + _FAILED))
        _write_json_atomic(self.run_dir(run_id) / result.pipeline / f"{result.node}.json",
                           result.to_dict())
        if not result.retry_pending:
            retrying.unlink(missing_ok=True)

    def unsettled(self, run_id: str) -> tuple[set[str], set[str]]:
        """``pipeline.node`` keys of the nodes that failed for good in ``run_id``, and of those
        whose latest attempt failed and will be retried."""
        failed: set[str] = set()
        retrying: set[str] = set()
        try:
            entries = os.scandir(self.run_dir(run_id) / _OUTCOMES)
        except FileNotFoundError:
            return failed, retrying
        with entries:
            for entry in entries:
                if entry.name.endswith(_FAILED):
                    failed.add(entry.name[:-len(_FAILED)])
                elif entry.name.endswith(_RETRYING):
                    retrying.add(entry.name[:-len(_RETRYING)])
        return failed, retrying

    def recorded_nodes(self, run_id: str, pipeline: str) -> set[str]:
        """Names of the nodes of ``pipeline`` with a record in ``run_id`` (none is read)."""
        try:
            entries = os.scandir(self.run_dir(run_id) / pipeline)
        except FileNotFoundError:
            return set()
        with entries:
            return {e.name[:-5] for e in entries
                    if e.name.endswith(".json") and not e.name.startswith(".")}

    def results(self, run_id: str, pipeline: str) -> list[NodeResult]:
        folder = self.run_dir(run_id) / pipeline
        if not folder.is_dir():
            return []
        found = [NodeResult.from_dict(json.loads(p.read_text(encoding="utf-8")))
                 for p in folder.glob("*.json")]
        return sorted(found, key=lambda r: r.started_at)

    @contextmanager
    def lock(self, run_id: str) -> Iterator[None]:
        """The run's lock between processes; re-entrant within a thread."""
        path = str(self.run_dir(run_id) / ".lock")
        held: dict[str, int] = _HELD.__dict__.setdefault("depth", {})
        if held.get(path):
            held[path] += 1
            try:
                yield
            finally:
                held[path] -= 1
            return
        with exclusive_lock(Path(path)):
            held[path] = 1
            try:
                yield
            finally:
                del held[path]

    # ---- batch identities (SPEC §7) ---------------------------------------------------------
    def record_batch(self, run_id: str, node_key: str, batch: dict[str, Any]) -> None:
        """Record the batch node ``node_key`` processed in run ``run_id``."""
        _write_json_atomic(self.run_dir(run_id) / "batches" / f"{node_key}.json", batch)

    def batch_of(self, run_id: str, node_key: str) -> dict[str, Any] | None:
        """The batch ``node_key`` processed in ``run_id`` or, when that run did not run it (a
        resumed run reuses its parent's outputs), in the nearest ancestor run that did."""
        seen: set[str] = set()
        current: str | None = run_id
        while current is not None and current not in seen:
            seen.add(current)
            path = self.run_dir(current) / "batches" / f"{node_key}.json"
            try:
                return json.loads(path.read_text(encoding="utf-8"))
            except (FileNotFoundError, json.JSONDecodeError):
                meta = self.meta(current)
                current = meta.parent_run_id if meta is not None else None
        return None


def publish_story(project: Any, records: RunRecords, run_id: str, pipeline: str, *,
                  expected: Sequence[str] = (), final: bool = False) -> Any:
    """(Re)write the story of ``pipeline`` in run ``run_id`` from the records so far.

    Args:
        expected: node names of this pipeline the run selected; those without a record are
            "running" until ``final``, then "skipped" (an upstream failure stopped them).
        final: the run has ended.

    Returns:
        The :class:`~odibi_core.story.writer.StoryPaths` written.
    """
    meta = records.meta(run_id)
    if meta is None:
        raise RuntimeError(f"Run {run_id} has no run record; call RunRecords.start first.")
    with records.lock(run_id):
        results = records.results(run_id, pipeline)
        done = {r.node for r in results}
        pending = [name for name in expected if name not in done]
        if final:
            results += [NodeResult(pipeline=pipeline, node=name, status="skipped",
                                   started_at=meta.started_at, duration_seconds=0.0,
                                   engine=meta.engine,
                                   skipped_reason="not run: an upstream node failed")
                        for name in pending]
        status = status_from_nodes(results)
        if status == "success" and pending and not final:
            status = "running"
        ended = [r for r in results if r.status != "skipped"]
        finished_at = max((_end_of(r) for r in ended), default=None) if status != "running" \
            else None
        story = RunStory(
            project=meta.project, pipeline=pipeline, run_id=run_id,
            environment=meta.environment, engine=meta.engine, started_at=meta.started_at,
            finished_at=finished_at, status=status, nodes=tuple(results),
            parent_run_id=meta.parent_run_id, dry_run=meta.dry_run,
            edges=pipeline_edges(project, pipeline),
            extra={**({"trigger": meta.trigger} if meta.trigger else {}),
                   **_rollback_extra(records.run_dir(run_id) / "rollback.json", pipeline)},
        )
        story = redact_story(story, secrets=secret_values(project),
                             privacy=_privacy_rules(project, results))
        config = project.config.story
        return write_story(story, story_root(project),
                           retention_days=getattr(config, "retention_days", None),
                           retention_runs=getattr(config, "retention_runs", None))


@dataclass
class _Published:
    """The last story of a (run, pipeline) this process wrote in :func:`refresh_story`."""

    paths: Any  # StoryPaths
    at: float  # time.monotonic() when it was written
    cost: float  # seconds writing it took


#: The shortest time between two re-publishings of a story for successful nodes. A story of n
#: nodes costs O(n) to render and write; after every node that is O(n²) per run.
STORY_REFRESH_SECONDS = 3.0
_REFRESH_COST_FACTOR = 10  # ... and never more often than 10 times what the last one cost
_PUBLISHED: dict[tuple[str, str], _Published] = {}
_FAILED_RUNS: set[str] = set()  # runs in which a node of this process did not succeed
_REMEMBERED = 512  # (run, pipeline) pairs kept; the oldest are forgotten


def refresh_story(project: Any, records: RunRecords, run_id: str, result: NodeResult, *,
                  expected: Mapping[str, Sequence[str]],
                  to_run: Mapping[str, Sequence[str]] | None = None) -> Any:
    """The story of ``result``'s pipeline once ``result`` is recorded: re-published
    (:func:`publish_story`) when it must be, else where this process last wrote it.

    Args:
        expected: by pipeline, the node names the run selected.
        to_run: by pipeline, those whose steps the run executes (a re-execution from failure
            runs only some); default ``expected``.

    A pipeline that ``result`` settles (:func:`settled_pipelines`): its own, or one whose
    remaining nodes can never run because ``result`` failed for good, gets its final story here
    (the nodes of ``to_run`` never run are "skipped"). Otherwise the story is written for the
    first node of the pipeline this process records in the run, for a node that did not succeed
    and every node after one (of any pipeline of the run), for the node that completes
    ``to_run``, and otherwise when the last one is older than :data:`STORY_REFRESH_SECONDS` (or
    ten times its own cost). In between, a story may lag by those few seconds (and so may the
    story of a run killed mid-way; the run-end sensors end that one). In another process (a
    multiprocess run's step) nothing is known yet: it always publishes.
    """
    key = (run_id, result.pipeline)
    last = _PUBLISHED.get(key)
    if result.status != "success":
        _FAILED_RUNS.add(run_id)
    part = expected if to_run is None else to_run
    own = part.get(result.pipeline, expected.get(result.pipeline, ()))
    with records.lock(run_id):
        affected = {result.pipeline}
        if result.status == "failed" and not result.retry_pending:
            affected |= {k.split(".", 1)[0] for k in never_run(project, part, {result.key})}
        settled = settled_pipelines(project, records, run_id, part) & affected
        final = {}
        for pipeline in sorted(settled):
            started = time.monotonic()
            final[pipeline] = publish_story(project, records, run_id, pipeline,
                                            expected=part[pipeline], final=True)
            ended = time.monotonic()
            _remember((run_id, pipeline), _Published(final[pipeline], at=ended,
                                                     cost=ended - started))
    if result.pipeline in final:
        return final[result.pipeline]
    due = (last is None or run_id in _FAILED_RUNS
           or time.monotonic() - last.at >= max(STORY_REFRESH_SECONDS,
                                               _REFRESH_COST_FACTOR * last.cost)
           or set(own) <= records.recorded_nodes(run_id, result.pipeline))
    if not due:
        assert last is not None
        return last.paths
    started = time.monotonic()
    paths = publish_story(project, records, run_id, result.pipeline,
                          expected=expected.get(result.pipeline, ()))
    ended = time.monotonic()
    _remember(key, _Published(paths, at=ended, cost=ended - started))
    return paths


def never_run(project: Any, selection: Mapping[str, Sequence[str]],
              failed: set[str]) -> set[str]:
    """``pipeline.node`` keys of the nodes of ``selection`` (node names by pipeline) that can
    never run once the nodes ``failed`` failed: downstream of one of them through nodes of the
    selection (a node outside it is read from its target, not run)."""
    selected = {f"{pipeline}.{name}" for pipeline, names in selection.items() for name in names}
    found: set[str] = set()
    todo = [key for key in failed if key in project.graph.nodes]
    while todo:
        for child in project.graph.downstream(todo.pop()):
            if child in selected and child not in found:
                found.add(child)
                todo.append(child)
    return found


def settled_pipelines(project: Any, records: RunRecords, run_id: str,
                      selection: Mapping[str, Sequence[str]]) -> set[str]:
    """The pipelines of ``selection`` (node names by pipeline: what the run executes) whose
    every node has a final record in ``run_id`` or can never run (:func:`never_run`): their
    stories can be final. Reads directory listings only, not the records."""
    failed, retrying = records.unsettled(run_id)
    lost = never_run(project, selection, failed) if failed else set()
    settled: set[str] = set()
    for pipeline, names in selection.items():
        if not names:
            continue
        done = records.recorded_nodes(run_id, pipeline)
        if all((name in done and f"{pipeline}.{name}" not in retrying)
               or f"{pipeline}.{name}" in lost for name in names):
            settled.add(pipeline)
    return settled


def _remember(key: tuple[str, str], published: _Published) -> None:
    _PUBLISHED.pop(key, None)
    _PUBLISHED[key] = published
    while len(_PUBLISHED) > _REMEMBERED:
        forgotten = next(iter(_PUBLISHED))
        del _PUBLISHED[forgotten]
        if not any(run == forgotten[0] for run, _ in _PUBLISHED):
            _FAILED_RUNS.discard(forgotten[0])


def redact_result(project: Any, result: NodeResult) -> NodeResult:
    """``result`` as run records and Dagster metadata may keep it: the story's masking
    (secrets, private contract samples, credential-named columns) applied to one node."""
    story = RunStory(project=project.config.project, pipeline=result.pipeline, run_id="",
                     environment=project.env, engine=result.engine,
                     started_at=result.started_at, finished_at=None, status="running",
                     nodes=(result,))
    masked = redact_story(story, secrets=secret_values(project),
                          privacy=_privacy_rules(project, [result]))
    return masked.nodes[0]


def pipeline_edges(project: Any, pipeline: str) -> tuple[tuple[str, str], ...]:
    """Every edge into a node of ``pipeline`` as (upstream key, node key), in declaration order;
    upstream nodes of other pipelines included."""
    graph = project.graph
    edges = [(edge.key, key) for key, ref in graph.nodes.items() if ref.pipeline == pipeline
             for edge in graph.upstream(key)]
    return tuple(dict.fromkeys(edges))


def secret_values(project: Any) -> set[str]:
    """Values no story may show: every credential of the project's connections (the values of
    secret-looking keys and ``Authorization`` headers, passwords in URLs; ``${ENV}`` already
    substituted) and the values of environment variables named like a secret (``*_KEY``,
    ``*_TOKEN``, ``*_PASSWORD``, ...)."""
    found: set[str] = set()

    def walk(value: Any, key: str) -> None:
        if isinstance(value, dict):
            for name, item in value.items():
                walk(item, str(name))
        elif isinstance(value, (list, tuple)):
            for item in value:
                walk(item, key)
        elif isinstance(value, str) and key != "mode" and (
                is_secret_option(key) or key.lower() in ("authorization", "cookie")):
            found.add(value)
        elif isinstance(value, str) and "://" in value:  # a URL's password (sql url)
            password = urlsplit(value).password
            if password:
                found.update((password, unquote(password)))

    for name, connection in project.config.connections.items():
        walk(connection.model_dump(by_alias=True), name)
        found.update(_derived_secrets(project, name, connection))
    found.update(value for name, value in os.environ.items()
                 if is_secret_option(name) and len(value) >= _MIN_ENV_SECRET)
    return found


_MIN_ENV_SECRET = 8  # shorter values of secret-named variables are flags, not secrets


def story_secrets(project: Any) -> tuple[str, ...]:
    """:func:`secret_values` as the story masks them (values shorter than 4 characters would
    mask ordinary text), for other texts that must be masked the same way."""
    return tuple(s for s in secret_values(project) if len(s) >= MIN_SECRET_LENGTH)


def _derived_secrets(project: Any, name: str, config: Any) -> tuple[str, ...]:
    """Secrets a connection derives from its settings (a basic-auth header value, an encoded
    password): the runtime connection knows them."""
    try:
        return tuple(build_connection(name, config, project.root).secret_values())
    except ConfigError:  # a type this version cannot build: its settings were walked above
        return ()


def _privacy_rules(project: Any, results: Sequence[NodeResult]) -> dict[str, Any]:
    """The ``privacy`` block of each node of ``results`` that has one (see ``redact_story``)."""
    rules: dict[str, Any] = {}
    for result in results:
        try:
            config = project.graph.node(result.key).config
        except KeyError:
            continue
        if config.privacy is None:
            continue
        contract_columns: dict[int, tuple[str, ...]] = {}
        for index, test in enumerate(config.contracts or ()):
            columns = getattr(test, "columns", None) or getattr(test, "column", None)
            if isinstance(columns, str):
                contract_columns[index] = (columns,)
            elif columns:
                contract_columns[index] = tuple(columns)
        rules[result.node] = NodePrivacy(frozenset(config.privacy.columns), contract_columns)
    return rules


def _rollback_extra(path: Path, pipeline: str) -> dict[str, Any]:
    """The run's rollback (see ``odibi_core.exactly_once.rollback``), this pipeline's part."""
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}

    targets = [TargetRollback(**t) for t in report["targets"]
               if t["node"].split(".", 1)[0] == pipeline]
    if not targets:
        return {}
    complete = all(t.outcome != "not_restorable" for t in targets)
    return {"rollback": {"complete": complete, "targets": [t.describe() for t in targets]}}


def _touch(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch()


def _end_of(result: NodeResult) -> str:
    from datetime import timedelta


    return iso_utc(parse_timestamp(result.started_at)
                   + timedelta(seconds=result.duration_seconds))
