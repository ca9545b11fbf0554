"""The load and stress suite (issue 10): one command regenerates ``benchmarks/RESULTS.md``.

    .venv/bin/python benchmarks/run.py --sizes 1M 10M 100M --repeats 3
    .venv/bin/python benchmarks/run.py --check            # compare a fresh run with RESULTS.json

Scenarios (``benchmarks/scenarios/``), each an odibi project YAML run by every contender:

1. ``ingest``: orders parquet -> validation with quarantine -> Delta append;
2. ``gold``: orders joined to customers, aggregated -> a gold Delta table;
3. ``incremental``: a stateful high-water-mark run after 1% new orders arrived (only that run
   is timed: each contender first runs once over the base data, untimed, and every repeat starts
   from a copy of that state);
4. ``dagster_200``: a generated 200-node project: Dagster definition load time and per-asset
   orchestration overhead with the in-process executor (``dagster_child.py``).

Contenders: ``hand-written`` (``handwritten/<engine>_suite.py``, the practical limit),
``odibi`` (this package's ``NodeRunner``, no Dagster; ``harness.py odibi``), ``odibi-dagster``
(the whole ``odibi run`` CLI through Dagster) and ``pypi`` (the published ``odibi`` 3.15.x from
PyPI in its own virtual environment, ``benchmarks/.venvs/odibi-pypi``, made on demand).

Every figure is the median of ``--repeats`` whole-process runs (``harness.measure``: wall time,
peak RSS of the process tree, CPU); a contender's time is reported only when its outputs equal
the hand-written code's (rows + checksums, ``harness.verify``) and, for scenarios 1 and 3, the
generator's manifest (the exact number of valid and quarantined rows).

``--check`` runs the same plan again and compares each odibi figure with the committed
``RESULTS.json``: it fails (exit 1) on a wall-time or peak-memory regression beyond the
tolerance (default 25%, ignoring differences under a noise floor of 0.5 s / 64 MB), on scenario
4's load time or per-asset overhead beyond the same tolerance (floors 0.2 s / 10 ms), and on
outputs that no longer match. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import datasets  # noqa: E402
import harness  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SCENARIO_DIR = HERE / "scenarios"
HANDWRITTEN = HERE / "handwritten"
RESULTS_MD = HERE / "RESULTS.md"
PYPI_VENV = HERE / ".venvs" / "odibi-pypi"
PYPI_SPEC = "odibi[polars]==3.15.*"
PYPI_DAGSTER = "dagster==1.13.27"  # the same Dagster as this package, for scenario 4's load
DATA_SCENARIOS = ("ingest", "gold", "incremental")
SCENARIOS = (*DATA_SCENARIOS, "dagster_200")
SCENARIO_TITLES = {
    "ingest": "1 ingest → validate + quarantine → Delta append",
    "gold": "2 join + aggregate → gold Delta",
    "incremental": "3 incremental (+1% rows, stateful HWM)",
    "dagster_200_load": "4 200-node project: definition load",
    "dagster_200_run": "4 200-node project: materialize all (in-process)",
}
ENGINES = ("pandas", "polars", "spark")
CONTENDERS = ("hand-written", "odibi", "odibi-in-memory", "odibi-dagster", "pypi")
LABELS = {"hand-written": "hand-written", "odibi": "odibi",
          "odibi-in-memory": "odibi, polars in memory", "odibi-dagster": "odibi run (Dagster)",
          "pypi": "odibi 3.15 (PyPI)"}
CHECKED = ("odibi", "odibi-in-memory", "odibi-dagster")  # regressions of these fail --check
# The scenarios' YAML runs polars with `polars: {streaming: true}`; the in-memory contender and
# the published odibi (which refuses the key) get the YAML without this line.
STREAMING_LINE = "\npolars: {streaming: true}\n"
# In-memory engines (and modes) above this many rows do not fit the machine.
MAX_ROWS = {"pandas": 10_000_000, "polars-in-memory": 10_000_000}
PYPI_ENGINES = ("pandas", "polars")  # its venv carries no pyspark (see README)
DAGSTER_NODES = 200
TOLERANCE = {"wall": 0.25, "peak": 0.25, "load": 0.25, "overhead": 0.25}
FLOOR = {"wall": 0.5, "peak": 64.0, "load": 0.2, "overhead": 10.0}
TARGETS_TEXT = {
    "polars_time": "polars engine within 1.2x of hand-written polars time (scenarios 1-3)",
    "polars_peak": "polars engine within 1.5x of hand-written polars peak memory "
                   "(scenarios 1-3)",
    "pypi": "at least 2x faster than the published odibi (same YAML and engine)",
    "load": "Dagster definition load for 200 nodes under 2 s",
    "overhead": "orchestration overhead per asset under 100 ms (in-process executor)",
}


# --- plan ----------------------------------------------------------------------------------------


def cell_key(scenario: str, engine: str, rows: int, contender: str) -> str:
    return f"{scenario}|{engine}|{rows}|{contender}"


def not_run_reason(scenario: str, engine: str, rows: int, contender: str, *,
                   available: dict[str, str | None], pypi: dict,
                   cells: dict[str, dict] | None = None) -> str | None:
    """Why a cell of the plan is not run here, or None."""
    if available.get(engine):
        return available[engine]
    if contender == "odibi-in-memory" and (engine != "polars" or scenario not in DATA_SCENARIOS):
        return "the polars engine's in-memory mode: polars and scenarios 1-3 only"
    if contender == "odibi-in-memory" and rows > MAX_ROWS["polars-in-memory"]:
        return (f"in memory, odibi holds the node's whole output: above "
                f"{MAX_ROWS['polars-in-memory']:,} rows it does not fit this machine (the "
                "streaming mode is the `odibi` row; --allow-large to try)")
    if scenario in DATA_SCENARIOS and engine in MAX_ROWS and rows > MAX_ROWS[engine]:
        return (f"{engine} holds the whole input in memory: above {MAX_ROWS[engine]:,} rows "
                "it does not fit this machine (--allow-large to try)")
    if contender == "pypi" and scenario in DATA_SCENARIOS:
        smaller = [c for c in (cells or {}).values() if c["contender"] == "pypi"
                   and c["scenario"] == scenario and c["engine"] == engine
                   and c["rows"] < rows and c["status"] == "failed"]
        if smaller:
            return (f"failed at {smaller[0]['rows']:,} rows already (not retried at a larger "
                    f"size): {_first_error(smaller[0].get('reason') or '')}")
    if contender == "pypi":
        if engine not in PYPI_ENGINES:
            return ("the PyPI contender's environment has pandas and polars only (pyspark and "
                    "the Delta jars are not installed in it)")
        if pypi.get("error"):
            return f"the PyPI odibi environment could not be made: {pypi['error']}"
    return None


# --- the PyPI contender --------------------------------------------------------------------------


def ensure_pypi(venv: Path = PYPI_VENV, *, with_dagster: bool = True) -> dict:
    """The published odibi in its own virtual environment, made on demand: ``{"python",
    "version"}`` or ``{"error"}``."""
    python = venv / "bin" / "python"
    wanted = [PYPI_SPEC] + ([PYPI_DAGSTER] if with_dagster else [])

    def installed() -> dict | None:
        if not python.exists():
            return None
        probe = subprocess.run(
            [str(python), "-c", "import importlib.metadata as m, json; v = {}\n"
             "for p in ('odibi', 'dagster', 'polars', 'pandas'):\n"
             "    try: v[p] = m.version(p)\n"
             "    except m.PackageNotFoundError: pass\n"
             "print(json.dumps(v))"], capture_output=True, text=True, check=False)
        if probe.returncode != 0:
            return None
        return json.loads(probe.stdout)

    versions = installed()
    if versions and versions.get("odibi", "").startswith("3.15.") and (
            not with_dagster or "dagster" in versions):
        return {"python": str(python), "versions": versions}
    print(f"making the PyPI odibi environment at {venv} ...", flush=True)
    try:
        if not python.exists():
            subprocess.run(["python3", "-m", "venv", str(venv)], check=True,
                           capture_output=True, text=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", *wanted], check=True,
                       capture_output=True, text=True, timeout=1800)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        detail = getattr(exc, "stderr", "") or str(exc)
        return {"error": f"{' '.join(wanted)}: {str(detail).strip().splitlines()[-1:]}"}
    versions = installed() or {}
    if not versions.get("odibi"):
        return {"error": "odibi is not importable in the new environment"}
    return {"python": str(python), "versions": versions}


# --- projects and commands -----------------------------------------------------------------------


def write_project(scenario: str, run_dir: Path, landing: Path, engine: str, *,
                  streaming: bool = True) -> Path:
    """The scenario's YAML under ``run_dir``, reading ``landing`` and running on ``engine``
    (polars streaming unless ``streaming`` is false)."""
    source = SCENARIO_DIR / scenario / "odibi.yaml"
    text = source.read_text(encoding="utf-8")
    where = f"benchmarks/scenarios/{scenario}/odibi.yaml"
    text = harness.replace_once(text, "\nengine: polars\n", f"\nengine: {engine}\n", where)
    if not streaming:
        text = harness.replace_once(text, STREAMING_LINE, "\n", where)
    text = harness.replace_once(text, "\n  landing: ./landing\n",
                                f"\n  landing: {landing.resolve()}\n", where)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "odibi.yaml").write_text(text, encoding="utf-8")
    return run_dir / "odibi.yaml"


def command_for(contender: str, scenario: str, engine: str, run_dir: Path,
                landing: Path, pypi: dict) -> tuple[list[str], dict]:
    """The command and environment that run ``contender`` on the scenario in ``run_dir``."""
    env = dict(os.environ, DAGSTER_HOME=str(run_dir / ".dagster_home"))
    if contender == "hand-written":
        script = HANDWRITTEN / f"{engine}_suite.py"
        return [sys.executable, str(script), scenario, "--landing", str(landing), "--lake",
                str(run_dir / "lake")], env
    project = write_project(scenario, run_dir, landing, engine,
                            streaming=contender in ("odibi", "odibi-dagster"))
    if contender in ("odibi", "odibi-in-memory"):
        return [sys.executable, str(harness.HARNESS), "odibi", str(run_dir)], env
    if contender == "odibi-dagster":
        (run_dir / ".dagster_home").mkdir(parents=True, exist_ok=True)
        return [str(Path(sys.executable).with_name("odibi")), "run", str(run_dir)], env
    bin_dir = str(Path(pypi["python"]).parent)
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
    return [pypi["python"], str(HERE / "pypi_runner.py"), "run", str(project)], env


def output_spec(scenario: str, contender: str, lake: Path) -> dict:
    """What ``scenario`` writes, for ``harness.verify``. Quarantine tables are compared on
    their data columns (their ``_``-prefixed metadata holds times, batch ids and each tool's
    wording). The published odibi writes its quarantine as one parquet file."""
    if scenario == "gold":
        return {"gold.sales_by_day": {"path": str(lake / "gold" / "sales_by_day"),
                                      "format": "delta"}}
    quarantine_format = "parquet" if contender == "pypi" else "delta"
    return {"silver.orders": {"path": str(lake / "silver" / "orders"), "format": "delta"},
            "quarantine.orders": {"path": str(lake / "_quarantine" / "orders"),
                                  "format": quarantine_format, "exclude_prefix": "_"}}


def expected_counts(scenario: str, manifest: dict) -> dict | None:
    """Rows the generator's manifest says the outputs must hold."""
    orders, extra = manifest["orders"], manifest["increment"]
    if scenario == "ingest":
        return {"silver.orders": orders["expected_valid"],
                "quarantine.orders": orders["expected_quarantined"]}
    if scenario == "incremental":
        return {"silver.orders": orders["expected_valid"] + extra["expected_valid"],
                "quarantine.orders": orders["expected_quarantined"]
                + extra["expected_quarantined"]}
    return None


def clone_tree(source: Path, target: Path) -> None:
    """A copy of ``source`` at ``target``; the data files of Delta tables (immutable once
    written) are hard links, everything else is copied (state files are rewritten in place)."""
    for folder, dirs, files in os.walk(source):
        here = Path(folder)
        relative = here.relative_to(source)
        (target / relative).mkdir(parents=True, exist_ok=True)
        in_delta = any((source / Path(*relative.parts[:i]) / "_delta_log").is_dir()
                       for i in range(len(relative.parts) + 1))
        for name in files:
            src, dst = here / name, target / relative / name
            if in_delta and name.endswith(".parquet"):
                try:
                    os.link(src, dst)
                    continue
                except OSError:
                    pass
            shutil.copy2(src, dst)


def link_tree(source: Path, target: Path) -> None:
    """``target`` mirrors ``source`` with hard links (read-only input data)."""
    for folder, _, files in os.walk(source):
        here = Path(folder)
        (target / here.relative_to(source)).mkdir(parents=True, exist_ok=True)
        for name in files:
            dst = target / here.relative_to(source) / name
            try:
                os.link(here / name, dst)
            except OSError:
                shutil.copy2(here / name, dst)


# --- running the plan ----------------------------------------------------------------------------


class Runner:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.work: Path = args.work
        self.cells: dict[str, dict] = {}
        self.pypi: dict = {}
        self.available: dict[str, str | None] = {}
        # --merge: the results this run adds to (a hand-written reference measured before)
        self.earlier: dict[str, dict] = {}

    # -- one measured run -------------------------------------------------------------------
    def measure(self, command: list[str], env: dict, run_dir: Path, label: str) -> dict:
        harness.wait_for_quiet(self.args.wait_idle)
        run_dir.mkdir(parents=True, exist_ok=True)
        measured = harness.measure(command, timeout=self.args.timeout, env=env,
                                   log=run_dir / "stderr.log", cwd=ROOT,
                                   max_rss_mb=self.args.max_rss_mb)
        if measured["code"] != 0:
            report = measured.get("report") or {}
            reason = "; ".join(report.get("failed", [])) if report.get("failed") else ""
            if measured["over_memory"]:
                measured["failure"] = (f"stopped: its resident set passed --max-rss "
                                       f"({self.args.max_rss_mb:,.0f} MB): it does not fit")
            elif measured["timed_out"]:
                measured["failure"] = f"timed out after {self.args.timeout:.0f} s"
            else:
                measured["failure"] = (f"exit {measured['code']}: "
                                       + (reason or measured["stderr_tail"][-1500:]))
            print(f"{label}  FAILED {measured['failure'][:400]}", flush=True)
        else:
            print(f"{label}  {measured['wall']:8.2f} s  CPU {measured['cpu']:7.1f} s  "
                  f"peak {measured['peak_mb']:7.0f} MB  (others {measured['others_cpu']:.0%})",
                  flush=True)
        return measured

    def new_cell(self, scenario: str, engine: str, rows: int, contender: str) -> dict:
        cell = {"scenario": scenario, "engine": engine, "rows": rows, "contender": contender,
                "status": "pending", "runs": [], "outputs": None, "reason": None,
                "date": time.strftime("%Y-%m-%d", time.gmtime())}
        self.cells[cell_key(scenario, engine, rows, contender)] = cell
        return cell

    # -- scenarios 1-3 ------------------------------------------------------------------------
    def data_scenario(self, scenario: str, engine: str, rows: int, data: Path,
                      manifest: dict) -> None:
        label_rows = datasets.size_label(rows)
        cells = {}
        for contender in self.args.contenders:
            cell = self.new_cell(scenario, engine, rows, contender)
            reason = not_run_reason(scenario, engine, rows, contender,
                                    available=self.available, pypi=self.pypi,
                                    cells=self.cells)
            if reason:
                cell.update(status="not run", reason=reason)
                print(f"{scenario:11s} {engine:6s} {label_rows:>5s} {contender:13s} not run: "
                      f"{reason}", flush=True)
                continue
            cells[contender] = cell
        if not cells:
            return
        base = self.work / "runs" / f"{scenario}-{engine}-{label_rows}"
        shutil.rmtree(base, ignore_errors=True)
        landing = data
        if scenario == "incremental":
            landing = base / "landing"
            link_tree(data / "orders", landing / "orders")
            for contender, cell in cells.items():  # the first run, over the base data
                run_dir = base / contender / "proj"
                command, env = command_for(contender, scenario, engine, run_dir, landing,
                                           self.pypi)
                measured = self.measure(command, env, run_dir,
                                        f"{scenario:11s} {engine:6s} {label_rows:>5s} "
                                        f"{contender:13s} first run (untimed)")
                cell["initial"] = {k: measured[k] for k in ("wall", "peak_mb", "cpu")}
                if measured.get("failure"):
                    cell.update(status="failed", reason="the first run (before the 1% "
                                "increment) failed: " + measured["failure"])
                    continue
                run_dir.rename(base / contender / "proj.base")
            link_tree(data / "increment" / "orders", landing / "orders")
        for attempt in range(self.args.repeats):
            done: dict[str, tuple[Path, dict]] = {}
            for contender, cell in cells.items():
                if cell["status"] in ("failed", "differs"):
                    continue
                run_dir = base / contender / "proj"
                shutil.rmtree(run_dir, ignore_errors=True)
                if scenario == "incremental":
                    clone_tree(base / contender / "proj.base", run_dir)
                command, env = command_for(contender, scenario, engine, run_dir, landing,
                                           self.pypi)
                measured = self.measure(command, env, run_dir,
                                        f"{scenario:11s} {engine:6s} {label_rows:>5s} "
                                        f"{contender:13s} #{attempt + 1}")
                if measured.get("failure"):
                    cell.update(status="failed", reason=measured["failure"])
                    continue
                done[contender] = (run_dir, measured)
            self.check_outputs(scenario, cells, done)

        if not self.args.keep:
            shutil.rmtree(base, ignore_errors=True)
        self.judge(cells, expected_counts(scenario, manifest))

    def check_outputs(self, scenario: str, cells: dict[str, dict],
                      done: dict[str, tuple[Path, dict]]) -> None:
        """Read back the outputs of one round of runs (one verification process for all
        contenders), record each run, and free the run folders."""
        spec = {f"{contender}::{table}": item for contender, (run_dir, _) in done.items()
                for table, item in output_spec(scenario, contender, run_dir / "lake").items()}
        try:
            found = harness.verify(spec, self.args.timeout) if spec else {}
            error = None
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            found, error = {}, _one_line(str(exc))[-400:]
        for contender, (run_dir, measured) in done.items():
            cell = cells[contender]
            if error is not None:
                cell.update(status="failed", reason=f"the outputs could not be read back: "
                            f"{error}")
                continue
            outputs = {key.split("::", 1)[1]: value for key, value in found.items()
                       if key.startswith(f"{contender}::")}
            if cell["outputs"] is not None and outputs != cell["outputs"]:
                cell.update(status="differs", reason="outputs differ between repeats")
            cell["outputs"] = outputs
            cell["runs"].append({k: measured[k] for k in ("wall", "peak_mb", "cpu")}
                                | {"others_cpu": round(measured["others_cpu"], 3),
                                   "report": _small_report(measured.get("report"))})
            if not self.args.keep:
                shutil.rmtree(run_dir, ignore_errors=True)

    def judge(self, cells: dict[str, dict], expected: dict | None) -> None:
        """Medians, then each contender's outputs against the hand-written ones and the
        manifest: a time counts only when they agree."""
        for cell in cells.values():
            summarize(cell)
            if expected is not None and cell["outputs"]:
                got = {k: (v or {}).get("rows") for k, v in cell["outputs"].items()}
                cell["manifest_ok"] = all(got.get(k) == n for k, n in expected.items())
                if not cell["manifest_ok"]:
                    cell["manifest_detail"] = {k: [got.get(k), n] for k, n in expected.items()}
        hand = cells.get("hand-written")
        if hand is None and cells:  # --merge: the reference an earlier run measured
            some = next(iter(cells.values()))
            hand = self.earlier.get(cell_key(some["scenario"], some["engine"], some["rows"],
                                             "hand-written"))
        reference = hand["outputs"] if hand and hand["status"] == "ok" else None
        for name, cell in cells.items():
            if cell["status"] != "ok":
                continue
            if cell.get("manifest_ok") is False:
                cell.update(status="differs", reason="row counts differ from the generator's "
                            f"manifest: {cell['manifest_detail']}")
                continue
            if name == "hand-written" or reference is None:
                cell["equal"] = None if name != "hand-written" else True
                continue
            cell["equal"] = cell["outputs"] == reference
            if not cell["equal"]:
                cell.update(status="differs", reason="outputs differ from hand-written: "
                            + "; ".join(harness.differences(cell["outputs"], reference)))

    # -- scenario 4 -------------------------------------------------------------------------
    def dagster_scenario(self, engine: str) -> None:
        nodes = self.args.nodes
        for contender in ("odibi", "pypi"):
            if contender not in self.args.contenders:
                continue
            for part in ("load", "run"):
                cell = self.new_cell(f"dagster_200_{part}", engine, nodes, contender)
                reason = not_run_reason("dagster_200", engine, nodes, contender,
                                        available=self.available, pypi=self.pypi)
                if reason:
                    cell.update(status="not run", reason=reason)
                    continue
                self.dagster_cell(cell, engine, nodes, contender, part)
                summarize(cell)
        if not self.args.keep:
            shutil.rmtree(self.work / "runs" / f"dagster-{engine}-{nodes}", ignore_errors=True)
            shutil.rmtree(self.work / "runs" / f"dagster-{engine}", ignore_errors=True)

    def dagster_cell(self, cell: dict, engine: str, nodes: int, contender: str,
                     part: str) -> None:
        source = self.work / "runs" / f"dagster-{engine}-{nodes}" / "source"
        if not (source / "odibi.yaml").exists():
            subprocess.run([sys.executable, str(SCENARIO_DIR / "dagster_200" / "generate.py"),
                            str(source), "--nodes", str(nodes), "--engine", engine],
                           check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
        metrics: list[dict] = []
        for attempt in range(self.args.repeats):
            run_dir = self.work / "runs" / f"dagster-{engine}-{nodes}" / f"{contender}-{part}"
            shutil.rmtree(run_dir, ignore_errors=True)
            shutil.copytree(source, run_dir)
            env = dict(os.environ, DAGSTER_HOME=str(run_dir / ".dagster_home"))
            (run_dir / ".dagster_home").mkdir()
            if contender == "odibi":
                command = [sys.executable, str(HERE / "dagster_child.py"), part, str(run_dir)]
            else:
                env["PATH"] = str(Path(self.pypi["python"]).parent) + os.pathsep + env["PATH"]
                mode = "dagster" if part == "load" else "run"
                command = [self.pypi["python"], str(HERE / "pypi_runner.py"), mode,
                           str(run_dir / "odibi.yaml")]
            measured = self.measure(command, env, run_dir,
                                    f"dagster_200 {engine:6s} {nodes:>5d} {contender:13s} "
                                    f"{part} #{attempt + 1}")
            report = measured.get("report") or {}
            if measured.get("failure"):
                cell.update(status="failed", reason=measured["failure"])
                break
            metrics.append(_dagster_metrics(contender, part, report, nodes))
            cell["runs"].append({k: measured[k] for k in ("wall", "peak_mb", "cpu")}
                                | {"others_cpu": round(measured["others_cpu"], 3)})
            if not self.args.keep:
                shutil.rmtree(run_dir, ignore_errors=True)
        if metrics:
            cell["metrics"] = {k: statistics.median(m[k] for m in metrics)
                               for k in metrics[0] if isinstance(metrics[0][k], (int, float))}
        if contender == "pypi" and part == "load" and cell.get("status") != "failed":
            cell["materialize"] = self.pypi_materialize(source, engine)

    def pypi_materialize(self, source: Path, engine: str) -> dict:
        """One attempt to materialize the published package's Dagster assets (not timed)."""
        run_dir = self.work / "runs" / f"dagster-{engine}" / "pypi-materialize"
        shutil.rmtree(run_dir, ignore_errors=True)
        shutil.copytree(source, run_dir)
        env = dict(os.environ, DAGSTER_HOME=str(run_dir / ".dagster_home"))
        (run_dir / ".dagster_home").mkdir()
        env["PATH"] = str(Path(self.pypi["python"]).parent) + os.pathsep + env["PATH"]
        measured = harness.measure([self.pypi["python"], str(HERE / "pypi_runner.py"),
                                    "dagster", str(run_dir / "odibi.yaml"), "--materialize"],
                                   timeout=self.args.timeout, env=env, cwd=ROOT)
        report = measured.get("report") or {}
        if not self.args.keep:
            shutil.rmtree(run_dir, ignore_errors=True)
        return {"success": report.get("success"), "failed_steps": report.get("failed_steps"),
                "first_failure": report.get("first_failure"),
                "seconds": report.get("materialize_seconds")}

    # -- memory profile -----------------------------------------------------------------------
    def memory_profile(self, rows: int, data: Path) -> dict:
        """Scenario 1's odibi node per engine, in three instrumented processes (RSS per
        phase, tracemalloc, memray when it installs); see memprofile.py."""
        memray = ensure_memray() if self.args.memray else "not requested (--no-memray)"
        out: dict = {"rows": rows, "engines": {},
                     "profiler": "RSS sampling per phase + tracemalloc"
                     + (f" + memray {memray}" if memray[:1].isdigit()
                        else f"; memray {memray}")}
        modes = ["--rss", "--tracemalloc"] + (["--memray"] if memray[:1].isdigit() else [])
        for name in self.args.memprofile_engines:
            engine = name.split("-")[0]  # polars-in-memory: the polars engine, not streaming
            if self.available.get(engine):
                out["engines"][name] = {"error": self.available[engine]}
                continue
            merged: dict = {}
            for mode in modes:
                run_dir = self.work / "runs" / f"memprofile-{name}"
                shutil.rmtree(run_dir, ignore_errors=True)
                write_project("ingest", run_dir, data, engine,
                              streaming=name != "polars-in-memory")
                print(f"memory profile of scenario 1 on {name} at {rows:,} rows ({mode[2:]})"
                      " ...", flush=True)
                child = subprocess.run([sys.executable, str(HERE / "memprofile.py"),
                                        str(run_dir), mode], capture_output=True, text=True,
                                       cwd=ROOT, check=False, timeout=self.args.timeout)
                lines = [x for x in child.stdout.splitlines() if x.startswith("{")]
                if child.returncode != 0 or not lines:
                    error = (child.stderr.strip().splitlines() or ["?"])[-1][:500]
                    merged.setdefault("errors", []).append(f"{mode[2:]}: {error}")
                else:
                    merged.update(json.loads(lines[-1]))
                if not self.args.keep:
                    shutil.rmtree(run_dir, ignore_errors=True)
            traced = {p["phase"]: p["traced_peak_mb"] for p in merged.pop("traced_phases", [])}
            for phase in merged.get("phases", []):
                phase["traced_peak_mb"] = traced.get(phase["phase"])
            if "phases" not in merged:
                merged["error"] = "; ".join(merged.get("errors", ["no profile"]))
            out["engines"][name] = merged
        return out


def ensure_memray(target: Path = HERE / ".venvs" / "memray") -> str:
    """memray installed (wheel only, no dependencies) into ``target``: its version, or why
    not."""
    probe = [sys.executable, "-c", "import sys; sys.path.insert(0, %r); import memray; "
             "print(memray.__version__)" % str(target)]
    found = subprocess.run(probe, capture_output=True, text=True, check=False)
    if found.returncode == 0:
        return found.stdout.strip()
    installed = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                                "--only-binary", ":all:", "--target", str(target), "memray"],
                               capture_output=True, text=True, check=False)
    if installed.returncode != 0:
        return "did not install: " + (installed.stderr.strip().splitlines() or ["?"])[-1]
    found = subprocess.run(probe, capture_output=True, text=True, check=False)
    return found.stdout.strip() if found.returncode == 0 else \
        "installed but not importable: " + (found.stderr.strip().splitlines() or ["?"])[-1]


def _small_report(report: dict | None) -> dict | None:
    """What to keep of a child's JSON report (phase times of odibi's nodes, setup time)."""
    if not report:
        return None
    keep = {k: report[k] for k in ("setup_seconds", "pipeline_seconds", "import_seconds",
                                   "load_seconds") if k in report}
    nodes = report.get("nodes")
    if isinstance(nodes, dict):
        keep["nodes"] = {k: {"seconds": v.get("seconds"), "phases": v.get("phases")}
                         for k, v in list(nodes.items())[:10]}
    return keep


def _dagster_metrics(contender: str, part: str, report: dict, nodes: int) -> dict:
    if contender == "odibi":
        keep = ("import_seconds", "load_seconds", "defs_seconds", "resolve_seconds",
                "run_seconds", "node_work_seconds", "overhead_ms_per_asset")
        return {k: report[k] for k in keep if report.get(k) is not None}
    if part == "load":
        return {k: report[k] for k in ("import_seconds", "load_seconds") if k in report}
    node_seconds = sum(n.get("seconds") or 0.0 for n in report.get("nodes", {}).values())
    total = report.get("pipeline_seconds") or 0.0
    return {"load_seconds": report.get("load_seconds", 0.0), "run_seconds": total,
            "node_work_seconds": node_seconds,
            "overhead_ms_per_asset": 1000 * (total - node_seconds) / nodes}


def summarize(cell: dict) -> None:
    runs = cell["runs"]
    if cell["status"] == "pending":
        cell["status"] = "ok" if runs else "failed"
    for key in ("wall", "peak_mb", "cpu"):
        cell[key] = harness.median_of(runs, key)
    loads = [r["others_cpu"] for r in runs if "others_cpu" in r]
    cell["others_cpu"] = [min(loads), max(loads)] if loads else None


# --- targets and regressions ---------------------------------------------------------------------


def ratio(cell: dict | None, reference: dict | None, key: str) -> float | None:
    if not cell or not reference or cell.get("status") != "ok" or \
            reference.get("status") != "ok":
        return None
    if not cell.get(key) or not reference.get(key):
        return None
    return cell[key] / reference[key]


def evaluate_targets(cells: dict[str, dict]) -> list[dict]:
    """The issue's targets against the cells: each ``{"target", "scope", "value", "met"}``
    (``met`` None: cannot be measured, with the reason in ``value``)."""
    out: list[dict] = []
    by_key = cells
    rows_seen = sorted({c["rows"] for c in cells.values() if c["scenario"] in DATA_SCENARIOS})
    for rows in rows_seen:
        for scenario in DATA_SCENARIOS:
            hand = by_key.get(cell_key(scenario, "polars", rows, "hand-written"))
            for ours in ("odibi", "odibi-in-memory"):
                odibi = by_key.get(cell_key(scenario, "polars", rows, ours))
                if odibi is None or odibi.get("status") == "not run":
                    continue
                scope = f"{scenario}, polars, {datasets.size_label(rows)} rows" \
                    + (", in memory" if ours == "odibi-in-memory" else ", streaming")
                for target, key, limit in (("polars_time", "wall", 1.2),
                                           ("polars_peak", "peak_mb", 1.5)):
                    value = ratio(odibi, hand, key)
                    if value is None:
                        out.append({"target": target, "scope": scope, "met": None,
                                    "value": _why_missing(odibi, hand)})
                    else:
                        out.append({"target": target, "scope": scope, "met": value <= limit,
                                    "value": f"{value:.2f}x (limit {limit}x)"})
        for scenario in DATA_SCENARIOS:
            for engine in PYPI_ENGINES:
                pypi = by_key.get(cell_key(scenario, engine, rows, "pypi"))
                if pypi is None:
                    continue
                scope = f"{scenario}, {engine}, {datasets.size_label(rows)} rows"
                for ours in ("odibi", "odibi-dagster"):
                    mine = by_key.get(cell_key(scenario, engine, rows, ours))
                    if mine is None:
                        continue
                    value = ratio(pypi, mine, "wall")
                    name = f"{scope}, {LABELS[ours]}"
                    if value is None:
                        out.append({"target": "pypi", "scope": name, "met": None,
                                    "value": _why_missing(mine, pypi, "PyPI odibi")})
                    else:
                        out.append({"target": "pypi", "scope": name, "met": value >= 2.0,
                                    "value": f"PyPI takes {value:.2f}x odibi's time "
                                             "(needs ≥ 2x)"})
    for cell in cells.values():
        if cell["contender"] != "odibi" or not cell["scenario"].startswith("dagster_200"):
            continue
        metrics = cell.get("metrics") or {}
        scope = f"{cell['engine']}, {cell['rows']} nodes"
        if cell["scenario"] == "dagster_200_load":
            value = metrics.get("load_seconds")
            out.append({"target": "load", "scope": scope,
                        "met": None if value is None else value < 2.0,
                        "value": (cell.get("reason") or "not measured") if value is None
                        else f"{value:.2f} s"})
        else:
            value = metrics.get("overhead_ms_per_asset")
            out.append({"target": "overhead", "scope": scope,
                        "met": None if value is None else value < 100.0,
                        "value": (cell.get("reason") or "not measured") if value is None
                        else f"{value:.0f} ms/asset"})
    return out


def _why_missing(cell: dict | None, reference: dict | None, name: str = "hand-written") -> str:
    for who, c in (("odibi", cell), (name, reference)):
        if c is None:
            return f"{who} not in this run"
        if c.get("status") != "ok":
            return f"{who} {c.get('status')}: {_first_error(c.get('reason') or '')}"
    return "no figure"


def compare_results(committed: dict, fresh: dict, *, tolerance: dict | None = None,
                    floor: dict | None = None, basis: str = "absolute") -> list[dict]:
    """Each checked figure of ``fresh`` against ``committed`` (both RESULTS.json documents).

    Returns one finding per comparison: ``{"key", "what", "old", "new", "change",
    "regression"}``. A wall or peak figure regresses when it grew by more than ``tolerance``
    *and* by more than ``floor`` (absolute units: s, MB); with ``basis="ratio"`` the figures
    compared are the ratios to the same run's hand-written figure (machine speed cancels out,
    the floor then applies to the underlying absolute difference). Scenario 4's load time and
    per-asset overhead are compared the same way. A cell that was ok and now failed or
    differs is a regression too.
    """
    tolerance = {**TOLERANCE, **(tolerance or {})}
    floor = {**FLOOR, **(floor or {})}
    old_cells, new_cells = committed.get("cells", {}), fresh.get("cells", {})
    findings = []
    for key, new in sorted(new_cells.items()):
        if new.get("contender") not in CHECKED:
            continue
        old = old_cells.get(key)
        if old is None or old.get("status") != "ok":
            continue
        if new.get("status") != "ok":
            findings.append({"key": key, "what": "status", "old": "ok",
                             "new": f"{new.get('status')}: {(new.get('reason') or '')[:200]}",
                             "change": None, "regression": True})
            continue
        pairs = [("wall", "wall", "wall"), ("peak", "peak_mb", "peak")]
        for what, field, kind in pairs:
            a, b = old.get(field), new.get(field)
            if a is None or b is None:
                continue
            if basis == "ratio" and old["scenario"] in DATA_SCENARIOS:
                hand_key = cell_key(old["scenario"], old["engine"], old["rows"], "hand-written")
                ha, hb = old_cells.get(hand_key), new_cells.get(hand_key)
                ra, rb = ratio(old, ha, field), ratio(new, hb, field)
                if ra is None or rb is None:
                    continue
                change = rb / ra - 1
                regression = change > tolerance[kind] and (b - a) > floor[kind]
                findings.append({"key": key, "what": f"{what} (x hand-written)",
                                 "old": round(ra, 3), "new": round(rb, 3),
                                 "change": round(change, 3), "regression": regression})
                continue
            change = b / a - 1 if a else 0.0
            regression = change > tolerance[kind] and (b - a) > floor[kind]
            findings.append({"key": key, "what": what, "old": round(a, 3), "new": round(b, 3),
                             "change": round(change, 3), "regression": regression})
        for what, field in (("load", "load_seconds"), ("overhead", "overhead_ms_per_asset")):
            a = (old.get("metrics") or {}).get(field)
            b = (new.get("metrics") or {}).get(field)
            if a is None or b is None:
                continue
            change = b / a - 1 if a else 0.0
            regression = change > tolerance[what] and (b - a) > floor[what]
            findings.append({"key": key, "what": field, "old": round(a, 3), "new": round(b, 3),
                             "change": round(change, 3), "regression": regression})
        if new.get("equal") is False or (old.get("outputs") and new.get("outputs")
                                         and old.get("rows") == new.get("rows")
                                         and old["outputs"] != new["outputs"]):
            findings.append({"key": key, "what": "outputs", "old": "as committed",
                             "new": "changed", "change": None, "regression": True})
    return findings


# --- the results file ----------------------------------------------------------------------------


def render(doc: dict) -> str:
    meta = doc["meta"]
    cells = doc["cells"]
    lines = ["# Load and stress suite: results", ""]
    if meta.get("label"):
        lines += [f"> **{meta['label']}**", ""]
    lines += [
        "Regenerated by `benchmarks/run.py` (see benchmarks/README.md for what each number "
        "means); the data behind this page is `benchmarks/RESULTS.json`, which "
        "`benchmarks/run.py --check` compares a fresh run with.", "",
        *(f"- Command: `{command}`" for command in meta.get("commands") or [meta["command"]]),
        f"- Run on {meta['date']}; each figure is the median of the whole-process runs its row "
        "counts (column `runs`).",
        *(["- The machine and the code, as the last command recorded them:"]
          if len(meta.get("commands") or []) > 1 else []),
        *meta.get("machine", []),
        *([f"- This page was re-rendered from RESULTS.json (`--render-only`) at "
           f"{meta['rendered_at']}; no figure was measured again."]
          if meta.get("rendered_at") else []),
        f"- Published odibi: {meta.get('pypi') or 'not part of this run'}.", "",
        "## Targets (issue 10)", "",
        "| target | where | value | met? |", "|---|---|---|---|",
    ]
    for item in doc.get("targets", []):
        met = {True: "met", False: "**not met**", None: "cannot be measured"}[item["met"]]
        lines.append(f"| {TARGETS_TEXT[item['target']]} | {item['scope']} | "
                     f"{_cell_text(item['value'])} | {met} |")
    if not doc.get("targets"):
        lines.append("| — | nothing in this run measures a target | | |")
    lines += ["", "## Scenarios 1–3", "",
              "Wall s and peak MB are medians over the repeats; ratios are to hand-written code "
              "on the same engine (1.00 = as fast / as lean as writing it by hand). A figure is "
              "given only when the contender's outputs equal the hand-written outputs (rows and "
              "checksums) and the generator's row counts.", "",
              "| scenario | engine | rows | contender | runs | wall s | peak MB | CPU s "
              "| x hand-written (wall) | x hand-written (peak) | outputs |",
              "|---|---|---:|---|---:|---:|---:|---:|---:|---:|---|"]
    notes: list[str] = []
    order = {name: i for i, name in enumerate(CONTENDERS)}
    data_cells = sorted((c for c in cells.values() if c["scenario"] in DATA_SCENARIOS),
                        key=lambda c: (c["rows"], DATA_SCENARIOS.index(c["scenario"]),
                                       ENGINES.index(c["engine"]), order[c["contender"]]))
    for cell in data_cells:
        hand = cells.get(cell_key(cell["scenario"], cell["engine"], cell["rows"],
                                  "hand-written"))
        lines.append(_row(cell, hand))
        if cell["status"] != "ok" and cell.get("reason"):
            notes.append(f"- {SCENARIO_TITLES[cell['scenario']]}, {cell['engine']}, "
                         f"{cell['rows']:,} rows, {LABELS[cell['contender']]}: "
                         f"{cell['status']}: {_brief(cell['reason'])}")
    lines.append("")
    incremental = [c for c in data_cells if c["scenario"] == "incremental" and c.get("initial")]
    if incremental:
        lines += ["Scenario 3 times only the incremental run; each contender's first run over "
                  "the base data (untimed, once) took: " + ", ".join(
                      f"{c['engine']} {LABELS[c['contender']]} {c['initial']['wall']:.1f} s"
                      for c in incremental) + ".", ""]
    lines += _dagster_section(cells, notes)
    lines += _memory_section(doc.get("memprofile"))
    lines += _pypi_section(doc)
    loads = [c["others_cpu"] for c in cells.values() if c.get("others_cpu")]
    if loads:
        lines += ["## Conditions", "",
                  f"- Other processes used {min(x[0] for x in loads):.0%}–"
                  f"{max(x[1] for x in loads):.0%} of the machine's CPU time during the runs "
                  "(wall times swing with that; CPU s is steadier).", ""]
    if notes:
        lines += ["## Not run, failed or different", "", *notes, ""]
    return "\n".join(lines)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())[:600]


def _cell_text(text: str) -> str:
    """``text`` fit for a markdown table cell: one line, no bare ``|``."""
    return _one_line(text).replace("|", "\\|")


def _fmt(value: float | None, digits: int) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def _row(cell: dict, hand: dict | None) -> str:
    first = (f"| {SCENARIO_TITLES[cell['scenario']]} | {cell['engine']} | {cell['rows']:,} | "
             f"{LABELS[cell['contender']]} | {len(cell.get('runs') or [])} |")
    if cell["status"] == "not run":
        return f"{first} not run | | | | | see below |"
    if cell["status"] == "failed":
        return f"{first} failed | | | | | see below |"
    figures = (f" {_fmt(cell['wall'], 2)} | {_fmt(cell['peak_mb'], 0)} | "
               f"{_fmt(cell['cpu'], 1)} |")
    if cell["status"] == "differs":
        return f"{first}{figures} | | **differ** (time not counted) |"
    if cell["contender"] == "hand-written":
        return f"{first}{figures} 1.00 | 1.00 | reference |"
    wall, peak = ratio(cell, hand, "wall"), ratio(cell, hand, "peak_mb")
    outputs = "= hand-written" if cell.get("equal") else "no reference"
    return f"{first}{figures} {_fmt(wall, 2) or '—'} | {_fmt(peak, 2) or '—'} | {outputs} |"


def _dagster_section(cells: dict, notes: list[str]) -> list[str]:
    found = sorted((c for c in cells.values() if c["scenario"].startswith("dagster_200")),
                   key=lambda c: (ENGINES.index(c["engine"]), c["contender"], c["scenario"]))
    if not found:
        return []
    lines = ["## Scenario 4: a generated 200-node project", "",
             "Trivial nodes (one SQL step each, no write), so the time around them is "
             "orchestration. **load s**: `defs_from_project` + resolving the asset graph and "
             "the asset job, in a process that has already imported the libraries (import s "
             "apart). **overhead ms/asset** = (run wall time − the nodes' own recorded "
             "durations) / assets, for one Dagster run of every asset with the in-process "
             "executor (`run_project(..., executor=\"in_process\")`, what `odibi run` does). "
             "Wall s and peak MB are the whole process's.", "",
             "| part | engine | nodes | contender | wall s | peak MB | import s | load s "
             "| run s | node work s | overhead ms/asset |",
             "|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    for cell in found:
        m = cell.get("metrics") or {}
        part = SCENARIO_TITLES[cell["scenario"]]
        name = LABELS[cell["contender"]]
        if cell["contender"] == "pypi":
            name += (" — `DagsterFactory`" if cell["scenario"].endswith("load")
                     else " — its own runner, no Dagster")
        if cell["status"] != "ok":
            lines.append(f"| {part} | {cell['engine']} | {cell['rows']} | {name} | "
                         f"{cell['status']} | | | | | | |")
            notes.append(f"- Scenario 4, {cell['engine']}, {name}: {cell['status']}: "
                         f"{_brief(cell.get('reason') or '')}")
            continue
        lines.append(f"| {part} | {cell['engine']} | {cell['rows']} | {name} | "
                     f"{_fmt(cell['wall'], 2)} | {_fmt(cell['peak_mb'], 0)} | "
                     f"{_fmt(m.get('import_seconds'), 2)} | {_fmt(m.get('load_seconds'), 2)} | "
                     f"{_fmt(m.get('run_seconds'), 2)} | {_fmt(m.get('node_work_seconds'), 2)} "
                     f"| {_fmt(m.get('overhead_ms_per_asset'), 0)} |")
    lines.append("")
    for cell in found:
        mat = cell.get("materialize")
        if mat:
            lines_of = [x for x in str(mat.get("first_failure") or "?").splitlines()
                        if x.strip()]
            verdict = "succeeded" if mat.get("success") else (
                f"failed ({mat.get('failed_steps')} failed steps; the first: "
                f"`{_one_line(lines_of[0])[:160]}` … `{_one_line(lines_of[-1])[:200]}`)")
            lines += [f"- Published odibi, {cell['engine']}: materializing the assets of its "
                      f"`DagsterFactory` {verdict}.", ""]
    return lines


def _memory_section(profile: dict | None) -> list[str]:
    if not profile:
        return []
    lines = [f"## Memory profile of scenario 1 ({profile['rows']:,} rows)", "",
             "Extra runs of the odibi node per engine (not timed above), instrumented by "
             "`benchmarks/memprofile.py`, each profiler in its own process, the libraries "
             "imported before the node starts (baseline). Per lifecycle phase: seconds, the "
             "resident set at its start and its peak during it (sampled every 10 ms), the "
             "peak of the memory Python's allocator traced (`tracemalloc`: Python objects and "
             "numpy buffers; Arrow, DuckDB and polars allocate outside it) and Arrow's "
             "allocated bytes at its end. `collect`, `batch` and `result` are the runner's "
             "untimed steps (computing a lazy frame; the batch identity; row counts and sample "
             f"rows). Profilers: {profile.get('profiler')}.", ""]
    for engine, data in profile["engines"].items():
        if data.get("error"):
            lines += [f"- {engine}: not profiled: {_one_line(data['error'])}", ""]
            continue
        lines += [f"### {engine}: peak RSS {data['peak_rss_mb']:.0f} MB (baseline after "
                  f"imports {data['baseline_rss_mb']:.0f} MB)"
                  + (f"; memray high-water mark {data['memray_peak_mb']:.0f} MB"
                     if data.get("memray_peak_mb") is not None else ""), "",
                  "| phase | s | RSS at start MB | RSS peak MB | traced peak MB | "
                  "Arrow allocated MB (end) |", "|---|---:|---:|---:|---:|---:|"]
        for phase in data["phases"]:
            lines.append(f"| {phase['phase']} | {phase['seconds']:.2f} | "
                         f"{phase['rss_start_mb']:.0f} | {phase['rss_peak_mb']:.0f} | "
                         f"{_fmt(phase.get('traced_peak_mb'), 1)} | {phase['arrow_mb']:.0f} |")
        lines.append("")
        if data.get("memray"):
            lines += ["Biggest allocations alive at the high-water mark (memray, native frames "
                      "included; the allocating function, then the Python and odibi frames "
                      "that led to it):", ""]
            lines += [f"- {x}" for x in data["memray"][:8]]
            lines.append("")
        if data.get("top"):
            lines += ["Biggest Python-traced allocations (tracemalloc: grown during a phase, "
                      "alive at its end):", ""]
            lines += [f"- {t['mb']:.1f} MB in {t['phase']}: `{t['where']}`"
                      for t in data["top"][:6]]
            lines.append("")
        for error in data.get("errors", []):
            lines += [f"- not measured: {_one_line(error)}", ""]
    return lines


def _pypi_section(doc: dict) -> list[str]:
    meta = doc["meta"]
    if not meta.get("pypi"):
        return []
    lines = ["## The published odibi (PyPI)", "",
             f"{meta['pypi']}, installed with `pip install \"{PYPI_SPEC}\" \"{PYPI_DAGSTER}\"` "
             "into `benchmarks/.venvs/odibi-pypi` and run with "
             "`PipelineManager.from_yaml(path).run()` (`benchmarks/pypi_runner.py`; the call "
             "`odibi run` makes) on the same YAML files. What it could and could not do:", ""]
    failures: dict[str, list[str]] = {}
    for cell in doc["cells"].values():
        if cell["contender"] != "pypi" or cell["status"] == "ok":
            continue
        text = _first_error(cell.get("reason") or "")
        failures.setdefault(text, []).append(f"{cell['scenario']}/{cell['engine']}/"
                                             f"{cell['rows']:,}")
    ok = sorted({f"{c['scenario']}/{c['engine']}" for c in doc["cells"].values()
                 if c["contender"] == "pypi" and c["status"] == "ok"
                 and c["scenario"] in DATA_SCENARIOS})
    if ok:
        lines.append(f"- Ran, outputs equal to hand-written: {', '.join(ok)}.")
    ran = sorted({f"{c['scenario']}/{c['engine']}" for c in doc["cells"].values()
                  if c["contender"] == "pypi" and c["status"] == "ok"
                  and c["scenario"].startswith("dagster_200")})
    if ran:
        lines.append(f"- Scenario 4 (no outputs to compare) ran: {', '.join(ran)}.")
    for text, where in failures.items():
        lines.append(f"- {', '.join(sorted(set(where)))}: {text}")
    lines += [f"- {note}" for note in PYPI_NOTES]
    return lines + [""]


PYPI_NOTES = [
    "Its CLI (`odibi run odibi.yaml`) finishes a successful run and then aborts at interpreter "
    "exit (`FATAL: exception not rethrown`, exit code 134) on this machine; the runner prints "
    "its report and leaves with `os._exit`, so a successful pipeline counts as one.",
    "A stateful high-water mark on a timestamp column fails on its second run (pandas: "
    "`Invalid comparison between dtype=timestamp and str`: the mark is stored as text), so "
    "scenario 3 keys its mark on `order_id` for every contender.",
    "On polars every write fails: `PolarsEngine.write() got an unexpected keyword argument "
    "'register_table'` (its node executor passes an argument its polars engine does not "
    "take); each node is retried with back-off before it fails. An incremental read on polars "
    "fails earlier: the check whether the target exists raises, and its error handler calls "
    "`self._ctx.warning`, an attribute its `NodeExecutor` does not have "
    "(`'NodeExecutor' object has no attribute '_ctx'`).",
    "Its Dagster integration (`odibi.orchestration.dagster.DagsterFactory`) keys assets by "
    "node name alone (a name used in two pipelines is a duplicate asset key: the generated "
    "project names nodes `p<pipeline>_n<i>`), and each asset shells out to "
    "`odibi run --pipeline P --node N`, a command line without the project file its CLI "
    "requires. Its docstring's `odibi.config.load_config` does not exist "
    "(`load_config_from_file` does).",
]


def _brief(text: str) -> str:
    """A failure as its first line plus the error it names (long tracebacks and the
    published package's advice lists left out)."""
    first = _one_line(str(text).strip().splitlines()[0] if str(text).strip() else "")
    error = _first_error(text)
    return first if error in first else f"{first[:200]} … {error}"


def _first_error(text: str) -> str:
    for marker in ("Error: ", "Exception: "):
        if marker in text:
            part = text.split(marker, 1)[1]
            return _one_line(part.split("\n")[0])[:300]
    return _one_line(text)[:300]


# --- main ----------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", type=datasets.parse_size,
                        help="order rows per data set, e.g. 1M 10M 100M (default: 1M, or the "
                             "committed sizes with --check)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--engines", nargs="+", choices=ENGINES,
                        help="default: all (with --check: the committed run's)")
    parser.add_argument("--scenarios", nargs="+", choices=SCENARIOS,
                        help="default: all (with --check: the committed run's)")
    parser.add_argument("--contenders", nargs="+", choices=CONTENDERS,
                        help="default: all (with --check: hand-written, odibi, odibi-dagster: "
                             "the PyPI contender is context, not checked)")
    parser.add_argument("--nodes", type=int, default=DAGSTER_NODES,
                        help="nodes of scenario 4's generated project")
    parser.add_argument("--out", type=Path, default=RESULTS_MD,
                        help="the results page; its data goes to the same name with .json")
    parser.add_argument("--label", default="",
                        help="a line shown at the top of the results page")
    parser.add_argument("--merge", action="store_true",
                        help="keep the cells of the existing results that this run does not "
                             "replace (default: the page holds this run only)")
    parser.add_argument("--data", type=Path, default=HERE / ".data",
                        help="generated data sets (reused while their manifest matches)")
    parser.add_argument("--work", type=Path, default=HERE / ".work",
                        help="run folders (deleted after each run unless --keep)")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per subprocess")
    parser.add_argument("--max-rss", dest="max_rss_mb", type=float, default=_default_max_rss(),
                        help="MB: stop a contender whose process tree's resident set passes "
                             "this (default: 80%% of the machine's memory)")
    parser.add_argument("--wait-idle", type=float, default=20,
                        help="before each run, wait up to this many seconds for other "
                             "processes to leave the CPUs mostly idle (0: do not wait)")
    parser.add_argument("--allow-large", action="store_true",
                        help="run pandas above 10M rows too")
    parser.add_argument("--memprofile-rows", type=datasets.parse_size,
                        help="rows for scenario 1's memory profile (default: 10M if among "
                             "--sizes, else the largest size under it; 0: skip)")
    parser.add_argument("--memprofile-engines", nargs="+",
                        choices=("pandas", "polars", "polars-in-memory"),
                        default=["pandas", "polars", "polars-in-memory"],
                        help="polars: the scenario's streaming mode; polars-in-memory: without it")
    parser.add_argument("--no-memray", dest="memray", action="store_false",
                        help="skip memray in the memory profile (by default it is installed "
                             "on demand, wheel only, into benchmarks/.venvs/memray)")
    parser.add_argument("--check", action="store_true",
                        help="run, then compare with the committed RESULTS.json instead of "
                             "writing the page; exit 1 on a regression")
    parser.add_argument("--basis", choices=("absolute", "ratio"), default="absolute",
                        help="--check compares absolute figures (same machine) or ratios to "
                             "the same run's hand-written figures")
    parser.add_argument("--tolerance", type=float, default=TOLERANCE["wall"],
                        help="--check: allowed growth of a figure (0.25 = 25%%)")
    parser.add_argument("--committed", type=Path,
                        help="--check: the results to compare with (default: --out's .json)")
    parser.add_argument("--render-only", action="store_true",
                        help="rewrite the page from its JSON (after a change of this script's "
                             "rendering), without running anything")
    parser.add_argument("--fresh", type=Path,
                        help="--check: compare these results (a RESULTS.json of an earlier "
                             "run, e.g. from CI) instead of running the suite now")
    args = parser.parse_args(argv)
    if args.allow_large:
        MAX_ROWS.clear()
    return args


def _default_max_rss() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text(encoding="ascii").splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 * 0.8
    except OSError:
        pass
    return None


def results_json(out: Path) -> Path:
    return out.with_suffix(".json")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    committed_path = args.committed or results_json(args.out)
    committed = json.loads(committed_path.read_text(encoding="utf-8")) \
        if committed_path.exists() else None
    known = (committed or {}).get("meta", {}) if args.check else {}
    args.sizes = args.sizes or known.get("sizes") or [1_000_000]
    args.engines = args.engines or known.get("engines") or list(ENGINES)
    args.scenarios = args.scenarios or known.get("scenarios") or list(SCENARIOS)
    args.contenders = args.contenders or [c for c in known.get("contenders", CONTENDERS)
                                          if not args.check or c != "pypi"]
    if args.render_only:
        doc = json.loads(results_json(args.out).read_text(encoding="utf-8"))
        doc["targets"] = evaluate_targets(doc["cells"])
        doc["meta"]["rendered_at"] = harness.source_state()  # on the page only, not the JSON
        args.out.write_text(render(doc), encoding="utf-8")
        print(f"wrote {args.out}")
        return 0
    if args.check and committed is None:
        print(f"--check: no committed results at {committed_path}", file=sys.stderr)
        return 2
    if args.check and args.fresh is not None:
        fresh = json.loads(args.fresh.read_text(encoding="utf-8"))
        findings = compare_results(committed, fresh, tolerance={
            k: args.tolerance for k in TOLERANCE}, basis=args.basis)
        print(render_findings(findings, args.tolerance))
        return 1 if any(f["regression"] for f in findings) else 0
    args.work.mkdir(parents=True, exist_ok=True)
    args.data.mkdir(parents=True, exist_ok=True)
    runner = Runner(args)
    if args.merge and committed:
        runner.earlier = committed.get("cells", {})
    runner.available = {e: harness.engine_available(e) for e in args.engines}
    if "pypi" in args.contenders:
        runner.pypi = ensure_pypi(with_dagster="dagster_200" in args.scenarios)
        if runner.pypi.get("error"):
            print(f"PyPI odibi: {runner.pypi['error']}", flush=True)
    memprofile = None
    for rows in args.sizes:
        if not set(args.scenarios) & set(DATA_SCENARIOS):
            break
        data = datasets.ensure(rows, args.data)
        manifest = json.loads((data / "manifest.json").read_text(encoding="utf-8"))
        for scenario in DATA_SCENARIOS:
            if scenario not in args.scenarios:
                continue
            for engine in args.engines:
                try:
                    runner.data_scenario(scenario, engine, rows, data, manifest)
                except Exception as exc:  # noqa: BLE001 - recorded; the suite goes on
                    for cell in runner.cells.values():
                        if cell["status"] == "pending":
                            cell.update(status="failed", reason=f"the benchmark itself "
                                        f"failed: {type(exc).__name__}: {exc}")
                    print(f"{scenario} {engine} {rows:,}: {type(exc).__name__}: {exc}",
                          flush=True)
    if "dagster_200" in args.scenarios:
        for engine in args.engines:
            if engine == "spark":  # trivial nodes on a JVM measure Spark, not orchestration
                continue
            runner.dagster_scenario(engine)
    profile_rows = args.memprofile_rows
    if profile_rows is None and "ingest" in args.scenarios:
        under = [r for r in args.sizes if r <= 10_000_000]
        profile_rows = max(under) if under else 0
    if profile_rows and not args.check:
        memprofile = runner.memory_profile(profile_rows, datasets.ensure(profile_rows,
                                                                         args.data))
    versions = runner.pypi.get("versions") or {}
    doc = {
        "meta": {
            "command": "python benchmarks/run.py " + shlex.join(argv if argv is not None
                                                                else sys.argv[1:]),
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "label": args.label, "sizes": args.sizes, "repeats": args.repeats,
            "engines": args.engines, "scenarios": args.scenarios,
            "contenders": args.contenders, "machine": harness.machine_facts(),
            "pypi": (f"odibi {versions['odibi']} (pandas {versions.get('pandas')}, polars "
                     f"{versions.get('polars')}, dagster {versions.get('dagster')})"
                     if versions.get("odibi") else runner.pypi.get("error")),
        },
        "cells": runner.cells,
        "memprofile": memprofile,
    }
    if args.merge and committed and not args.check:
        before = committed.get("meta", {})
        doc["meta"]["commands"] = [*(before.get("commands") or [before.get("command")]),
                                   doc["meta"]["command"]]
        for key in ("sizes", "engines", "scenarios", "contenders"):  # what --check re-runs
            doc["meta"][key] = [*before.get(key, []),
                                *(v for v in doc["meta"][key] if v not in before.get(key, []))]
        merged = dict(committed.get("cells", {}))
        merged.update(runner.cells)
        doc["cells"] = merged
        doc["memprofile"] = memprofile or committed.get("memprofile")
    doc["targets"] = evaluate_targets(doc["cells"])
    if args.check:
        fresh_path = args.work / "check-results.json"
        fresh_path.write_text(json.dumps(doc, indent=1, default=str), encoding="utf-8")
        findings = compare_results(committed, doc, tolerance={
            k: args.tolerance for k in TOLERANCE}, basis=args.basis)
        print(render_findings(findings, args.tolerance))
        print(f"fresh results: {fresh_path}")
        return 1 if any(f["regression"] for f in findings) else 0
    results_json(args.out).write_text(json.dumps(doc, indent=1, default=str) + "\n",
                                      encoding="utf-8")
    args.out.write_text(render(doc), encoding="utf-8")
    print(f"wrote {args.out} and {results_json(args.out)}")
    return 0


def render_findings(findings: list[dict], tolerance: float) -> str:
    lines = [f"--check: {len(findings)} comparison(s), tolerance {tolerance:.0%} "
             f"(noise floors: {FLOOR['wall']} s, {FLOOR['peak']:.0f} MB, {FLOOR['load']} s "
             f"load, {FLOOR['overhead']:.0f} ms/asset)"]
    for f in findings:
        change = "" if f["change"] is None else f" ({f['change']:+.0%})"
        flag = "REGRESSION" if f["regression"] else "ok"
        lines.append(f"  {flag:10s} {f['key']} {f['what']}: {f['old']} -> {f['new']}{change}")
    bad = sum(f["regression"] for f in findings)
    lines.append(f"{bad} regression(s)" if bad else "no regression")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
