"""The Spark session as a Dagster resource: dagster-pyspark's ``PySparkResource`` with the
session built by odibi (Delta Lake, odibi's SQL settings, the project's ``spark_config``)."""

from __future__ import annotations

from typing import Any

import dagster as dg
from dagster_pyspark import PySparkResource

__all__ = ["OdibiSparkResource"]


class OdibiSparkResource(PySparkResource):
    """``spark_config`` (the project's) is laid over odibi's defaults: Delta Lake's extension and
    catalog, ANSI SQL with double-quoted identifiers, a UTC session time zone and, for a local
    master, the Delta jars from the local Maven repository.

    The session is the process's one ``SparkSession``: with the in-process executor (the
    default for Spark projects) every asset of a run shares it.
    """

    spark_config_key: str = ""  # where the real spark_config is (secrets are masked in the field)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._spark_session = self.session()

    def session(self) -> Any:
        """The session, built (or joined) on first use."""
        if self._spark_session is None:
            from odibi_core.engines.spark_session import spark_session

            from odibi_dagster.resources import real_spark_config

            self._spark_session = spark_session(
                real_spark_config(dict(self.spark_config or {}), self.spark_config_key))
        return self._spark_session
