"""What a failing `odibi run` / `odibi resume` prints, run as a user runs it (a process of its own).

An error odibi knows (a missing file, a SQL typo, a broken contract, a failed blocking test) is
printed once, located (node, phase, what, fix), with no Python or Dagster stack trace; Dagster's
log of the run stays in the instance and `--verbose` / ODIBI_LOG_LEVEL prints it. An internal
error (an exception odibi does not know) prints its traceback once and says it is a bug.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import dagster as dg
import pytest

from tests.processes import ODIBI, RUN_TIMEOUT, odibi_env

pytestmark = pytest.mark.timeout(600)

PROJECT = """\
project: tiny
engine: pandas
connections:
  landing: {type: local, base_path: ./landing}
  lake: {type: local, base_path: ./lake}
story: {connection: lake, path: _stories}
system: {connection: lake, path: _odibi_system}
pipelines:
  - pipeline: p
    nodes:
      - name: raw
        read: {connection: landing, format: csv, path: orders.csv}
        write: {connection: lake, format: parquet, path: raw.parquet}
      - name: clean
        inputs: {raw: $p.raw}
        transform:
          steps:
            - SELECT id, amount FROM raw
        write: {connection: lake, format: parquet, path: clean.parquet}
"""
READ = "        read: {connection: landing, format: csv, path: orders.csv}\n"
SELECT = "            - SELECT id, amount FROM raw\n"

# case: (edit of PROJECT, failing node, phase, what the error says, the fix it gives)
DATA_ERRORS = {
    "missing_input_file": (
        ("path: orders.csv", "path: nope.csv"), "p.raw", "read",
        "landing:nope.csv does not exist", "Check `path` and the base path of connection "
                                           "'landing'."),
    "sql_column_typo": (
        ("SELECT id, amount FROM", "SELECT id, amount_typo FROM"), "p.clean", "transform",
        "Column 'amount_typo' does not exist. Did you mean 'amount'?",
        "Use one of the available columns (amount?)."),
    "failed_contract": (
        (READ, READ + "        contracts:\n          - {type: not_null, columns: [amount]}\n"),
        "p.raw", "contracts", "The input of p.raw breaks 1 contract",
        "Contracts check the input before the transform and always block"),
    "failed_blocking_validation": (
        (SELECT, SELECT + "        validation:\n          tests:\n"
                          "            - {type: not_null, columns: [amount]}\n"),
        "p.clean", "validate", "Validation of p.clean failed: 1 test with on_fail: fail",
        "Fix the data (or the transform) so these rows pass"),
}
MAX_STDERR_LINES = 20


def write_project(root: Path, edit: tuple[str, str] | None = None,
                  transforms: str | None = None) -> Path:
    (root / "landing").mkdir(parents=True)
    (root / "landing" / "orders.csv").write_text("id,amount\n1,10\n2,\n3,30\n", encoding="utf-8")
    text = PROJECT
    if edit is not None:
        assert edit[0] in text
        text = text.replace(edit[0], edit[1], 1)
    (root / "odibi.yaml").write_text(text, encoding="utf-8")
    if transforms is not None:
        (root / "transforms.py").write_text(transforms, encoding="utf-8")
    return root


def odibi(root: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`odibi ARGS` in a process of its own, on the project in ``root`` and its Dagster home."""
    environment = odibi_env(root)
    environment.pop("ODIBI_LOG_LEVEL", None)
    environment.update(env)
    return subprocess.run([*ODIBI, *args], capture_output=True, text=True, env=environment,
                          timeout=RUN_TIMEOUT)


def assert_quiet_and_located(done: subprocess.CompletedProcess[str], node: str, phase: str,
                             what: str, fix: str) -> None:
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert "Stack Trace" not in done.stderr, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    assert len(done.stderr.splitlines()) < MAX_STDERR_LINES, done.stderr
    assert output.count(what) == 1, output  # once: not repeated by Dagster's log
    assert output.count(fix) == 1, output
    located = next(line for line in output.splitlines() if what in line)
    assert node in located and f"in {phase}:" in located, located
    assert "bug in odibi" not in output, output


@pytest.mark.parametrize("case", list(DATA_ERRORS))
def test_a_data_error_is_printed_once_located_without_a_stack_trace(
        tmp_path: Path, case: str) -> None:
    edit, node, phase, what, fix = DATA_ERRORS[case]
    root = write_project(tmp_path, edit)

    done = odibi(root, "run", str(root / "odibi.yaml"))

    assert_quiet_and_located(done, node, phase, what, fix)
    assert f"FAILED  {node}" in done.stdout  # the node lines
    assert "Summary" in done.stdout
    # Nothing is lost: the run's events, the step failure with its whole chain included, are
    # in the instance (the web UI shows them).
    with dg.DagsterInstance.from_config(str(root / "dagster_home")) as instance:
        (run,) = instance.get_runs()
        failures = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.STEP_FAILURE)
        assert failures and fix in failures[0].dagster_event.step_failure_data.error.to_string()
        assert instance.all_logs(run.run_id, of_type=dg.DagsterEventType.RUN_FAILURE)


def test_resume_of_a_run_that_fails_again_is_as_quiet(tmp_path: Path) -> None:
    edit, node, phase, what, fix = DATA_ERRORS["failed_blocking_validation"]
    root = write_project(tmp_path, edit)
    first = odibi(root, "run", str(root / "odibi.yaml"))
    assert first.returncode == 1, first.stdout + first.stderr
    with dg.DagsterInstance.from_config(str(root / "dagster_home")) as instance:
        (run,) = instance.get_runs()

    resumed = odibi(root, "resume", run.run_id, str(root / "odibi.yaml"))

    assert "from failure" in resumed.stdout
    assert_quiet_and_located(resumed, node, phase, what, fix)


@pytest.mark.parametrize("how", ["--verbose", "ODIBI_LOG_LEVEL=debug"])
def test_verbose_prints_dagsters_log(tmp_path: Path, how: str) -> None:
    edit, node, _, what, fix = DATA_ERRORS["failed_blocking_validation"]
    root = write_project(tmp_path, edit)
    args, env = (["--verbose"], {}) if how == "--verbose" else ([], {"ODIBI_LOG_LEVEL": "debug"})

    done = odibi(root, "run", str(root / "odibi.yaml"), *args, **env)

    assert done.returncode == 1, done.stdout + done.stderr
    assert "dagster - DEBUG" in done.stderr and "STEP_START" in done.stderr
    assert "dagster - ERROR" in done.stderr and "STEP_FAILURE" in done.stderr
    assert "Stack Trace" in done.stderr  # Dagster's own rendering of the failure
    assert fix in done.stdout  # odibi's located error is still there


def test_a_bad_log_level_fails_before_running(tmp_path: Path) -> None:
    root = write_project(tmp_path)

    done = odibi(root, "run", str(root / "odibi.yaml"), ODIBI_LOG_LEVEL="loud")

    assert done.returncode == 1
    assert "ODIBI_LOG_LEVEL='loud' is not a log level" in done.stderr
    assert "debug, info, warning, error" in done.stderr
    assert "Dagster run" not in done.stdout and not (root / "lake").exists()


# There is no known odibi bug to provoke (one found gets fixed), so each project's transforms.py,
# which the `odibi run` process imports itself, replaces an odibi internal with a function that
# raises what a bug would: odibi's own code then fails inside a real run, in a real process. No
# in-process mock: the CLI, Dagster and the event log are the real ones.
BROKEN_IN_NODE = '''\
import odibi_core.node as node


def _broken(self, *args, **kwargs):
    return {}["batch_state"]  # a KeyError, as from a bug in odibi's lifecycle


node.NodeRunner._batch_identity = _broken
'''
BROKEN_IN_ASSET = '''\
import odibi_dagster.assets as assets


def _broken(project, result):
    raise AttributeError("'NoneType' object has no attribute 'rows'")


assets.redact_result = _broken
'''
BROKEN_AFTER_RUN = '''\
import odibi_dagster.execution as execution


def _broken(*args, **kwargs):
    raise IndexError("list index out of range")


execution.finish_stories = _broken
'''
INTERNAL = {
    # where: (transforms.py, the error, a frame of odibi's code the traceback must show)
    "in_a_node": (BROKEN_IN_NODE, "KeyError: 'batch_state'", "odibi_core/node.py"),
    "in_the_asset": (BROKEN_IN_ASSET, "AttributeError: 'NoneType' object has no attribute "
                                      "'rows'", "odibi_dagster/assets.py"),
    "after_the_run": (BROKEN_AFTER_RUN, "IndexError: list index out of range",
                      "odibi_dagster/execution.py"),
}


@pytest.mark.parametrize("where", list(INTERNAL))
def test_an_internal_error_prints_one_traceback_and_says_it_is_a_bug(
        tmp_path: Path, where: str) -> None:
    transforms, error, frame = INTERNAL[where]
    root = write_project(tmp_path, transforms=transforms)

    done = odibi(root, "run", str(root / "odibi.yaml"))

    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert done.stderr.count("Traceback (most recent call last):") == 1, done.stderr
    assert "Stack Trace" not in output, output  # not Dagster's rendering: Python's
    assert error in done.stderr and frame in done.stderr, done.stderr
    assert "site-packages/dagster" not in done.stderr, done.stderr  # Dagster's frames left out
    assert done.stderr.count("most likely a bug in odibi") == 1, done.stderr
    assert "report it to odibi's maintainers" in done.stderr
    assert "--verbose" in done.stderr  # how to see more
