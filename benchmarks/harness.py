"""The one benchmark harness: measuring a subprocess, running an odibi project in a child
process, and checking outputs. Used by ``run.py`` (the load suite) and ``engine_bench.py``.

- :func:`measure` runs a command as a fresh subprocess and returns its wall time, the peak
  resident set of its whole process tree (sampled from ``/proc`` every 50 ms, or the largest
  single process's ``ru_maxrss`` when that is larger), its CPU time and the share of the
  machine's CPU that *other* processes used meanwhile.
- ``python benchmarks/harness.py odibi PROJECT_DIR`` (:func:`child_odibi`) runs every node of an
  odibi project in topological order through ``odibi_core.node.NodeRunner`` (no Dagster) and
  prints a JSON report (setup time, per-node phase times).
- ``python benchmarks/harness.py verify SPEC.json`` (:func:`child_verify`) reads each output
  named in the spec and prints its fingerprint: rows, the compared columns and an
  order-independent checksum of their values (numbers rounded to cents, instants as UTC
  wall-clock text, dates as ``YYYY-MM-DD``), plus an order-dependent digest where order matters.
  Outputs are compared with ``==`` on these fingerprints before any time is reported.

Run in a separate interpreter so that a contender's memory never includes the harness's.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
HARNESS = Path(__file__).resolve()


# --- measuring a subprocess ----------------------------------------------------------------------


def measure(command: list[str], *, timeout: float, env: dict | None = None,
            log: Path | None = None, cwd: Path | None = None,
            max_rss_mb: float | None = None) -> dict:
    """Run ``command``; wall seconds, peak tree RSS (MiB), CPU, exit code and the last JSON
    line of its stdout (``report``). With ``max_rss_mb`` the process tree is killed as soon
    as its resident set exceeds it (``over_memory`` in the result): on a shared machine a
    contender that does not fit must not bring the kernel's OOM killer onto other work."""
    out = tempfile.TemporaryFile()
    err = open(log, "wb") if log else tempfile.TemporaryFile()
    # Linux's ru_maxrss of a child carries over the resident size of the parent it was forked
    # from (until exec): a high-water mark no larger than ours says nothing about the child.
    parent_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    busy_before = busy_cpu_seconds()
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=out, stderr=err, env=env, cwd=cwd or ROOT)
    sampler = TreeSampler(process.pid)
    sampler.start()
    deadline = start + timeout
    status, usage = 0, None
    over_memory = False
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        over_memory = max_rss_mb is not None and sampler.peak_mb > max_rss_mb
        if time.perf_counter() > deadline or over_memory:
            kill_tree(process.pid)
            pid, status, usage = os.wait4(process.pid, 0)
            status = -9
            break
        time.sleep(0.02)
    wall = time.perf_counter() - start
    busy = busy_cpu_seconds() - busy_before
    ours = usage.ru_utime + usage.ru_stime if usage is not None else 0.0
    process.returncode = os.waitstatus_to_exitcode(status) if status != -9 else -9
    sampler.stop()
    ours = max(ours, sampler.cpu_seconds)
    out.seek(0)
    stdout = out.read().decode("utf-8", "replace")
    out.close()
    if log is None:
        err.seek(0)
        stderr = err.read().decode("utf-8", "replace")
    else:
        err.close()
        stderr = log.read_text(encoding="utf-8", errors="replace")
    err.close()
    rss_hwm = usage.ru_maxrss / 1024 if usage is not None else 0.0  # KiB on Linux
    if rss_hwm <= parent_mb:
        rss_hwm = 0.0
    lines = [line for line in stdout.splitlines() if line.startswith("{")]
    report = None
    if lines:
        try:
            report = json.loads(lines[-1])
        except json.JSONDecodeError:
            report = None
    return {"wall": wall, "peak_mb": max(sampler.peak_mb, rss_hwm), "tree_mb": sampler.peak_mb,
            "cpu": ours,
            "hwm_mb": rss_hwm, "code": process.returncode,
            # CPU the rest of the machine used meanwhile, as a share of all CPUs' time
            "others_cpu": max(busy - ours, 0.0) / ((os.cpu_count() or 1) * wall),
            "report": report,
            "stdout_tail": "\n".join(stdout.strip().splitlines()[-10:]),
            "stderr_tail": "\n".join(stderr.strip().splitlines()[-25:]),
            "timed_out": status == -9 and not over_memory, "over_memory": over_memory}


def wait_for_quiet(limit: float, threshold: float = 0.25) -> None:
    """Wait (up to ``limit`` seconds) until other processes use under ``threshold`` of the CPUs
    over a 2-second window: the machine may be shared."""
    if limit <= 0:
        return
    deadline = time.perf_counter() + limit
    while True:
        before = busy_cpu_seconds()
        time.sleep(2)
        share = (busy_cpu_seconds() - before) / (2 * (os.cpu_count() or 1))
        if share < threshold or time.perf_counter() > deadline:
            return
        time.sleep(3)


def busy_cpu_seconds() -> float:
    """CPU seconds all CPUs spent not idle since boot (/proc/stat)."""
    try:
        with open("/proc/stat", encoding="ascii") as handle:
            fields = [int(v) for v in handle.readline().split()[1:]]
    except OSError:
        return 0.0
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    busy = sum(fields[:8]) - idle  # guest time is already counted in user
    return busy / os.sysconf("SC_CLK_TCK")


class TreeSampler:
    """Samples the summed RSS of a process and its descendants from /proc."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        self.pid, self.interval, self.peak_mb = pid, interval, 0.0
        self._cpu: dict[int, float] = {}  # last seen user + system seconds of each process
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def cpu_seconds(self) -> float:
        """User + system CPU of the tree (processes that exit between samples lose their last
        50 ms; ``wait4`` covers the direct child)."""
        return sum(self._cpu.values())

    def _run(self) -> None:
        page_kib = os.sysconf("SC_PAGE_SIZE") / 1024
        tick = os.sysconf("SC_CLK_TCK")
        while not self._stop.is_set():
            total = 0.0
            for pid in process_tree(self.pid):
                try:
                    with open(f"/proc/{pid}/statm", "rb") as handle:
                        total += int(handle.read().split()[1]) * page_kib
                    with open(f"/proc/{pid}/stat", "rb") as handle:
                        stat = handle.read()
                    fields = stat[stat.rindex(b")") + 2:].split()
                    self._cpu[pid] = (int(fields[11]) + int(fields[12])) / tick
                except (OSError, ValueError, IndexError):
                    pass
            self.peak_mb = max(self.peak_mb, total / 1024)
            self._stop.wait(self.interval)


def process_tree(root: int) -> list[int]:
    """``root`` and its descendants (from every process's parent id in /proc)."""
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(b")") + 2:].split()[1])
        children.setdefault(ppid, []).append(int(name))
    pids, todo = [], [root]
    while todo:
        pid = todo.pop()
        pids.append(pid)
        todo.extend(children.get(pid, ()))
    return pids


def kill_tree(root: int) -> None:
    for pid in reversed(process_tree(root)):
        try:
            os.kill(pid, 9)
        except OSError:
            pass


def median_of(runs: list[dict], key: str) -> float | None:
    import statistics

    values = [r[key] for r in runs if r.get(key) is not None]
    return statistics.median(values) if values else None


# --- the odibi child -----------------------------------------------------------------------------


def child_odibi(project_dir: Path, handoff: str = "readback") -> dict:
    """Run every node of the project in topological order, as one process, through
    ``NodeRunner`` (no Dagster). ``readback``: a node reads an upstream node's *written target*
    back, as ``odibi run`` (Dagster's IO manager) does; ``memory``: frames are passed along."""
    started = time.perf_counter()
    from odibi_core.config import load_project
    from odibi_core.engines import engine_for_project
    from odibi_core.node import NodeRunner, RunContext

    project = load_project(project_dir)
    engine = engine_for_project(project.config)
    runner = NodeRunner(project, engine)
    graph = project.graph
    ready = time.perf_counter()
    context = RunContext(run_id=uuid.uuid4().hex)
    order = graph.topological_order()
    consumers = {key: len(graph.downstream(key)) for key in order}
    outputs: dict[str, object] = {}
    nodes = {}
    for key in order:
        node_start = time.perf_counter()
        inputs = {}
        for edge in graph.upstream(key):
            written = graph.node(edge.key).config.write is not None
            if handoff == "readback" and written:
                inputs[edge.alias] = runner.read_target(edge.key)
            else:
                inputs[edge.alias] = outputs[edge.key]
        node_run = time.perf_counter()
        run = runner.run(key, inputs=inputs, context=context)
        if not run.succeeded:
            raise RuntimeError(f"{key} failed: {run.exception}") from run.exception
        result = run.result
        phases = {t.phase: t.seconds for t in result.timings}
        phases["handoff"] = node_run - node_start
        nodes[key] = {"seconds": time.perf_counter() - node_start, "rows_out": result.rows_out,
                      "phases": phases}
        quarantine = result.quarantine
        if quarantine is not None:
            nodes[key]["quarantined"] = quarantine.rows
        if handoff == "memory" or graph.node(key).config.write is None:
            outputs[key] = run.output
        for edge in graph.upstream(key):  # free what no later node needs
            consumers[edge.key] -= 1
            if consumers[edge.key] == 0:
                outputs.pop(edge.key, None)
    done = time.perf_counter()
    return {"setup_seconds": ready - started, "pipeline_seconds": done - ready, "nodes": nodes}


# --- outputs -------------------------------------------------------------------------------------


def child_verify(spec: dict) -> dict:
    """Fingerprints of the outputs in ``spec``: ``{name: {"path", "format", "ordered",
    "exclude", "exclude_prefix"}}``; a missing output is None."""
    found = {}
    for name, item in spec.items():
        batches = read_batches(Path(item["path"]), item["format"])
        if batches is None:
            found[name] = None
            continue
        found[name] = fingerprint(batches, bool(item.get("ordered")),
                                  exclude=tuple(item.get("exclude", ())),
                                  exclude_prefix=item.get("exclude_prefix"))
    return found


def verify(spec: dict, timeout: float) -> dict:
    """:func:`child_verify` in a subprocess (the parent stays small)."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(spec, handle)
    try:
        child = subprocess.run([sys.executable, str(HARNESS), "verify", handle.name],
                               capture_output=True, text=True, cwd=ROOT, check=False,
                               timeout=timeout)
    finally:
        os.unlink(handle.name)
    if child.returncode != 0:
        raise RuntimeError(f"verification failed:\n{child.stderr[-3000:]}")
    return json.loads(child.stdout.strip().splitlines()[-1])


BATCH_ROWS = 1_000_000


def read_batches(path: Path, fmt: str):
    """The output at ``path`` as an iterator of polars frames of at most ``BATCH_ROWS`` rows
    (bounded memory at 100M rows), or None when it does not exist."""
    import polars as pl

    if not path.exists():
        return None
    if fmt == "delta":
        from deltalake import DeltaTable

        dataset = DeltaTable(str(path)).to_pyarrow_dataset()
        return (pl.from_arrow(b) for b in dataset.to_batches(batch_size=BATCH_ROWS))
    files = [path] if path.is_file() else sorted(
        p for p in path.rglob("*") if p.is_file() and p.suffix in (".parquet", ".csv")
        and not any(part.startswith(("_", ".")) for part in p.relative_to(path).parts))
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return (pl.from_arrow(b) for f in files
                for b in pq.ParquetFile(f).iter_batches(batch_size=BATCH_ROWS))
    frames = [pl.read_csv(f, infer_schema_length=None) for f in files]
    return iter([pl.concat(frames, how="vertical_relaxed")] if frames else [])


def fingerprint(batches, ordered: bool, *, exclude: tuple[str, ...] = (),
                exclude_prefix: str | None = None) -> dict:
    """Rows, compared columns and an order-independent checksum of their values (a wrapping
    sum of per-row hashes, so it can be computed batch by batch); with ``ordered``, also a
    digest of the rows in order. ``batches``: a polars frame or an iterable of them."""
    import numpy as np
    import polars as pl

    if isinstance(batches, pl.DataFrame):
        batches = [batches]
    rows, total, columns, compared = 0, 0, None, None
    digest = hashlib.sha256()
    for frame in batches:
        if columns is None:
            columns = sorted(frame.columns)
            compared = [c for c in columns if c not in exclude
                        and not (exclude_prefix and c.startswith(exclude_prefix))]
        if frame.height == 0:
            continue
        normal = frame.select([normalized(frame.schema[c], c) for c in compared])
        text = normal.select(pl.concat_str([pl.col(c).fill_null("\x00") for c in compared],
                                           separator="\x1f").alias("row"))["row"]
        hashes = text.hash(seed=7).to_numpy().astype(np.uint64)
        total = (total + int(hashes.sum(dtype=np.uint64))) % 2**64
        if ordered:
            digest.update(("\n" if rows else "").encode("utf-8"))
            digest.update("\n".join(text.to_list()).encode("utf-8"))
        rows += frame.height
    columns = columns or []
    out = {"rows": rows, "columns": compared if (exclude or exclude_prefix) else columns,
           "checksum": f"{total:016x}"}
    if ordered:
        out["ordered_digest"] = digest.hexdigest()[:16]
    return out


def normalized(dtype, name: str):
    """A column as comparable text: numbers rounded to cents, instants as UTC wall clock."""
    import polars as pl

    column = pl.col(name)
    if dtype.is_numeric():
        return column.cast(pl.Float64).round(2).cast(pl.String).alias(name)
    if isinstance(dtype, pl.Datetime):
        if dtype.time_zone is not None:
            column = column.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
        return column.dt.strftime("%Y-%m-%d %H:%M:%S").alias(name)
    if isinstance(dtype, pl.Date):
        return column.dt.strftime("%Y-%m-%d").alias(name)
    return column.cast(pl.String).alias(name)


def differences(ours: dict, theirs: dict) -> list[str]:
    """What differs between two sets of fingerprints, table by table."""
    out = []
    for table in sorted(set(ours) | set(theirs)):
        a, b = ours.get(table), theirs.get(table)
        if a != b:
            if a is None or b is None:
                out.append(f"{table}: missing on one side")
                continue
            keys = [k for k in a if a.get(k) != b.get(k)]
            out.append(f"{table}: " + ", ".join(f"{k} {a.get(k)} vs {b.get(k)}" for k in keys))
    return out


# --- the machine ---------------------------------------------------------------------------------


def engine_available(engine: str) -> str | None:
    """None when ``engine`` can run here, else why not (checked in a subprocess)."""
    probe = ("from odibi_core.engines import get_engine; get_engine(%r)" % engine)
    if engine == "spark":
        probe += "; import odibi_core.engines.spark_session"
    child = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                           cwd=ROOT, check=False)
    if child.returncode == 0:
        return None
    last = (child.stderr.strip().splitlines() or ["?"])[-1]
    return f"the {engine} engine is not available ({last[:160]})"


def machine_facts() -> list[str]:
    import importlib.metadata as md

    def version(name: str) -> str:
        try:
            return md.version(name)
        except md.PackageNotFoundError:
            return "not installed"

    memory = "?"
    try:
        for line in Path("/proc/meminfo").read_text(encoding="ascii").splitlines():
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 2**20:.1f} GiB"
    except OSError:
        pass
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        java = subprocess.run(["java", "-version"], capture_output=True, text=True, check=False)
        java_line = (java.stderr.strip().splitlines() or ["not found"])[0]
    except OSError:
        java_line = "not found"
    packages = ", ".join(f"{p} {version(p)}" for p in (
        "pandas", "pyarrow", "duckdb", "polars", "deltalake", "pyspark", "delta-spark",
        "dagster"))
    return [
        f"- Machine: {os.cpu_count()} CPUs ({cpu}), {memory} RAM, {platform.platform()}.",
        f"- Python {platform.python_version()}; {packages}; Java: {java_line}.",
        f"- odibi at {source_state()}.",
    ]


# What the benchmarks write into the tree: a `--merge` run rewrites them after each invocation,
# so they are no sign that the code measured differs from the commit.
OWN_OUTPUTS = ("benchmarks/RESULTS.md", "benchmarks/RESULTS.json", "benchmarks/results/")


def source_state() -> str:
    """``commit abc1234``, plus the tracked files that differ from it (the benchmarks' own
    result files aside), so a page says exactly what was measured."""
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, cwd=ROOT, check=False).stdout.strip() or "?"
    status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                            capture_output=True, text=True, cwd=ROOT, check=False).stdout
    dirty = [line[3:] for line in status.splitlines()
             if line[3:] and not line[3:].startswith(OWN_OUTPUTS)]
    if not dirty:
        return f"commit {commit}"
    more = f" and {len(dirty) - 5} more" if len(dirty) > 5 else ""
    return f"commit {commit} (plus uncommitted changes to {', '.join(dirty[:5])}{more})"


def replace_once(text: str, old: str, new: str, where: str) -> str:
    """``text`` with ``old`` (which must occur exactly once) replaced: a changed template fails
    loudly instead of benchmarking something else."""
    if text.count(old) != 1:
        raise SystemExit(f"{where} changed: expected {old!r} exactly once; update the "
                         "benchmark to match.")
    return text.replace(old, new)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="benchmark harness child modes")
    sub = parser.add_subparsers(dest="mode", required=True)
    odibi = sub.add_parser("odibi", help="run every node of a project through NodeRunner")
    odibi.add_argument("project", type=Path)
    odibi.add_argument("--handoff", choices=("readback", "memory"), default="readback")
    check = sub.add_parser("verify", help="fingerprint the outputs named in a JSON spec")
    check.add_argument("spec", type=Path)
    args = parser.parse_args(argv)
    if args.mode == "odibi":
        print(json.dumps(child_odibi(args.project, args.handoff)))
    else:
        print(json.dumps(child_verify(json.loads(args.spec.read_text(encoding="utf-8")))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
