"""Dagster resources: the engine a project runs on."""

from __future__ import annotations

import dagster as dg
from pydantic import PrivateAttr

from odibi_core.engines import get_engine
from odibi_core.engines.base import Engine

__all__ = ["OdibiEngineResource"]


class OdibiEngineResource(dg.ConfigurableResource):
    """The odibi engine for a run (``pandas``, later ``polars`` and ``spark``).

    One engine object per step process, built on first use; the asset bodies and the IO manager
    share it.
    """

    engine: str = "pandas"
    _engine: Engine | None = PrivateAttr(default=None)

    def get_engine(self) -> Engine:
        if self._engine is None:
            self._engine = get_engine(self.engine)
        return self._engine
