"""Dagster resources: the engine a project runs on.

A Spark project also gets :class:`~odibi_dagster.spark_resource.OdibiSparkResource` (built on
dagster-pyspark's ``PySparkResource``) under :data:`SPARK_RESOURCE_KEY`; that module is imported
only for Spark projects, so pandas and polars installs need no pyspark.
"""

from __future__ import annotations

from typing import Any

import dagster as dg
from pydantic import Field, PrivateAttr

from odibi_core.engine_capabilities import capabilities_of
from odibi_core.engines import build_engine
from odibi_core.engines.base import Engine
from odibi_core.storage.redaction import is_secret_option

__all__ = ["SPARK_RESOURCE_KEY", "OdibiEngineResource", "hide_spark_secrets", "real_spark_config"]

SPARK_RESOURCE_KEY = "pyspark"
MASK = "***"

# Resource fields are shown in the Dagster UI and stored with each run, so secrets of the
# project's spark_config (account keys, tokens) are masked there. The real values stay in this
# process, keyed by project and environment: every process that runs steps loads the project's
# definitions, and so registers them, before any resource is used.
_REAL_SPARK_CONFIG: dict[str, dict[str, Any]] = {}


def hide_spark_secrets(project: Any) -> tuple[dict[str, Any], str]:
    """The project's ``spark_config`` with secret values masked, and the key under which the
    real one is kept for :func:`real_spark_config`."""
    config = dict(project.config.spark_config)
    key = f"{project.file}#{project.env or ''}"
    _REAL_SPARK_CONFIG[key] = config
    return _masked(config), key


def real_spark_config(visible: dict[str, Any], key: str) -> dict[str, Any]:
    """The real ``spark_config`` behind ``visible`` (what a resource field shows).

    Raises:
        RuntimeError: a masked value whose real value is not known in this process.
    """
    real = _REAL_SPARK_CONFIG.get(key)
    if real is not None:
        return real
    if _holds_mask(visible):
        raise RuntimeError(f"The secret spark_config values of {key} are not loaded in this "
                           "process; load the project's definitions (odibi_dagster.definitions) "
                           "before using its resources.")
    return visible


def _holds_mask(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_holds_mask(v) for v in value.values())
    return value == MASK


def _masked(value: Any, secret: bool = False) -> Any:
    if isinstance(value, dict):
        return {k: _masked(v, secret or is_secret_option(str(k))) for k, v in value.items()}
    return MASK if secret and value not in (None, "") else value


class OdibiEngineResource(dg.ConfigurableResource):
    """The odibi engine for a run (``pandas``, ``polars`` or ``spark``).

    One engine object per step process, built on first use; the asset bodies and the IO manager
    share it. A Spark engine runs in the process's SparkSession: the one the Spark resource
    built, or one built from ``spark_config`` when used outside a Dagster step.
    """

    engine: str = "pandas"
    polars_streaming: bool = False  # the project's `polars: {streaming: ...}`
    spark_config: dict[str, Any] = Field(default_factory=dict)  # secrets masked
    spark_config_key: str = ""  # where the real one is (see hide_spark_secrets)
    _engine: Engine | None = PrivateAttr(default=None)

    def get_engine(self, *, session: Any = None) -> Engine:
        if self._engine is None:
            in_session = capabilities_of(self.engine).needs_session
            self._engine = build_engine(
                self.engine, polars_streaming=self.polars_streaming, session=session,
                session_config=real_spark_config(self.spark_config, self.spark_config_key)
                if in_session else None)
        return self._engine
