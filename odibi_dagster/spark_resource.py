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

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._spark_session = self.session()

    def session(self) -> Any:
        """The session, built (or joined) on first use."""
        if self._spark_session is None:
            from odibi_core.engines.spark_session import spark_session

            self._spark_session = spark_session(self.spark_config)
        return self._spark_session
