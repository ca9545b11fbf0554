"""Every path and command `odibi` prints works when given back to it: `odibi story show` takes
the story paths `odibi run` prints (and a missing or unreadable one is a clear error), the
`odibi resume` / `odibi rollback` hints work verbatim from any directory, and output into a closed
pipe ends quietly. All through real `odibi` processes on the `odibi init` starter project."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest

from tests.processes import ODIBI, RUN_TIMEOUT

BROKEN = 'def add_share(df, column: str = "no_such_column"):'
FIXED = 'def add_share(df, column: str = "revenue"):'


def odibi(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*ODIBI, *map(str, args)], capture_output=True, text=True, cwd=cwd,
                          timeout=RUN_TIMEOUT)


def _starter(tmp_path: Path) -> Path:
    """The `odibi init` project in tmp_path/proj, with an environment `dev` writing elsewhere."""
    assert odibi("init", "proj", cwd=tmp_path).returncode == 0
    project = tmp_path / "proj"
    (project / "env.dev.yaml").write_text(
        "connections:\n  lake: {type: local, base_path: ./lake_dev}\n", encoding="utf-8")
    return project


def _assert_clear_error(result: subprocess.CompletedProcess[str], *names: str) -> None:
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert result.stderr.startswith("error: ") and "Fix:" in result.stderr
    for name in names:
        assert name in result.stderr


def test_story_show_takes_every_story_path_run_prints(tmp_path: Path) -> None:
    _starter(tmp_path)
    run = odibi("run", "proj", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    (printed,) = re.findall(r"^Story: (.+)$", run.stdout, re.MULTILINE)
    story = Path(printed)
    assert story.suffix == ".html"
    for path in (story, story.with_suffix(".md"), story.with_suffix(".json")):
        assert path.is_file()
        shown = odibi("story", "show", path, cwd=tmp_path)
        assert shown.returncode == 0, shown.stderr
        assert "sales_by_region" in shown.stdout
        assert str(story.with_suffix(".json")) in shown.stdout

    missing = story.with_name("run_000000.html")
    _assert_clear_error(odibi("story", "show", missing, cwd=tmp_path),
                        str(missing.with_suffix(".json")), str(missing), "does not exist")
    _assert_clear_error(odibi("story", "show", story.parent, cwd=tmp_path),
                        str(story.parent), "is a folder")
    garbage = tmp_path / "run_000001.json"
    garbage.write_text("<html>not a story</html>", encoding="utf-8")
    _assert_clear_error(odibi("story", "show", garbage, cwd=tmp_path),
                        str(garbage), "cannot be read as a run story")


@pytest.mark.parametrize("command", [["story", "last", "proj"], ["graph", "proj"],
                                     ["validate", "proj"]])
def test_output_into_a_closed_pipe_exits_quietly(tmp_path: Path, command: list[str]) -> None:
    _starter(tmp_path)
    if command[0] == "story":
        assert odibi("run", "proj", cwd=tmp_path).returncode == 0
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before odibi writes a byte: like `| head -0`
    try:
        result = subprocess.run([*ODIBI, *command], stdout=write_end, stderr=subprocess.PIPE,
                                text=True, cwd=tmp_path, timeout=RUN_TIMEOUT)
    finally:
        os.close(write_end)
    assert result.returncode == 141
    assert result.stderr == ""


def _failing_run(tmp_path: Path) -> tuple[Path, str]:
    """A run of the starter (environment dev, from tmp_path, project given relatively) that
    fails at sales_by_region after raw_sales wrote; returns the project and stderr."""
    project = _starter(tmp_path)
    transforms = project / "transforms.py"
    transforms.write_text(transforms.read_text().replace(FIXED, BROKEN), encoding="utf-8")
    run = odibi("run", "proj", "--env", "dev", cwd=tmp_path)
    assert run.returncode == 1
    assert "no_such_column" in run.stdout
    return project, run.stderr


def _printed(verb: str, stderr: str) -> list[str]:
    (command,) = re.findall(rf"`(odibi {verb} [^`]+)`", stderr)
    words = shlex.split(command)
    assert words[0] == "odibi"
    return [*ODIBI, *words[1:]]


def test_printed_resume_works_from_another_directory(tmp_path: Path) -> None:
    project, stderr = _failing_run(tmp_path)
    command = _printed("resume", stderr)
    assert str(project.resolve() / "odibi.yaml") in command and "dev" in command
    transforms = project / "transforms.py"
    transforms.write_text(transforms.read_text().replace(BROKEN, FIXED), encoding="utf-8")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    resumed = subprocess.run(command, capture_output=True, text=True, cwd=elsewhere,
                             timeout=RUN_TIMEOUT)
    assert resumed.returncode == 0, resumed.stderr
    assert "succeeded" in resumed.stdout
    assert (project / "lake_dev" / "gold" / "sales_by_region.parquet").exists()
    assert not (project / "lake").exists()  # the environment's lake, not the default one


def test_printed_rollback_works_from_another_directory(tmp_path: Path) -> None:
    project, stderr = _failing_run(tmp_path)
    assert (project / "lake_dev" / "bronze" / "sales").is_dir()
    command = _printed("rollback", stderr)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    rolled = subprocess.run(command, capture_output=True, text=True, cwd=elsewhere,
                            timeout=RUN_TIMEOUT)
    assert rolled.returncode == 0, rolled.stderr
    assert "Rolled back." in rolled.stdout
    assert "bronze/sales" in rolled.stdout
