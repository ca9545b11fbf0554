"""Benchmark (not a test): the retail example at scale on each engine, odibi vs hand-written code.

For each row count and engine it runs, each in a fresh subprocess and ``--repeats`` times:

- ``odibi``: every node of a scaled copy of ``examples/retail`` (same YAML, ``engine:`` set to
  the engine, the pandas-only ``add_tax`` function step replaced by the equivalent built-in
  ``derive_columns`` step) through ``odibi_core.node.NodeRunner`` in topological order, without
  Dagster. Like ``odibi run`` (Dagster's IO manager), a node reads the *written target* of an
  upstream node back through the engine (``--handoff memory`` passes the frames instead);
- ``hand-written``: ``benchmarks/handwritten/<engine>_retail.py``, the same pipeline written by
  hand for that engine (pandas + pyarrow, lazy polars, PySpark), same reads and writes (Delta,
  parquet, CSV);
- once per engine at ``--dagster-rows`` (default 1M), as context: the whole ``odibi run`` CLI
  through Dagster (stories, run records, asset checks included).

The subprocess measurement, the odibi child and the output checksums live in
``benchmarks/harness.py`` (shared with ``benchmarks/run.py``, the load suite).

Every contender writes to its own lake. A verification subprocess then reads each lake's eight
outputs (bronze orders / customers / products, silver customers / orders, the quarantine, the two
gold reports) and computes per table: rows, columns and an order-independent checksum of the
values (numbers rounded to cents, timestamps as UTC wall-clock text; the quarantine's
``_rejected_at`` and ``_source_batch_id`` are left out, they differ by design); the gold reports
also get an order-dependent digest. A time is reported only when odibi's outputs equal the
hand-written code's.

- Wall time: the subprocess from start to exit (interpreter start, imports and, on Spark, the
  session start-up included on both sides); the median of the repeats.
- Peak memory: the largest resident set of the process tree (the Spark JVM included), sampled
  from ``/proc`` every 50 ms, or the largest single process's high-water mark (``ru_maxrss``
  from ``wait4``) when that is larger; the median of the repeats.
- CPU: user + system seconds of the process tree (``wait4``, or the per-process ``/proc``
  samples when larger: the JVM is not always reaped by its parent); the median of the repeats.

Usage::

    .venv/bin/python benchmarks/engine_bench.py --rows 1000000 10000000 \
        --engines pandas polars spark --repeats 3 [--out benchmarks/results/engines.md]

Results accumulate in ``--out``: a run replaces the entries of the (rows, engine) pairs it ran
and keeps the others (their data sits in a comment at the end of the file).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness  # noqa: E402  (benchmarks/harness.py: measuring, the odibi child, checksums)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
EXAMPLE = ROOT / "examples" / "retail"
RESULTS = HERE / "results" / "engines.md"
HANDWRITTEN = HERE / "handwritten"
ENGINES = ("pandas", "polars", "spark")
TARGETS = {"polars": 1.2, "spark": 1.2}  # odibi wall time / hand-written wall time
OUTPUTS = {
    # name: (path under the lake, format, order matters)
    "bronze.orders": ("bronze/orders", "delta", False),
    "bronze.customers": ("bronze/customers", "delta", False),
    "bronze.products": ("bronze/products", "delta", False),
    "silver.customers": ("silver/customers", "delta", False),
    "silver.orders": ("silver/orders", "delta", False),
    "quarantine.orders": ("_quarantine/orders", "delta", False),
    "gold.revenue_by_country": ("gold/revenue_by_country.parquet", "parquet", True),
    "gold.daily_sales": ("gold/daily_sales.csv", "csv", True),
}
CONTENDERS = ["odibi", "hand-written", "odibi run (Dagster)"]
NOT_COMPARED = ("_rejected_at", "_source_batch_id")  # the run's clock and batch id

ADD_TAX_STEP = """\
            - function: add_tax
              params: {rate: 0.2}
"""
ADD_TAX_BUILTIN = """\
            # was `function: add_tax` (examples/retail/transforms.py, pandas only)
            - operation: derive_columns
              params: {columns: {amount_with_tax: "round(amount * 1.2, 2)"}}
"""
MARK = "<!-- engine-bench-data"
WHERE = "examples/retail (benchmarks/engine_bench.py: write_project)"


# --- the scaled project --------------------------------------------------------------------------


def write_project(folder: Path, landing: Path, engine: str) -> Path:
    """A copy of examples/retail under ``folder`` that reads ``landing`` and runs on ``engine``.

    The YAML is the example's, with three edits (each checked, so a change of the example fails
    here instead of benchmarking something else): ``engine:``, the ``landing`` variable, and the
    ``add_tax`` function step as the built-in ``derive_columns`` with the same expression
    (``transforms.py`` is not copied). The lake is ``folder/lake`` as in the example.
    """
    main = (EXAMPLE / "odibi.yaml").read_text(encoding="utf-8")
    sales = (EXAMPLE / "pipelines" / "sales.yaml").read_text(encoding="utf-8")
    main = harness.replace_once(main, "engine: pandas\n", f"engine: {engine}\n", WHERE)
    main = harness.replace_once(main, "  landing: ./landing\n",
                                f"  landing: {landing.resolve()}\n", WHERE)
    sales = harness.replace_once(sales, ADD_TAX_STEP, ADD_TAX_BUILTIN, WHERE)
    (folder / "pipelines").mkdir(parents=True, exist_ok=True)
    (folder / "odibi.yaml").write_text(main, encoding="utf-8")
    (folder / "pipelines" / "sales.yaml").write_text(sales, encoding="utf-8")
    return folder


# --- children (in benchmarks/harness.py) ----------------------------------------------------------


def output_spec(lake: Path) -> dict:
    """The eight outputs under ``lake``, for :func:`harness.verify`."""
    return {name: {"path": str(lake / relative), "format": fmt, "ordered": ordered,
                   "exclude": list(NOT_COMPARED)}
            for name, (relative, fmt, ordered) in OUTPUTS.items()}


# --- the parent ----------------------------------------------------------------------------------


def landing_for(rows: int, work: Path, timeout: float) -> Path:
    """The generated landing zone for ``rows``, made once per work folder."""
    landing = work / f"landing-{rows}"
    marker = landing / ".complete"
    if marker.exists():
        return landing
    shutil.rmtree(landing, ignore_errors=True)
    start = time.perf_counter()
    subprocess.run([sys.executable, str(HERE / "retail_data.py"), "--rows", str(rows),
                    "--out", str(landing)], check=True, cwd=ROOT, timeout=timeout,
                   stdout=subprocess.DEVNULL)
    marker.write_text("ok", encoding="utf-8")
    print(f"generated {rows:,} order rows in {time.perf_counter() - start:.1f}s "
          f"({_size_mb(landing):.0f} MB)", flush=True)
    return landing


def _size_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20


def command_for(contender: str, engine: str, run_dir: Path, landing: Path,
                handoff: str) -> list[str]:
    if contender == "odibi":
        write_project(run_dir, landing, engine)
        return [sys.executable, str(harness.HARNESS), "odibi", str(run_dir),
                "--handoff", handoff]
    if contender == "odibi run (Dagster)":
        write_project(run_dir, landing, engine)
        odibi = Path(sys.executable).with_name("odibi")
        return [str(odibi), "run", str(run_dir)]
    script = HANDWRITTEN / f"{engine}_retail.py"
    return [sys.executable, str(script), "--landing", str(landing), "--lake",
            str(run_dir / "lake")]


def verify(lake: Path, timeout: float) -> dict:
    return harness.verify(output_spec(lake), timeout)


def run_pair(rows: int, engine: str, landing: Path, work: Path, args) -> dict:
    """All contenders of one (rows, engine): times, memory, outputs; the entry for the file.

    The repeats interleave the contenders (odibi, hand-written, odibi, ...) so that a change in
    the machine's load during the runs affects both sides alike.
    """
    entry = {"rows": rows, "engine": engine, "date": time.strftime("%Y-%m-%d", time.gmtime()),
             "repeats": args.repeats, "handoff": args.handoff, "contenders": {}, "load": []}
    plan = [(attempt, name) for attempt in range(args.repeats)
            for name in ("odibi", "hand-written")]
    if rows in args.dagster_rows:
        plan.append((0, "odibi run (Dagster)"))
    state = {name: {"runs": [], "outputs": None, "failure": None} for _, name in plan}
    for attempt, contender in plan:
        data = state[contender]
        if data["failure"]:
            continue
        run_dir = work / "runs" / f"{rows}-{engine}-{contender.split()[0]}-{attempt}"
        shutil.rmtree(run_dir, ignore_errors=True)
        run_dir.mkdir(parents=True)
        command = command_for(contender, engine, run_dir, landing, args.handoff)
        env = dict(os.environ, DAGSTER_HOME=str(run_dir / ".dagster_home"))
        harness.wait_for_quiet(args.wait_idle)
        measured = harness.measure(command, timeout=args.timeout, env=env,
                                   log=run_dir / "stderr.log")
        entry["load"].append(round(measured["others_cpu"], 3))
        label = f"{rows:>11,} {engine:7s} {contender:20s} #{attempt + 1}"
        if measured["code"] != 0:
            data["failure"] = (f"timed out after {args.timeout:.0f}s" if measured["timed_out"]
                               else f"exit {measured['code']}: "
                               + measured["stderr_tail"][-1500:])
            print(f"{label}  FAILED {data['failure']}", flush=True)
            continue
        got = verify(run_dir / "lake", args.timeout)
        if data["outputs"] is None:
            data["outputs"] = got
        elif got != data["outputs"]:
            data["failure"] = "outputs differ between repeats"
        data["runs"].append({k: measured[k] for k in ("wall", "cpu", "peak_mb", "tree_mb",
                                                       "hwm_mb")}
                            | {"report": measured["report"], "load": entry["load"][-1]})
        print(f"{label}  {measured['wall']:8.2f} s  CPU {measured['cpu']:7.1f} s  "
              f"peak {measured['peak_mb']:8.0f} MB  "
              f"(other processes {entry['load'][-1]:.0%} of the CPUs)", flush=True)
        if not args.keep:
            shutil.rmtree(run_dir, ignore_errors=True)
    for name, data in state.items():
        runs = data["runs"]
        data["wall"] = statistics.median(r["wall"] for r in runs) if runs else None
        data["peak_mb"] = statistics.median(r["peak_mb"] for r in runs) if runs else None
        data["cpu"] = statistics.median(r.get("cpu", 0.0) for r in runs) if runs else None
        entry["contenders"][name] = data
    hand = entry["contenders"]["hand-written"]
    for name, data in entry["contenders"].items():
        if name == "hand-written":
            continue
        data["equal"] = (data["outputs"] is not None and hand["outputs"] is not None
                         and data["outputs"] == hand["outputs"])
        if not data["equal"] and data["outputs"] and hand["outputs"]:
            data["differences"] = harness.differences(data["outputs"], hand["outputs"])
    return entry


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--engines", nargs="+", choices=ENGINES, default=list(ENGINES))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--work", type=Path,
                        help="where the data and the lakes go (default: a temporary folder); "
                             "generated data is reused from it")
    parser.add_argument("--handoff", choices=("readback", "memory"), default="readback",
                        help="how odibi hands a written node's output downstream: read the "
                             "target back, as `odibi run` does (default), or the frame itself")
    parser.add_argument("--dagster-rows", type=int, nargs="*", default=[1_000_000],
                        help="row counts at which to also time the whole `odibi run` once")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per subprocess")
    parser.add_argument("--wait-idle", type=float, default=20,
                        help="before each run, wait up to this many seconds for other "
                             "processes to leave the CPUs mostly idle (0: do not wait)")
    parser.add_argument("--keep", action="store_true", help="keep every run's lake")
    parser.add_argument("--child-odibi", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--child-verify", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_odibi:  # kept for old command lines: `harness.py odibi` is the same
        print(json.dumps(harness.child_odibi(args.child_odibi, args.handoff)))
        return 0
    if args.child_verify:
        print(json.dumps(harness.child_verify(output_spec(args.child_verify))))
        return 0

    work = args.work or Path(tempfile.mkdtemp(prefix="odibi-engine-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"work folder: {work}", flush=True)
    entries, skipped = [], []
    available = {engine: harness.engine_available(engine) for engine in args.engines}
    try:
        for rows in args.rows:
            landing = None
            for engine in args.engines:
                if available[engine] is not None:
                    skipped.append({"rows": rows, "engine": engine, "reason": available[engine]})
                    print(f"{rows:>11,} {engine:7s} not run: {available[engine]}", flush=True)
                    continue
                landing = landing or landing_for(rows, work, args.timeout)
                entries.append(run_pair(rows, engine, landing, work, args))
    finally:
        if args.work is None and not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    _cross_engine(entries)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    previous = _stored(args.out)
    for entry in entries + [dict(s, skipped=True) for s in skipped]:
        previous[f"{entry['rows']}/{entry['engine']}"] = entry
    args.out.write_text(render(previous), encoding="utf-8")
    print(f"wrote {args.out}")
    bad = [e for e in entries for n, c in e["contenders"].items()
           if c.get("failure") or (n != "hand-written" and not c.get("equal"))]
    return 1 if bad else 0


def _cross_engine(entries: list[dict]) -> None:
    """Mark each entry with whether its hand-written outputs equal the other engines'."""
    by_rows: dict[int, dict[str, dict]] = {}
    for entry in entries:
        outputs = entry["contenders"]["hand-written"]["outputs"]
        if outputs:
            by_rows.setdefault(entry["rows"], {})[entry["engine"]] = outputs
    for entry in entries:
        seen = by_rows.get(entry["rows"], {})
        mine = seen.get(entry["engine"])
        entry["same_as_engines"] = sorted(e for e, o in seen.items()
                                          if e != entry["engine"] and o == mine)


def _stored(path: Path) -> dict:
    if not path.exists():
        return {}
    text = path.read_text(encoding="utf-8")
    if MARK not in text:
        return {}
    block = text.split(MARK, 1)[1].split("-->", 1)[0]
    return json.loads(block)


# --- the results file ----------------------------------------------------------------------------


HEADER = """# Engine benchmark: the retail example at scale

Produced by `benchmarks/engine_bench.py` (run on demand; not a test). Each run replaces the
entries of the (rows, engine) pairs it ran and keeps the others.

{machine}

## What runs

- **Data**: `benchmarks/retail_data.py` (seeded) writes the retail example's landing zone at N
  order rows, in the example's formats (daily order CSV files, a customers CSV, a products JSON
  Lines file) with the example's proportions of untidy and bad rows: 20% of order rows are later
  versions of an order, 1 order in 8 is cancelled, 1 in 7 has a quantity outside [1, 5] (the
  rows `plausible_quantity` quarantines), 1 status in 5 and about half the customers are written
  untidily, 1 customer in 6 is repeated; one customer per 10 order rows, one product per 1,000.
- **odibi**: the example's YAML, unchanged but for `engine:` and one step: `clean_orders` calls
  the pandas-only user function `add_tax` (examples/retail/transforms.py); the benchmark runs the
  equivalent built-in step `derive_columns {{amount_with_tax: "round(amount * 1.2, 2)"}}` on every
  engine, so all three run the same YAML. All eight nodes run through `odibi_core`'s `NodeRunner`
  in one process, without Dagster; {handoff}
- **hand-written**: `benchmarks/handwritten/{{pandas,polars,spark}}_retail.py`, the same pipeline
  written directly on the engine's library: the same reads, the contracts and validation tests
  (blocking ones raise, the warn test is counted, the quarantine rows get the same four columns),
  the joins, the deduplication, the aggregates and the same writes (Delta through delta-rs on
  pandas / polars, Delta Lake on Spark; the gold parquet and CSV files; on Spark those are
  single-part folders, the way Spark writes files).
- **odibi run (Dagster)**: the whole `odibi run <project>` CLI once, as context (Dagster start-up,
  asset checks, stories and run records included); it is not compared with a target.
- Every run writes to its own lake. A time is reported only when the outputs of odibi and of the
  hand-written code are equal: all eight tables (rows, columns and an order-independent checksum
  of all values, numbers rounded to cents, instants as UTC wall-clock time; the quarantine's
  `_rejected_at` and `_source_batch_id` excluded) and the gold reports' row order.
- **Wall s**: the whole subprocess (interpreter start-up, imports, Spark session start-up on both
  sides), median of the repeats. **Peak MB**: the largest resident set of the process tree (the
  Spark JVM included; sampled every 50 ms, or the largest process's `ru_maxrss` if larger),
  median of the repeats. **CPU s**: user + system CPU seconds of the process tree (median):
  on a machine other work shares, wall time swings with that work (the notes below say how
  much CPU other processes used during the runs) and CPU time much less, so read both ratios.
  The repeats alternate odibi and hand-written runs so that both meet the same conditions.
- **Targets** (the issue): the polars engine within 1.2x of hand-written polars, the Spark engine
  within 1.2x of hand-written PySpark (wall time). pandas has no target; it is measured against
  hand-written pandas for context.
"""

HANDOFF_TEXT = {
    "readback": "as in `odibi run` (Dagster's IO manager), a node reads an upstream node's "
                "written target back through the engine.",
    "memory": "a node gets its upstream nodes' frames in memory (`--handoff memory`; `odibi "
              "run` reads the written targets back instead).",
}


def render(entries: dict) -> str:
    handoffs = {e.get("handoff", "readback") for e in entries.values() if not e.get("skipped")}
    handoff = HANDOFF_TEXT["readback" if handoffs <= {"readback"} else "memory"]
    if len(handoffs) > 1:
        handoff += " (entries differ: see each entry's hand-off below)."
    lines = [HEADER.format(machine="\n".join(harness.machine_facts()), handoff=handoff)]
    lines += ["## Results", "",
              "| rows | engine | contender | wall s | CPU s | peak MB | x hand-written (wall) "
              "| x hand-written (CPU) | x hand-written (memory) | target (wall) | met? |",
              "|---:|---|---|---:|---:|---:|---:|---:|---:|---|---|"]
    ordered = sorted(entries.values(), key=lambda e: (e["rows"], ENGINES.index(e["engine"])))
    notes = []
    for entry in ordered:
        rows, engine = f"{entry['rows']:,}", entry["engine"]
        if entry.get("skipped"):
            lines.append(f"| {rows} | {engine} | — | not run | | | | | | "
                         f"{_target(engine)} | — |")
            notes.append(f"- {rows} rows on {engine}: not run: {entry['reason']}")
            continue
        hand = entry["contenders"]["hand-written"]
        for name in sorted(entry["contenders"], key=CONTENDERS.index):
            data = entry["contenders"][name]
            lines.append(_row(rows, engine, name, data, hand))
        if entry.get("load"):
            runs = len(hand.get("runs", []))
            dagster = ", the Dagster run once" if "odibi run (Dagster)" in entry["contenders"] \
                else ""
            notes.append(f"- {rows} rows on {engine} ({entry['date']}, median of {runs} "
                          f"run{'s' if runs != 1 else ''} per contender{dagster}): other "
                          "processes used "
                          f"{min(entry['load']):.0%}–{max(entry['load']):.0%} of the machine's "
                          "CPU time during the runs.")
            if data.get("failure"):
                notes.append(f"- {rows} rows, {engine}, {name}: failed: "
                             f"{data['failure'].splitlines()[-1][:300]}")
            if data.get("differences"):
                notes.append(f"- {rows} rows, {engine}, {name}: outputs differ from "
                             f"hand-written: " + "; ".join(data["differences"]))
    lines.append("")
    if notes:
        lines += ["Notes:", "", *notes, ""]
    lines += _agreement(ordered)
    lines += _breakdowns(ordered)
    lines += [f"{MARK}", json.dumps(entries, indent=None, sort_keys=True), "-->", ""]
    return "\n".join(lines)


def _target(engine: str) -> str:
    return f"≤ {TARGETS[engine]}x" if engine in TARGETS else "—"


def _row(rows: str, engine: str, name: str, data: dict, hand: dict) -> str:
    if data.get("failure") or data.get("wall") is None:
        return f"| {rows} | {engine} | {name} | failed | | | | | | {_target(engine)} | no |"
    cpu = data.get("cpu") or 0.0
    wall, cpu_s, peak = f"{data['wall']:.2f}", f"{cpu:.1f}", f"{data['peak_mb']:.0f}"
    first = f"| {rows} | {engine} | {name} |"
    if name == "hand-written":
        return f"{first} {wall} | {cpu_s} | {peak} | 1.00 | 1.00 | 1.00 | | |"
    if not data.get("equal"):
        return (f"{first} ({wall}) | ({cpu_s}) | ({peak}) | outputs differ | | | "
                f"{_target(engine)} | no |")
    if hand.get("wall") is None:
        return f"{first} {wall} | {cpu_s} | {peak} | — | — | — | {_target(engine)} | — |"
    ratio = data["wall"] / hand["wall"]
    cpu_ratio = f"{cpu / hand['cpu']:.2f}" if cpu and hand.get("cpu") else "—"
    memory = data["peak_mb"] / hand["peak_mb"]
    target, met = _target(engine), "—"
    if engine in TARGETS and name == "odibi":
        met = "yes" if ratio <= TARGETS[engine] else "no"
    elif name != "odibi":
        target = "(context)"
    return (f"{first} {wall} | {cpu_s} | {peak} | {ratio:.2f} | {cpu_ratio} | {memory:.2f} | "
            f"{target} | {met} |")


def _agreement(entries: list[dict]) -> list[str]:
    out = ["## Outputs", ""]
    for entry in entries:
        if entry.get("skipped"):
            continue
        hand = entry["contenders"]["hand-written"]["outputs"]
        if not hand:
            continue
        rows = {k: hand[k]["rows"] for k in OUTPUTS if hand.get(k)}
        same = entry.get("same_as_engines") or []
        equal = [n for n, c in entry["contenders"].items() if n != "hand-written"
                 and c.get("equal")]
        out.append(
            f"- {entry['rows']:,} rows, {entry['engine']}: hand-written outputs "
            + ", ".join(f"{k} {v:,}" for k, v in rows.items())
            + f" rows; equal to: {', '.join(equal) or 'none'}"
            + (f"; identical to the hand-written outputs on {', '.join(same)}" if same else "")
            + ".")
    return out + [""]


NODE_ORDER = ["bronze.raw_orders", "bronze.raw_customers", "bronze.raw_products",
              "sales.clean_customers", "sales.clean_orders", "sales.revenue_by_country",
              "sales.daily_sales"]


def _node_position(key: str) -> tuple[int, str]:
    return (NODE_ORDER.index(key) if key in NODE_ORDER else len(NODE_ORDER), key)


def _breakdowns(entries: list[dict]) -> list[str]:
    """Where odibi's time goes: per node and phase, from the median odibi run's NodeResults."""
    out = ["## Where odibi's time goes", "",
           "Per node of the median `odibi` run: `hand-off` = reading the upstream nodes' "
           "written targets back (before `NodeRunner.run`), then each lifecycle phase as the "
           "node's `NodeResult.timings` records it; `rest` = the node's total minus all of "
           "these: the work `NodeRunner` does not time, i.e. `engine.collect` of the "
           "transform's result (on the lazy engines, polars and Spark, that is where the "
           "transform actually runs: their `transform` phase only builds the plan) and building "
           "the `NodeResult` (row counts, schema, sample rows). `setup` = "
           "imports, project load and engine creation; wall − setup − pipeline = interpreter "
           "start and exit.", ""]
    for entry in entries:
        if entry.get("skipped"):
            continue
        odibi = entry["contenders"].get("odibi") or {}
        runs = [r for r in odibi.get("runs", []) if r.get("report")]
        if not runs:
            continue
        run = sorted(runs, key=lambda r: r["wall"])[len(runs) // 2]
        report = run["report"]
        out += [f"### {entry['rows']:,} rows, {entry['engine']} (wall {run['wall']:.2f} s, "
                f"setup {report['setup_seconds']:.2f} s, pipeline "
                f"{report['pipeline_seconds']:.2f} s, hand-off {entry.get('handoff')})", "",
                "| node | total s | hand-off | read | contracts | transform | validate | "
                "quarantine | write | rest |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        phases = ("handoff", "read", "contracts", "transform", "validate", "quarantine", "write")
        for key in sorted(report["nodes"], key=_node_position):
            node = report["nodes"][key]
            cells = [node["phases"].get(p) for p in phases]
            rest = node["seconds"] - sum(c for c in cells if c)
            out.append(f"| {key} | {node['seconds']:.2f} | "
                       + " | ".join("" if c is None else f"{c:.2f}" for c in cells)
                       + f" | {rest:.2f} |")
        hand_runs = [r for r in entry["contenders"]["hand-written"].get("runs", [])
                     if r.get("report")]
        if hand_runs:
            hand = sorted(hand_runs, key=lambda r: r["wall"])[len(hand_runs) // 2]["report"]
            steps = ", ".join(f"{k} {v:.2f}" for k, v in hand.get("steps", {}).items())
            out += ["", f"Hand-written (median run): setup {hand.get('setup_seconds', 0):.2f} s, "
                        f"pipeline {hand.get('pipeline_seconds', 0):.2f} s ({steps})."]
        out.append("")
    return out


if __name__ == "__main__":
    raise SystemExit(main())
