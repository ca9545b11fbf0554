"""The SparkSession the Spark engine runs on, with Delta Lake configured.

:func:`spark_session` is the single entry point: the engine, the test suite and the Dagster
resource all build (or reuse) their session through it.

- A new session gets local defaults (``local[2]``, no UI, 2 shuffle partitions, UTC session time
  zone, 2g driver memory), then Delta Lake (the ``delta-spark`` jars from the local Maven
  repository, the Delta SQL extension and catalog), then the engine's SQL settings, then the
  caller's ``config``: the caller's keys win, so on a cluster ``spark.master``, ``spark.jars`` or
  ``spark.jars.packages`` can be replaced.
- When a session is already active (a Databricks notebook, dagster-pyspark's resource, a test
  fixture) it is reused: static settings cannot change any more, so only the runtime-settable SQL
  settings are applied (the engine's own and the caller's).

The engine's SQL settings, applied to every session it runs on:

- ``spark.sql.ansi.enabled=true``: ANSI SQL semantics (a bad cast is an error, not a NULL);
- ``spark.sql.ansi.doubleQuotedIdentifiers=true``: ``"col"`` is an identifier and ``'text'`` a
  string, as in the SQL odibi generates for every engine (DuckDB, polars and Spark alike);
- ``spark.sql.session.timeZone=UTC``: timestamps mean the same instant on every machine;
- ``spark.sql.timestampType=TIMESTAMP_NTZ``: ``CAST(x AS TIMESTAMP)`` is a wall-clock
  ``timestamp_ntz``, as on DuckDB and polars (``TIMESTAMP_LTZ`` is the instant);
- ``spark.sql.sources.partitionColumnTypeInference.enabled=false``: partition values of hive
  folders read back as strings, as on every engine.

Delta jars: Ivy (``spark.jars.packages``) needs a Maven repository it can reach at session start.
Where it cannot, fetch the jars once with ``mvn dependency:get`` (see :func:`delta_jars`) and the
session loads them from ``~/.m2/repository``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from odibi_core.errors import ConfigError, ConfigProblem

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = [
    "DELTA_VERSION",
    "ENGINE_SQL_CONF",
    "SCALA_VERSION",
    "delta_jars",
    "spark_session",
    "versions",
]

DELTA_VERSION = "4.2.0"
SCALA_VERSION = "2.13"

#: SQL settings the engine's SQL relies on; applied to new and reused sessions.
ENGINE_SQL_CONF: dict[str, str] = {
    "spark.sql.ansi.enabled": "true",
    "spark.sql.ansi.doubleQuotedIdentifiers": "true",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.timestampType": "TIMESTAMP_NTZ",
    "spark.sql.sources.partitionColumnTypeInference.enabled": "false",
}

#: Defaults of a new local session (a cluster replaces them through ``config``).
LOCAL_DEFAULTS: dict[str, str] = {
    "spark.master": "local[2]",
    "spark.app.name": "odibi",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.shuffle.partitions": "2",
    "spark.default.parallelism": "2",
    "spark.databricks.delta.snapshotPartitions": "2",
    "spark.driver.memory": "2g",
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    # No _SUCCESS marker files beside written part files.
    "spark.hadoop.mapreduce.fileoutputcommitter.marksuccessfuljobs": "false",
    "spark.driver.extraJavaOptions": "-Duser.timezone=UTC",
    "spark.executor.extraJavaOptions": "-Duser.timezone=UTC",
}

DELTA_CONF: dict[str, str] = {
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
}

_JAR_SETTINGS = ("spark.jars", "spark.jars.packages")


def delta_jars(repository: str | os.PathLike[str] | None = None) -> list[str]:
    """Paths of the ``delta-spark`` and ``delta-storage`` jars in the local Maven repository.

    Args:
        repository: the Maven repository (default ``$ODIBI_M2_REPOSITORY`` or
            ``~/.m2/repository``).

    Raises:
        ConfigError: a jar is missing; the fix names the ``mvn`` command that fetches it.
    """
    root = Path(repository or os.environ.get("ODIBI_M2_REPOSITORY")
                or Path.home() / ".m2" / "repository")
    jars = [
        root / "io" / "delta" / f"delta-spark_{SCALA_VERSION}" / DELTA_VERSION
        / f"delta-spark_{SCALA_VERSION}-{DELTA_VERSION}.jar",
        root / "io" / "delta" / "delta-storage" / DELTA_VERSION
        / f"delta-storage-{DELTA_VERSION}.jar",
    ]
    missing = [str(jar) for jar in jars if not jar.is_file()]
    if missing:
        raise ConfigError(ConfigProblem(
            message="The Spark engine needs the Delta Lake jars, which are not in the local "
                    f"Maven repository ({', '.join(missing)} missing).",
            key_path="spark_config",
            fix=f"Run `mvn -q dependency:get -Dartifact=io.delta:delta-spark_{SCALA_VERSION}:"
                f"{DELTA_VERSION}` once, or set spark.jars.packages (io.delta:delta-spark_"
                f"{SCALA_VERSION}:{DELTA_VERSION}) or spark.jars in spark_config.",
        ))
    return [str(jar) for jar in jars]


def spark_session(config: Mapping[str, Any] | None = None) -> SparkSession:
    """The SparkSession to run on: the active one (with the engine's SQL settings and the
    runtime-settable keys of ``config`` applied), or a new one built from the defaults, Delta
    Lake and ``config`` (whose keys win).

    Raises:
        ConfigError: no session is active, ``config`` names no jars and the Delta jars are not
            in the local Maven repository.
    """
    from pyspark.sql import SparkSession

    user = {str(k): _text(v) for k, v in (config or {}).items()}
    active = SparkSession.getActiveSession() or _default_session()
    if active is not None:
        _apply_runtime(active, {**ENGINE_SQL_CONF, **user})
        return active
    settings = {**LOCAL_DEFAULTS, **DELTA_CONF, **ENGINE_SQL_CONF}
    if not any(key in user for key in _JAR_SETTINGS):
        settings["spark.jars"] = ",".join(delta_jars())
    settings.update(user)
    builder = SparkSession.builder
    for key, value in settings.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    _apply_runtime(session, {**ENGINE_SQL_CONF, **user})
    return session


def _default_session() -> SparkSession | None:
    """The process's running session even when it is not active in this thread."""
    from pyspark.sql import SparkSession

    session = getattr(SparkSession, "_instantiatedSession", None)
    if session is None or session.sparkContext._jsc is None:  # stopped
        return None
    return session


def versions(session: SparkSession | None = None) -> dict[str, str]:
    """The Spark and Delta Lake versions: ``{"spark": ..., "delta": ...}`` (and the Scala
    version of the Delta jars). Never starts a session: without one, Spark's version is the
    installed pyspark's."""
    from importlib import metadata

    found: dict[str, str] = {}
    try:
        # Without a session, the installed package's metadata: pyspark is not even imported.
        found["spark"] = session.version if session is not None else metadata.version("pyspark")
    except Exception:  # noqa: BLE001 - a version report must not fail
        found["spark"] = "not installed"
    try:
        found["delta"] = metadata.version("delta-spark")
    except metadata.PackageNotFoundError:
        found["delta"] = "not installed"
    found["delta_jars"] = f"delta-spark_{SCALA_VERSION}:{DELTA_VERSION}"
    return found


def _apply_runtime(session: SparkSession, settings: Mapping[str, str]) -> None:
    """Set the runtime-settable settings among ``settings`` on ``session`` (SQL settings and
    the caller's own keys; static ones such as ``spark.master`` are left as they are)."""
    conf = session.conf
    for key, value in settings.items():
        try:
            if conf.get(key, None) != value:
                conf.set(key, value)
        except Exception:  # noqa: BLE001 - a static setting: only a new session takes it
            continue


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
