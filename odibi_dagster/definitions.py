"""``defs_from_project``: a project file as Dagster ``Definitions``; and the module-level ``defs``
that ``dagster_workspace.yaml`` and ``dagster ... -m odibi_dagster.definitions`` load.

The project file comes from ``ODIBI_PROJECT`` (default ``./odibi.yaml``), the environment from
``ODIBI_ENV``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import dagster as dg

from odibi_core.config import load_project
from odibi_core.engine_capabilities import capabilities_of
from odibi_core.config.orchestration_checks import pipeline_job_name
from odibi_dagster.assets import ENGINE_RESOURCE_KEY, build_odibi_assets
from odibi_dagster.automation import build_automation_sensor
from odibi_dagster.executors import spark_in_process_executor
from odibi_dagster.file_sensor import build_file_sensors
from odibi_dagster.io_manager import ODIBI_IO_MANAGER_KEY, OdibiIOManager
from odibi_dagster.jobs import build_jobs
from odibi_dagster.resources import SPARK_RESOURCE_KEY, OdibiEngineResource, hide_spark_secrets
from odibi_dagster.rollback_sensor import build_rollback_sensor
from odibi_dagster.run_end_sensor import build_run_end_sensors
from odibi_dagster.schedules import build_schedules
from odibi_dagster.source_change_sensor import build_source_change_sensors
from odibi_dagster.specs import build_odibi_specs
from odibi_dagster.translator import OdibiTranslator

__all__ = ["defs", "defs_from_loaded_project", "defs_from_project", "engine_resources_for",
           "job_name_for", "load_env_defs", "loading_once"]


job_name_for = pipeline_job_name


def defs_from_project(path: str | Path, env: str | None = None, *,
                      translator: OdibiTranslator | None = None) -> dg.Definitions:
    """Load the project file at ``path`` (with environment ``env``) and translate it.

    Raises:
        odibi_core.errors.ConfigError: with every problem of the project file.
    """
    return defs_from_loaded_project(load_project(path, env=env), translator=translator)


def defs_from_loaded_project(project: Any, *, translator: OdibiTranslator | None = None
                             ) -> dg.Definitions:
    """Translate an already loaded ``odibi_core.config.Project``."""
    translator = translator or OdibiTranslator()
    specs = build_odibi_specs(project, translator)
    assets = build_odibi_assets(project, specs, translator)
    engine_resources = engine_resources_for(project)
    engine = engine_resources[ENGINE_RESOURCE_KEY]
    jobs = build_jobs(project, specs)
    optional = [build_rollback_sensor(project, specs), build_automation_sensor(specs)]
    sensors = [*build_file_sensors(project, jobs),
               *build_source_change_sensors(project, specs, jobs), *filter(None, optional),
               *build_run_end_sensors(project, specs)]
    return dg.Definitions(
        assets=assets,
        jobs=list(jobs.values()),
        schedules=build_schedules(project, jobs) or None,
        sensors=sensors or None,
        # A Spark project runs its steps in one process, so every asset of a run shares one
        # SparkSession (starting a JVM per step would cost seconds each); pandas and polars
        # keep Dagster's default multi_or_in_process executor (parallel in the web UI; a CLI
        # materialization passes IN_PROCESS_RUN_CONFIG, see executors.py).
        executor=spark_in_process_executor
        if capabilities_of(project.config.engine).runs_in_one_process else None,
        resources={
            **engine_resources,
            ODIBI_IO_MANAGER_KEY: OdibiIOManager(project, dict(specs.node_by_key), engine),
        },
    )


def engine_resources_for(project: Any) -> dict[str, Any]:
    """The engine resource of ``project`` and, for Spark, the session resource."""
    config = project.config
    visible, key = hide_spark_secrets(project)
    engine = OdibiEngineResource(engine=config.engine, spark_config=visible,
                                 spark_config_key=key,
                                 polars_streaming=bool(config.polars.streaming))
    resources: dict[str, Any] = {ENGINE_RESOURCE_KEY: engine}
    if capabilities_of(config.engine).needs_session:
        from odibi_dagster.spark_resource import OdibiSparkResource

        resources[SPARK_RESOURCE_KEY] = OdibiSparkResource(spark_config=visible,
                                                           spark_config_key=key)
    return resources


# Inside ``loading_once``: the definitions loaded so far, by (project file, environment).
_LOADED: ContextVar[dict[tuple[str, str | None], dg.Definitions] | None] = ContextVar(
    "odibi_loaded_defs", default=None)


@contextmanager
def loading_once() -> Iterator[None]:
    """Load each project's definitions at most once in the block (in this thread).

    One ``execute_job`` of a reconstructable job rebuilds its repository several times (for the
    repository load data, the job, and the job's asset subset); each would load and translate
    the project file again. Step processes of a multiprocess run are not affected: they load
    the project themselves, once each.
    """
    token = _LOADED.set({})
    try:
        yield
    finally:
        _LOADED.reset(token)


def load_env_defs() -> dg.Definitions:
    """Definitions for the project named by ``ODIBI_PROJECT`` / ``ODIBI_ENV``."""
    key = (os.environ.get("ODIBI_PROJECT", "odibi.yaml"), os.environ.get("ODIBI_ENV") or None)
    loaded = _LOADED.get()
    if loaded is not None and key in loaded:
        return loaded[key]
    defs = defs_from_project(*key)
    if loaded is not None:
        loaded[key] = defs
    return defs


@dg.definitions
def defs() -> dg.Definitions:
    """Loaded when Dagster loads this module (not when Python imports it)."""
    return load_env_defs()
