"""Run a project with the *published* ``odibi`` package (PyPI), as one process; print a JSON
report. Executed by ``benchmarks/run.py`` with the interpreter of its own virtual environment
(``benchmarks/.venvs/odibi-pypi``); it imports nothing from this repository.

    benchmarks/.venvs/odibi-pypi/bin/python benchmarks/pypi_runner.py run PROJECT.yaml
    benchmarks/.venvs/odibi-pypi/bin/python benchmarks/pypi_runner.py dagster PROJECT.yaml

``run`` is what the package's README documents (``PipelineManager.from_yaml(path).run()``,
the same call ``odibi run`` makes); the report holds each node's success and duration. The
process ends with ``os._exit`` once the report is printed and the output streams are flushed:
odibi 3.15.1's CLI aborts at interpreter exit on this machine (``FATAL: exception not
rethrown``, exit code 134) *after* the pipeline succeeded, which a benchmark would otherwise
count as a failure (see benchmarks/README.md).

``dagster`` times the package's Dagster integration (``odibi.orchestration.dagster``):
``DagsterFactory(config).create_definitions()`` and, with ``--materialize``, a materialization
of every asset in process.
"""

from __future__ import annotations

import json
import os
import sys
import time

STARTED = time.perf_counter()


def run(path: str) -> dict:
    import logging

    from odibi.pipeline import PipelineManager

    logging.disable(logging.INFO)  # its rich console log costs time at scale; errors still show
    loaded = time.perf_counter()
    manager = PipelineManager.from_yaml(path)
    ready = time.perf_counter()
    results = manager.run()
    done = time.perf_counter()
    if not isinstance(results, dict):
        results = {results.pipeline_name: results}
    nodes, failed = {}, []
    for pipeline, result in results.items():
        for name, node in result.node_results.items():
            nodes[f"{pipeline}.{name}"] = {"seconds": node.duration, "success": node.success,
                                           "rows_written": node.rows_written}
            if not node.success:
                failed.append(f"{pipeline}.{name}: {node.error}")
        failed += [f"{pipeline}.{n}: failed" for n in result.failed
                   if f"{pipeline}.{n}" not in nodes]
    return {"setup_seconds": ready - STARTED, "import_seconds": loaded - STARTED,
            "load_seconds": ready - loaded, "pipeline_seconds": done - ready,
            "nodes": nodes, "failed": failed}


def dagster(path: str, materialize: bool) -> dict:
    from odibi.config import load_config_from_file

    imported = time.perf_counter()
    from odibi.orchestration.dagster import DagsterFactory

    config = load_config_from_file(path)
    defs = DagsterFactory(config).create_definitions()
    loaded = time.perf_counter()
    # Dagster resolves definitions lazily: resolving the asset graph is part of loading.
    assets = list(defs.resolve_asset_graph().get_all_asset_keys())
    resolved = time.perf_counter()
    report = {"import_seconds": imported - STARTED, "load_seconds": resolved - imported,
              "factory_seconds": loaded - imported, "assets": len(assets)}
    if materialize:
        import dagster as dg

        job = defs.resolve_implicit_global_asset_job_def()
        start = time.perf_counter()
        try:
            result = job.execute_in_process(instance=dg.DagsterInstance.ephemeral(),
                                            raise_on_error=False)
            report["success"] = result.success
            failures = [e for e in result.all_events if e.is_step_failure]
            report["failed_steps"] = len(failures)
            if failures:
                error = failures[0].event_specific_data.error
                while getattr(error, "cause", None) is not None:  # the root cause
                    error = error.cause
                report["first_failure"] = f"{error.cls_name}: {error.message}".strip()[:500]
        except Exception as exc:  # noqa: BLE001 - reported, not raised
            report["success"] = False
            report["first_failure"] = f"{type(exc).__name__}: {exc}"[:500]
        report["materialize_seconds"] = time.perf_counter() - start
    return report


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[0] not in ("run", "dagster"):
        print(__doc__, file=sys.stderr)
        return 2
    mode, path = argv[0], argv[1]
    os.chdir(os.path.dirname(os.path.abspath(path)))
    report = run(path) if mode == "run" else dagster(path, "--materialize" in argv)
    print(json.dumps(report, default=str))
    sys.stdout.flush()
    sys.stderr.flush()
    return 1 if report.get("failed") else 0


if __name__ == "__main__":
    os._exit(main(sys.argv[1:]))
