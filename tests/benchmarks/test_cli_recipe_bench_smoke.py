"""Smoke test of benchmarks/cli_recipe_bench.py, correctness only, never timing: each contender
runs once, exits 0 and leaves ``odibi run``'s outputs; and the harness's note on the code
measured (``source_state``) names changed code but not the benchmarks' own result files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BENCH = REPO / "benchmarks" / "cli_recipe_bench.py"
sys.path.insert(0, str(REPO / "benchmarks"))

import harness  # noqa: E402


@pytest.mark.slow
def test_every_contender_runs_and_agrees_with_odibi_run(tmp_path: Path) -> None:
    out = tmp_path / "cli_recipe.md"
    child = subprocess.run(
        [sys.executable, str(BENCH), "--repeats", "1", "--wait-idle", "0", "--out", str(out)],
        capture_output=True, text=True, cwd=REPO, check=False, timeout=900)
    assert child.returncode == 0, child.stdout + child.stderr
    text = out.read_text(encoding="utf-8")
    for name in ("odibi run", "recipe", "dagster default"):
        assert f"| {name} | `" in text, name
    assert "| 0 | failed |" not in text and "Runs left out" not in text
    assert "--config-json '{\"execution\":{\"config\":{\"in_process\":{}}}}'" in text
    assert "Target (issue 19): the recipe within 1.5x" in text


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True,
                   env={"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
                        "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com",
                        "PATH": "/usr/bin:/bin", "HOME": str(repo)})


def test_source_state_ignores_the_result_files_and_names_changed_code(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = tmp_path / "repo"
    (repo / "benchmarks" / "results").mkdir(parents=True)
    files = {"benchmarks/RESULTS.json": "{}", "benchmarks/RESULTS.md": "#",
             "benchmarks/results/cli_recipe.md": "#", "odibi_core/node.py": "x = 1\n"}
    (repo / "odibi_core").mkdir()
    for name, text in files.items():
        (repo / name).write_text(text, encoding="utf-8")
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "base")
    monkeypatch.setattr(harness, "ROOT", repo)

    for name in ("benchmarks/RESULTS.json", "benchmarks/RESULTS.md",
                 "benchmarks/results/cli_recipe.md"):
        (repo / name).write_text("rewritten by a --merge run", encoding="utf-8")
    clean = harness.source_state()
    assert clean.startswith("commit ") and "uncommitted" not in clean

    (repo / "odibi_core" / "node.py").write_text("x = 2\n", encoding="utf-8")
    dirty = harness.source_state()
    assert dirty.endswith("(plus uncommitted changes to odibi_core/node.py)")
