"""The conformance suite: one set of tests, run on every engine.

Tests here use only the Engine interface, ``odibi_core.testing`` and connections, so a new
engine joins by being added to ``ENGINES``. The Spark engine runs on one real local
``SparkSession`` with Delta Lake, created once for the whole test session. ``polars-streaming``
is the polars engine with ``polars: {streaming: true}``: lazy outputs computed by polars'
streaming engine on every pass, Delta writes streamed in batches.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from odibi_core.connections import LocalConnection
from odibi_core.engines import get_engine
from odibi_core.engines.base import Engine
from odibi_core.transforms import clear_user_transforms

ENGINES = ["pandas", "polars", "polars-streaming", "spark"]


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    if request.param == "spark":
        request.getfixturevalue("spark_session")
    if request.param == "polars-streaming":
        yield get_engine("polars", streaming=True)
    else:
        yield get_engine(request.param)


@pytest.fixture
def lake(tmp_path: Path) -> LocalConnection:
    """A local connection whose base folder is ``<tmp>/lake``."""
    return LocalConnection("lake", "lake", tmp_path)


@pytest.fixture(autouse=True)
def _no_user_transforms():
    clear_user_transforms()
    yield
    clear_user_transforms()
