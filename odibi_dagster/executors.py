"""The executor a project's definitions carry, and the run config that runs a CLI
materialization in one process.

pandas and polars projects keep Dagster's default ``multi_or_in_process_executor``
(multiprocess unless the run config says ``in_process``), so the web UI runs independent assets
in parallel. A Spark project runs every step in one process (one SparkSession for the whole run;
a JVM per step would cost seconds each); its executor accepts the same ``in_process`` run config,
so the one command documented for the Dagster CLI works on every engine.
"""

from __future__ import annotations

from typing import Any

import dagster as dg

__all__ = ["IN_PROCESS_RUN_CONFIG", "spark_in_process_executor"]

# `dagster asset materialize ... --config-json '<this as JSON>'`: every step in the CLI's
# own process instead of one process per step (each of which imports Dagster and odibi and
# loads the project again).
IN_PROCESS_RUN_CONFIG: dict[str, Any] = {"execution": {"config": {"in_process": {}}}}


@dg.executor(
    name="in_process",
    config_schema=dg.Field(
        dg.Selector({"in_process": dg.in_process_executor.config_schema.as_field()}),
        default_value={"in_process": {}},
        description="Every step in one process; `in_process` is the only choice (one "
                    "SparkSession per run).",
    ),
)
def spark_in_process_executor(init_context: dg.InitExecutorContext) -> Any:
    """Dagster's in-process executor, configured as ``{"in_process": {...}}`` like the
    default executor's in-process mode."""
    inner = init_context.executor_config["in_process"]
    return dg.in_process_executor.executor_creation_fn(  # type: ignore[misc]
        init_context._replace(executor_config=inner))
