"""Scenario 4's measurements, each run as one fresh process by ``benchmarks/run.py``:

- ``load PROJECT_DIR``: import ``odibi_dagster`` (timed apart), then
  ``defs_from_project(PROJECT_DIR)`` and the resolution of the asset graph that Dagster does
  when it loads a code location (``Definitions.resolve_asset_graph``, plus the implicit asset
  job): **load s** is the time of those two, i.e. what a code-location (re)load costs once
  Python and the libraries are imported;
- ``run PROJECT_DIR``: load as above, then materialize every asset in one Dagster run with the
  **in-process executor** (``odibi_dagster.execution.run_project``, what ``odibi run`` calls,
  here with ``executor="in_process"``), against a local instance under ``$DAGSTER_HOME``.
  **Node work** is the sum of the nodes' own durations (``NodeResult.duration_seconds``: read,
  transform, validation, write, result); **overhead per asset** =
  (run wall time - node work) / assets: Dagster's step orchestration, event log writes, the IO
  manager's hand-off of each frame (intermediate parquet), asset checks and odibi's stories.

Prints one JSON line.
"""

from __future__ import annotations

import json
import sys
import time

STARTED = time.perf_counter()


def load(project_dir: str) -> tuple[dict, object]:
    import odibi_dagster.definitions as definitions  # noqa: F401 - timed import

    imported = time.perf_counter()
    defs = definitions.defs_from_project(project_dir)
    built = time.perf_counter()
    graph = defs.resolve_asset_graph()
    keys = list(graph.get_all_asset_keys())
    defs.resolve_implicit_global_asset_job_def()
    resolved = time.perf_counter()
    checks = len(list(graph.asset_check_keys)) if hasattr(graph, "asset_check_keys") else None
    return {"import_seconds": imported - STARTED, "defs_seconds": built - imported,
            "resolve_seconds": resolved - built, "load_seconds": resolved - imported,
            "assets": len(keys), "asset_checks": checks}, defs


def run(project_dir: str) -> dict:
    report, _ = load(project_dir)
    from odibi_core.config import load_project
    from odibi_dagster.execution import run_project

    project = load_project(project_dir)
    keys = project.graph.topological_order()
    start = time.perf_counter()
    outcome = run_project(project, keys, executor="in_process")
    total = time.perf_counter() - start
    work = sum(r.duration_seconds or 0.0 for r in outcome.results)
    assets = len(keys)
    report.update({"success": outcome.success, "run_seconds": total, "node_work_seconds": work,
                   "nodes_reported": len(outcome.results),
                   "overhead_ms_per_asset": 1000 * (total - work) / assets if assets else None,
                   "failed": [f"{r.pipeline}.{r.node}" for r in outcome.results
                              if r.status != "success"]})
    return report


def main(argv: list[str]) -> int:
    mode, project_dir = argv[0], argv[1]
    if mode == "load":
        report, _ = load(project_dir)
    elif mode == "run":
        report = run(project_dir)
    else:
        raise SystemExit(f"unknown mode {mode!r}: load | run")
    print(json.dumps(report))
    return 0 if report.get("success", True) and not report.get("failed") else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
