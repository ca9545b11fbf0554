"""Benchmark (not a test): the README's Dagster CLI recipe against ``odibi run`` on examples/retail.

Three contenders, each a whole process (interpreter start-up, imports, Dagster instance, the run,
stories), on a fresh copy of ``examples/retail`` with a fresh ``DAGSTER_HOME`` every time:

- ``odibi run``: ``odibi run <copy>`` (in-process executor, odibi's default);
- ``recipe``: the README's command, ``dagster asset materialize -m odibi_dagster.definitions
  --select '*' --config-json '{"execution":{"config":{"in_process":{}}}}'``;
- ``dagster default``: the same command without ``--config-json``: Dagster's default executor in
  its multiprocess mode (one process per asset), what the web UI runs.

Contenders take turns within each repetition (so a slow spell of a shared machine hits all of
them), each after waiting for the CPUs to be mostly idle. Before a time counts, the run must exit
0 and leave the same outputs as ``odibi run`` (every output present; rows of every Delta table
equal). Writes ``benchmarks/results/cli_recipe.md``; the target (issue 19): the recipe within
1.5x of ``odibi run``'s wall time.

Usage::

    .venv/bin/python benchmarks/cli_recipe_bench.py --repeats 5
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import harness  # noqa: E402  (benchmarks/ is not a package)

ROOT = HERE.parent
RESULTS = HERE / "results" / "cli_recipe.md"
EXAMPLE = ROOT / "examples" / "retail"
IN_PROCESS = '{"execution":{"config":{"in_process":{}}}}'
MATERIALIZE = ["asset", "materialize", "-m", "odibi_dagster.definitions", "--select", "*"]
TARGET = 1.5
DELTA_OUTPUTS = ["bronze/orders", "bronze/customers", "bronze/products", "silver/customers",
                 "silver/orders"]
FILE_OUTPUTS = ["gold/revenue_by_country.parquet", "gold/daily_sales.csv"]


def commands(project: Path) -> dict[str, list[str]]:
    """Each contender's argv for the project copy at ``project``."""
    bin_dir = Path(sys.executable).parent
    dagster = str(bin_dir / "dagster")
    return {
        "odibi run": [sys.executable, "-m", "odibi_dagster.cli.main", "run", str(project)],
        "recipe": [dagster, *MATERIALIZE, "--config-json", IN_PROCESS],
        "dagster default": [dagster, *MATERIALIZE],
    }


def shown(name: str) -> str:
    """The command as a user types it (the page shows this)."""
    if name == "odibi run":
        return "odibi run examples/retail"
    extra = f" --config-json '{IN_PROCESS}'" if name == "recipe" else ""
    return "dagster " + shlex.join(MATERIALIZE) + extra


def fresh_copy(work: Path, name: str) -> tuple[Path, Path]:
    """A copy of examples/retail (no outputs or state) and an empty DAGSTER_HOME."""
    folder = Path(tempfile.mkdtemp(prefix=name.replace(" ", "_") + "-", dir=work))
    project = folder / "retail"
    shutil.copytree(EXAMPLE, project,
                    ignore=shutil.ignore_patterns("lake*", ".odibi", "__pycache__"))
    home = folder / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n", encoding="utf-8")
    return project, home


def outputs(project: Path) -> dict[str, int | bool]:
    """Rows of each Delta output; presence of each file output."""
    from deltalake import DeltaTable

    found: dict[str, int | bool] = {}
    lake = project / "lake"
    for path in DELTA_OUTPUTS:
        found[path] = DeltaTable(str(lake / path)).to_pyarrow_table().num_rows \
            if (lake / path / "_delta_log").is_dir() else -1
    for path in FILE_OUTPUTS:
        found[path] = (lake / path).exists()
    return found


def run_once(name: str, work: Path, timeout: float) -> dict:
    project, home = fresh_copy(work, name)
    env = {**os.environ, "DAGSTER_HOME": str(home), "ODIBI_PROJECT": str(project / "odibi.yaml"),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT),
                                                       os.environ.get("PYTHONPATH")]))}
    env.pop("ODIBI_ENV", None)
    result = harness.measure(commands(project)[name], timeout=timeout, env=env, cwd=project)
    result["outputs"] = outputs(project) if result["code"] == 0 else None
    shutil.rmtree(project.parent, ignore_errors=True)
    return result


def render(runs: dict[str, list[dict]], args: argparse.Namespace, problems: list[str]) -> str:
    base = statistics.median(r["wall"] for r in runs["odibi run"]) if runs["odibi run"] else None
    base_cpu = harness.median_of(runs["odibi run"], "cpu")
    lines = [
        "# The Dagster CLI recipe against `odibi run` (examples/retail)",
        "",
        "Produced by `benchmarks/cli_recipe_bench.py` (run on demand; not a test). Each run is a "
        "whole process on a fresh copy of `examples/retail` with a fresh `DAGSTER_HOME`; the "
        "contenders take turns. Figures are medians (min-max for wall time).",
        "",
        *harness.machine_facts(),
        f"- Command: `python benchmarks/cli_recipe_bench.py {shlex.join(args.argv)}`; run on "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.",
        "",
        "| contender | command | runs | wall s | x odibi run | CPU s | x odibi run (CPU) | "
        "peak MB | others' CPU |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, done in runs.items():
        if not done:
            lines.append(f"| {name} | `{shown(name)}` | 0 | failed | — | — | — | — | — |")
            continue
        walls = [r["wall"] for r in done]
        wall = statistics.median(walls)
        ratio = f"{wall / base:.2f}" if base else "—"
        cpu = harness.median_of(done, "cpu")
        cpu_ratio = f"{cpu / base_cpu:.2f}" if base_cpu else "—"
        lines.append(
            f"| {name} | `{shown(name)}` | {len(done)} | {wall:.2f} ({min(walls):.2f}-"
            f"{max(walls):.2f}) | {ratio} | {cpu:.1f} | {cpu_ratio} | "
            f"{harness.median_of(done, 'peak_mb'):.0f} | "
            f"{harness.median_of(done, 'others_cpu'):.0%} |")
    lines.append("")
    recipe = runs.get("recipe") or []
    if base and recipe:
        ratio = statistics.median(r["wall"] for r in recipe) / base
        verdict = "met" if ratio <= TARGET else "**not met**"
        cpu_ratio = harness.median_of(recipe, "cpu") / base_cpu if base_cpu else None
        lines.append(f"Target (issue 19): the recipe within {TARGET}x of `odibi run`'s wall "
                     f"time: {ratio:.2f}x, {verdict}"
                     + (f" (CPU time: {cpu_ratio:.2f}x)." if cpu_ratio else "."))
    else:
        lines.append("Target (issue 19): cannot be judged, a contender has no successful run.")
    lines += [
        "",
        "- **wall s**: the process from start to exit. **CPU s**: user + system CPU of its "
        "process tree (the step processes of the multiprocess executor included). **peak MB**: "
        "the largest resident set of the process tree. **others' CPU**: the share of the "
        "machine's CPUs other processes used meanwhile (the machine may be shared): when it is "
        "high, wall times swing with that work and CPU time much less, so read both ratios.",
        "- Outputs: every run exited 0 and left the outputs of `odibi run` (rows of the five "
        "Delta tables, the two gold files) before its time counted.",
    ]
    if problems:
        lines += ["", "Runs left out:", *(f"- {p}" for p in problems)]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--wait-idle", type=float, default=20,
                        help="before each run, wait up to S seconds for idle CPUs")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    args.argv = list(argv if argv is not None else sys.argv[1:])
    names = list(commands(Path(".")))
    runs: dict[str, list[dict]] = {name: [] for name in names}
    problems: list[str] = []
    expected = None
    work = Path(tempfile.mkdtemp(prefix="cli_recipe_bench-"))
    try:
        for repeat in range(args.repeats):
            for name in names:
                harness.wait_for_quiet(args.wait_idle)
                result = run_once(name, work, args.timeout)
                print(f"{repeat + 1}/{args.repeats} {name}: {result['wall']:.2f} s, exit "
                      f"{result['code']}", flush=True)
                if result["code"] != 0:
                    last = (result["stderr_tail"].splitlines() or ["(no output)"])[-1]
                    problems.append(f"{name}, repeat {repeat + 1}: exit {result['code']}: {last}")
                    continue
                found = result["outputs"]
                expected = expected or found
                if found != expected or -1 in found.values() or False in found.values():
                    problems.append(f"{name}, repeat {repeat + 1}: outputs {found}, expected "
                                    f"{expected}")
                    continue
                runs[name].append(result)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render(runs, args, problems), encoding="utf-8")
    print(f"wrote {args.out}")
    return 0 if not problems else 1


if __name__ == "__main__":
    raise SystemExit(main())
