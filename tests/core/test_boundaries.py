"""odibi_core stays framework-free: importing all of it loads no Dagster and no Spark."""

from __future__ import annotations

import subprocess
import sys

CHECK = """
import importlib, pkgutil, sys
import odibi_core
for mod in pkgutil.walk_packages(odibi_core.__path__, "odibi_core."):
    importlib.import_module(mod.name)
print(sorted({m.split('.')[0] for m in sys.modules} & {"dagster", "pyspark", "dagster_pyspark"}))
"""


def test_odibi_core_never_imports_dagster_or_spark() -> None:
    out = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_importing_odibi_core_loads_no_engine_library() -> None:
    code = ("import odibi_core, sys; print(sorted({m.split('.')[0] for m in sys.modules} & "
            "{'pandas', 'polars', 'pyspark', 'duckdb', 'deltalake', 'dagster'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_delta_version_is_the_same_everywhere() -> None:
    """The Delta jars `make delta-jars` fetches, the jars the Spark engine loads and the
    delta-spark Python package are one version."""
    import re
    from pathlib import Path

    from odibi_core.engines.spark_session import DELTA_VERSION

    repo = Path(__file__).resolve().parents[2]
    makefile = (repo / "Makefile").read_text(encoding="utf-8")
    pyproject = (repo / "pyproject.toml").read_text(encoding="utf-8")
    assert re.search(r"^DELTA_VERSION\s*:=\s*(\S+)", makefile, re.M).group(1) == DELTA_VERSION
    assert f'"delta-spark=={DELTA_VERSION}"' in pyproject
