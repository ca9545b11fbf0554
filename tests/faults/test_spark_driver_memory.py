"""A Spark driver that runs out of memory, for real: a local session with a 512 MiB driver
collects far more than that. Whether the JVM survives the OutOfMemoryError or exits with it,
the error names the memory to raise, and it is not retried as transient. The JVM is a child of
its own process, bounded by a timeout."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(300)

SCRIPT = textwrap.dedent("""\
    import json, sys
    from odibi_core.engines.spark import SparkEngine
    from odibi_core.engines.spark_session import spark_session
    from odibi_core.error_taxonomy import is_transient
    from odibi_core.errors import OdibiError

    session = spark_session({"spark.driver.memory": "512m",
                             "spark.sql.warehouse.dir": sys.argv[1]})
    engine = SparkEngine(session)
    big = engine.sql("SELECT id, repeat('x', 200) AS s FROM range(30000000)", {})
    seen = []
    for call in (lambda: engine.to_rows(big), lambda: engine.count(big)):
        try:
            call()
            seen.append(None)
        except OdibiError as exc:
            seen.append({"type": type(exc).__name__, "message": exc.message, "fix": exc.fix,
                         "transient": is_transient(exc)})
    print("RESULT " + json.dumps(seen))
    """)


def test_a_driver_out_of_memory_says_which_memory_to_raise(tmp_path: Path) -> None:
    script = tmp_path / "oom.py"
    script.write_text(SCRIPT, encoding="utf-8")
    done = subprocess.run([sys.executable, str(script), str(tmp_path / "warehouse")],
                          capture_output=True, text=True, timeout=240,
                          cwd=Path(__file__).resolve().parents[2])
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, done.stdout[-2000:] + done.stderr[-4000:]
    collect, after = json.loads(lines[0].removeprefix("RESULT "))
    assert collect is not None, "collecting 6 GB into a 512 MiB driver succeeded"
    assert collect["type"] == "DataError" and not collect["transient"]
    assert "ran out of memory" in collect["message"] or "stopped answering" in collect["message"]
    assert "collecting rows" in collect["message"]
    assert "spark.driver.memory" in collect["fix"]
    if after is not None:  # the JVM died with it: the session is unusable, and says why
        assert after["type"] == "DataError" and not after["transient"]
        assert "spark.driver.memory" in after["fix"]
