"""Memory profile of scenario 1 (ingest -> validate + quarantine -> Delta append) through odibi's
``NodeRunner``, per lifecycle phase. Run by ``benchmarks/run.py``; prints one JSON line.

    .venv/bin/python benchmarks/memprofile.py PROJECT_DIR --rss          # RSS per phase
    .venv/bin/python benchmarks/memprofile.py PROJECT_DIR --tracemalloc  # Python allocations
    .venv/bin/python benchmarks/memprofile.py PROJECT_DIR --memray       # memray (native too)

Phases are the node runner's own (``read``, ``transform``, ``validate``, ``quarantine``,
``write``, as ``NodeResult.timings`` names them), plus the steps it does not time: ``collect``
(``engine.collect`` after the transform: where a lazy engine computes the frame), ``batch`` (the
batch identity of the write) and ``result`` (row counts, schema and sample rows of the result).
They are observed by wrapping ``odibi_core.node._Trace.timed`` and those methods in this process
(odibi itself is not changed).

Each mode is its own process (run.py runs all three), so that one profiler's overhead does not
show in another's figures; the libraries the node uses are imported before it runs.

``--rss``, per phase: seconds, the resident set at the start and its peak during the phase (a
thread reads ``/proc/self/statm`` every 10 ms), and Arrow's allocated bytes at the end
(``pyarrow.total_allocated_bytes``). ``--tracemalloc``, per phase: the peak of the traced
memory (Python objects and numpy buffers, so pandas data; Arrow's and polars' own allocators are
not traced), and the biggest allocations: the lines that grew most during a phase and were
still alive at its end, named by the allocating line and the odibi line that led to it.

``--memray`` instead runs the node under ``memray.Tracker(native_traces=True)`` (memray is
installed on demand by run.py, without dependencies, into ``benchmarks/.venvs/memray``) and names
the largest allocations alive at the high-water mark, native ones (polars, Arrow) included.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import tracemalloc
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
MEMRAY_DIR = HERE / ".venvs" / "memray"
PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_mb() -> float:
    with open("/proc/self/statm", "rb") as handle:
        return int(handle.read().split()[1]) * PAGE / 2**20


class Sampler(threading.Thread):
    """The peak resident set since the last ``reset``."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak = rss_mb()
        self.overall = self.peak
        self._halt = threading.Event()

    def reset(self) -> float:
        now = rss_mb()
        self.peak = now
        return now

    def run(self) -> None:
        while not self._halt.is_set():
            value = rss_mb()
            self.peak = max(self.peak, value)
            self.overall = max(self.overall, value)
            self._halt.wait(0.01)

    def stop(self) -> None:
        self._halt.set()
        self.join()


def _where(trace) -> str:
    """The allocating line, and the odibi line that led to it."""
    frames = list(trace)  # most recent call first
    first = frames[0]
    text = f"{_short(first.filename)}:{first.lineno}"
    for frame in frames:
        if "odibi_core" in frame.filename and frame is not first:
            return f"{text} (from {_short(frame.filename)}:{frame.lineno})"
    return text


def _short(path: str) -> str:
    for marker in ("site-packages/", "/work/main/", "lib/python3"):
        if marker in path:
            return path.split(marker, 1)[1]
    return path


WARM = ("pyarrow", "pyarrow.dataset", "pyarrow.parquet", "pyarrow.compute", "deltalake",
        "duckdb", "polars", "pandas", "numpy")


def _node(project_dir: Path):
    """Project, runner and the node's key, with the libraries it uses already imported (a
    long-running process has them; their import is not what a phase costs)."""
    import importlib

    for name in WARM:
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    from odibi_core.config import load_project
    from odibi_core.engines import engine_for_project
    from odibi_core.node import NodeRunner

    project = load_project(project_dir)
    engine = engine_for_project(project.config)
    runner = NodeRunner(project, engine)
    return project, engine, runner, project.graph.topological_order()[0]


def _instrument(engine, runner, measured) -> object:
    """Route every phase through ``measured(name, call)``; returns an undo function."""
    from odibi_core.node import _Trace

    original_timed = _Trace.timed
    _Trace.timed = lambda self, phase, call: original_timed(
        self, phase, lambda: measured(phase, call))
    collect, result, batch = engine.collect, runner._result, runner._batch_identity
    engine.collect = lambda frame: measured("collect", lambda: collect(frame))
    runner._result = lambda *a, **k: measured("result", lambda: result(*a, **k))
    runner._batch_identity = lambda *a, **k: measured("batch", lambda: batch(*a, **k))

    def undo() -> None:
        _Trace.timed = original_timed
    return undo


def profile(project_dir: Path) -> dict:
    """Per phase: seconds, RSS at the start and at its peak, Arrow's allocated bytes."""
    import pyarrow as pa

    from odibi_core.node import RunContext

    project, engine, runner, key = _node(project_dir)
    sampler = Sampler()
    sampler.start()
    baseline = rss_mb()
    phases: list[dict] = []

    def measured(name: str, call):
        start_rss = sampler.reset()
        clock = time.perf_counter()
        try:
            return call()
        finally:
            phases.append({"phase": name, "seconds": time.perf_counter() - clock,
                           "rss_start_mb": start_rss, "rss_peak_mb": max(sampler.peak,
                                                                         start_rss),
                           "arrow_mb": pa.total_allocated_bytes() / 2**20})

    undo = _instrument(engine, runner, measured)
    run = runner.run(key, inputs={}, context=RunContext(run_id=uuid.uuid4().hex))
    undo()
    sampler.stop()
    if not run.succeeded:
        raise RuntimeError(f"{key} failed: {run.exception}")
    return {"node": key, "engine": engine.name, "rows_out": run.result.rows_out,
            "baseline_rss_mb": baseline, "peak_rss_mb": sampler.overall, "phases": phases}


def profile_tracemalloc(project_dir: Path) -> dict:
    """Per phase: the peak of traced memory; the lines whose allocations grew most."""
    from odibi_core.node import RunContext

    project, engine, runner, key = _node(project_dir)
    tracemalloc.start(25)
    phases: list[dict] = []
    top: list[dict] = []
    state = {"snapshot": tracemalloc.take_snapshot()}

    def measured(name: str, call):
        tracemalloc.reset_peak()
        try:
            return call()
        finally:
            traced_peak = tracemalloc.get_traced_memory()[1]
            snapshot = tracemalloc.take_snapshot()
            grown = snapshot.compare_to(state["snapshot"], "traceback")
            state["snapshot"] = snapshot
            for stat in grown[:3]:
                if stat.size_diff > 1 << 20:
                    top.append({"phase": name, "mb": stat.size_diff / 2**20,
                                "where": _where(stat.traceback)})
            phases.append({"phase": name, "traced_peak_mb": traced_peak / 2**20})

    undo = _instrument(engine, runner, measured)
    run = runner.run(key, inputs={}, context=RunContext(run_id=uuid.uuid4().hex))
    undo()
    if not run.succeeded:
        raise RuntimeError(f"{key} failed: {run.exception}")
    top.sort(key=lambda item: -item["mb"])
    return {"traced_phases": phases, "traced_peak_mb": max(p["traced_peak_mb"] for p in phases),
            "top": top[:10]}


_INTERNAL = ("rjem", "malloc", "calloc", "realloc", "memalign", "je_", "pac_", "arena", "base_",
             "extent", "ecache", "pages_map", "PyDataMem", "PyMem", "PyObject_Malloc",
             "default_", "mi_", "_mi", "operator new", "Allocate", "Reallocate", "allocate",
             "reserve", "grow", "RawVec", "alloc::", "std::", "<unknown>", "start_thread",
             "clone", "tsd_", "tcache", "rayon_core", "thread_local", "lifecycle", "backtrace",
             "core::", "rallocx", "thread_start")


def _allocator_internal(name: str) -> bool:
    text = _demangle(name)
    return any(marker in text for marker in _INTERNAL) or not text.strip()


def _demangle(name: str) -> str:
    """A readable path from a Rust (v0) or C++ mangled symbol: its identifiers joined by
    ``::`` (crate hashes and generic arguments dropped)."""
    import re

    if not name.startswith(("_R", "_Z")):
        return name
    parts, i = [], 0
    body = name[2:]
    while i < len(body):
        match = re.match(r"(\d+)", body[i:])
        if not match:
            i += 1
            continue
        length = int(match.group(1))
        start = i + len(match.group(1))
        if start < len(body) and body[start] == "_":  # v0: a "_" separates digits from text
            start += 1
        ident = body[start:start + length]
        if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", ident or "") and len(ident) == length:
            parts.append(ident)
            i = start + length
        else:
            i += len(match.group(1))
    kept = [p for p in parts if re.fullmatch(r"[a-z][a-z_]*[a-z]|(?:[A-Z][a-z]+)+", p)]
    return "::".join(kept[:6]) or name



def profile_memray(project_dir: Path) -> dict:
    sys.path.insert(0, str(MEMRAY_DIR))
    import tempfile

    from memray import FileReader, Tracker

    from odibi_core.node import RunContext

    project, engine, runner, key = _node(project_dir)
    capture = Path(tempfile.mkdtemp()) / "memray.bin"
    with Tracker(str(capture), native_traces=True):
        run = runner.run(key, inputs={}, context=RunContext(run_id=uuid.uuid4().hex))
    if not run.succeeded:
        raise RuntimeError(f"{key} failed: {run.exception}")
    reader = FileReader(str(capture))
    records = sorted(reader.get_high_watermark_allocation_records(merge_threads=True),
                     key=lambda r: -r.size)
    named = []
    for record in records[:10]:
        native = next((_demangle(f[0]) for f in record.native_stack_trace(max_stacks=60)
                       if not _allocator_internal(f[0])), "?")
        python = list(record.stack_trace(max_stacks=40))
        odibi = next((f for f in python if "odibi_core" in str(f[1])), None)
        inner = python[0] if python else None
        where = f"{native}"
        if inner is not None:
            where += f" <- {inner[0]} ({_short(str(inner[1]))}:{inner[2]})"
        if odibi is not None and odibi is not inner:
            where += f" <- {odibi[0]} ({_short(str(odibi[1]))}:{odibi[2]})"
        if inner is None:
            where += " (a worker thread: no Python frame)"
        named.append(f"{record.size / 2**20:.1f} MB in {record.n_allocations} allocation(s): "
                     f"{where}")
    peak = reader.metadata.peak_memory / 2**20
    capture.unlink(missing_ok=True)
    return {"memray_peak_mb": peak, "memray": named}


def main(argv: list[str]) -> int:
    project_dir = Path(argv[0])
    mode = argv[1] if len(argv) > 1 else "--rss"
    report = {"--rss": profile, "--tracemalloc": profile_tracemalloc,
              "--memray": profile_memray}[mode](project_dir)
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
