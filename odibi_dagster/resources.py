"""Dagster resources: the engine a project runs on.

A Spark project also gets :class:`~odibi_dagster.spark_resource.OdibiSparkResource` (built on
dagster-pyspark's ``PySparkResource``) under :data:`SPARK_RESOURCE_KEY`; that module is imported
only for Spark projects, so pandas and polars installs need no pyspark.
"""

from __future__ import annotations

from typing import Any

import dagster as dg
from pydantic import Field, PrivateAttr

from odibi_core.engines import get_engine
from odibi_core.engines.base import Engine

__all__ = ["SPARK_RESOURCE_KEY", "OdibiEngineResource"]

SPARK_RESOURCE_KEY = "pyspark"


class OdibiEngineResource(dg.ConfigurableResource):
    """The odibi engine for a run (``pandas``, ``polars`` or ``spark``).

    One engine object per step process, built on first use; the asset bodies and the IO manager
    share it. A Spark engine runs in the process's SparkSession: the one the Spark resource
    built, or one built from ``spark_config`` when used outside a Dagster step.
    """

    engine: str = "pandas"
    spark_config: dict[str, Any] = Field(default_factory=dict)
    _engine: Engine | None = PrivateAttr(default=None)

    def get_engine(self, *, session: Any = None) -> Engine:
        if self._engine is None:
            if self.engine == "spark":
                if session is None:
                    from odibi_core.engines.spark_session import spark_session

                    session = spark_session(self.spark_config)
                self._engine = get_engine("spark", session=session)
            else:
                self._engine = get_engine(self.engine)
        return self._engine
