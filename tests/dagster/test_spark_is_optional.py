"""A pandas or polars project needs no pyspark: building its Definitions imports none."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

CHECK = """
import sys
from odibi_dagster.definitions import defs_from_project
defs = defs_from_project(sys.argv[1])
print(sorted({m.split('.')[0] for m in sys.modules} & {"pyspark", "dagster_pyspark", "delta"}))
"""


def test_pandas_project_definitions_import_no_spark(retail: Path) -> None:
    out = subprocess.run([sys.executable, "-c", CHECK, str(retail)], capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout + out.stderr
