"""A node failure that quotes a secret (raw or percent-encoded) leaves it in no output or file:
Dagster stores the failure and every exception it was raised from (the run database, the compute
logs, the console), so they are masked like the story. A real ``odibi run`` per engine; the
transform fails with a transient error (retried once), then again (the step fails)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from tests.processes import run_odibi

pytestmark = pytest.mark.timeout(300)

SECRET = "Kx9+Vb8n/s3cret+key=="  # of a secret-named environment variable
SPELLINGS = {SECRET, quote(SECRET, safe=""), quote(SECRET), quote_plus(SECRET)}

TRANSFORMS = '''\
import os
from urllib.parse import quote

from odibi_core import transform


@transform
def call_service(df):
    key = os.environ["LEAKY_SERVICE_KEY"]
    raise TimeoutError(f"service timed out for key {key} (url ?key={quote(key, safe='')})")
'''


@pytest.mark.parametrize("engine", ["pandas", "polars", "spark"])
def test_a_failure_quoting_a_secret_is_masked_in_dagster_and_the_console(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, engine: str) -> None:
    monkeypatch.setenv("LEAKY_SERVICE_KEY", SECRET)
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.csv").write_text("id\n1\n", encoding="utf-8")
    (tmp_path / "transforms.py").write_text(TRANSFORMS, encoding="utf-8")
    (tmp_path / "odibi.yaml").write_text(f"""\
project: leaky
engine: {engine}
connections:
  src: {{type: local, base_path: ./src}}
  lake: {{type: local, base_path: ./lake}}
story: {{connection: lake, path: _stories}}
system: {{connection: lake, path: _system}}
retry: {{max_attempts: 2, initial_delay: 0.1}}
pipelines:
  - pipeline: p
    nodes:
      - name: a
        read: {{connection: src, format: csv, path: a.csv}}
        transform: {{steps: [{{function: call_service}}]}}
        write: {{connection: lake, format: delta, path: a}}
""", encoding="utf-8")
    done = run_odibi(tmp_path)
    output = done.stdout + done.stderr

    assert done.returncode == 1, output
    assert "retry 1/1 of p.a" in output  # the transient path (a retry) ...
    assert "service timed out for key *** (url ?key=***)" in output  # ... then the failure
    assert "TimeoutError" in output
    texts = {"output": output}
    for file in tmp_path.rglob("*"):
        if file.is_file() and file.name != "transforms.py":
            texts[str(file.relative_to(tmp_path))] = file.read_bytes().decode("latin-1")
    assert any("compute_logs" in where for where in texts)
    assert any(where.endswith(".db") for where in texts)
    leaks = [f"{s!r} in {where}" for where, text in texts.items() for s in SPELLINGS
             if s in text]
    assert not leaks, "\n".join(leaks)
