"""The odibi command that launched a run, and what happens to the run when that process dies.

- :func:`launcher_tags`: run tags naming the launching process (pid, host, start time), put on
  every run ``odibi run`` and ``odibi resume`` start.
- :func:`die_with_launcher`: called by each node's step. In a step process of the multiprocess
  executor it asks the kernel to kill the process with SIGKILL when its parent (the launcher)
  dies (``PR_SET_PDEATHSIG``, Linux), and then checks the launcher is still its parent, for the
  case it died before that request. A step process therefore never commits after the
  ``odibi run`` that launched it is gone.
- :func:`fail_runs_of_dead_launchers`: a run whose launcher was killed stays STARTED in Dagster
  forever (nothing is left to report its end). The next ``odibi run``, ``resume`` or
  ``rollback`` finds the runs of this host whose launcher is gone, reports them failed through
  the instance, and ends their stories as failed; ``odibi resume RUN_ID`` then works on them.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import dagster as dg

from odibi_core.file_lock import exclusive_lock

from odibi_dagster.hints import recovery_command
from odibi_dagster.instance import LOCK_FILE

__all__ = ["LAUNCHER_ENV", "TAG_LAUNCHER_HOST", "TAG_LAUNCHER_PID", "TAG_LAUNCHER_START",
           "die_with_launcher", "fail_runs_of_dead_launchers", "launcher_tags"]

LAUNCHER_ENV = "ODIBI_LAUNCHER_PID"  # the pid of the odibi command running the run
TAG_LAUNCHER_PID = "odibi/launcher_pid"
TAG_LAUNCHER_HOST = "odibi/launcher_host"
TAG_LAUNCHER_START = "odibi/launcher_start"  # the process's start time, against pid reuse

_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
_UNFINISHED = (dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING,
               dg.DagsterRunStatus.STARTED)
_armed = False


def _host() -> str:
    return socket.gethostname()[:63]


def _start_time(pid: int) -> str | None:
    """When process ``pid`` started (clock ticks since boot, from /proc), or None when it does
    not exist, has exited (a zombie), or /proc is not there."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[-1].split()  # state is field 3, starttime field 22
    return None if fields[0] in ("Z", "X") else fields[19]


def launcher_tags() -> dict[str, str]:
    """Tags naming this process as the launcher of a run."""
    tags = {TAG_LAUNCHER_PID: str(os.getpid()), TAG_LAUNCHER_HOST: _host()}
    start = _start_time(os.getpid())
    if start is not None:
        tags[TAG_LAUNCHER_START] = start
    return tags


def launcher_alive(tags: dict[str, str]) -> bool:
    """Whether the process the launcher tags name still runs (on this host)."""
    pid = int(tags[TAG_LAUNCHER_PID])
    if Path("/proc").is_dir():
        start = _start_time(pid)
        return start is not None and start == tags.get(TAG_LAUNCHER_START, start)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def die_with_launcher() -> None:
    """In a step process the launcher started: be killed with the launcher (see module doc).
    Elsewhere (the launcher itself, a run the UI or the daemon launched), do nothing."""
    global _armed
    launcher = os.environ.get(LAUNCHER_ENV)
    if _armed or not launcher or int(launcher) == os.getpid():
        return
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    _armed = True
    # Reparented: the launcher died before the request above. (A forkserver parent is not the
    # launcher either, but then the launcher still runs, and the forkserver dies with it.)
    if os.getppid() != int(launcher) and not launcher_alive(
            {TAG_LAUNCHER_PID: launcher}):
        os.kill(os.getpid(), signal.SIGKILL)


def fail_runs_of_dead_launchers(instance: dg.DagsterInstance, project: Any = None
                                ) -> list[str]:
    """Report failed every unfinished run of ``instance`` launched on this host by an odibi
    process that is gone; end the story of those of ``project``. Returns their run ids."""
    failed: list[str] = []
    home = Path(instance.root_directory)
    with exclusive_lock(home / LOCK_FILE, timeout=120, what=f"the Dagster instance at {home}"):
        runs = instance.get_runs(filters=dg.RunsFilter(
            statuses=list(_UNFINISHED), tags={TAG_LAUNCHER_HOST: _host()}))
        for run in runs:
            if TAG_LAUNCHER_PID not in run.tags or launcher_alive(dict(run.tags)):
                continue
            ours = project is not None and run.tags.get("odibi/project") == project.config.project
            resume = recovery_command("resume", run.run_id, project if ours else None)
            message = (f"odibi marked this run failed: the process that launched it (pid "
                       f"{run.tags[TAG_LAUNCHER_PID]} on {run.tags[TAG_LAUNCHER_HOST]}) died "
                       f"while the run was {run.status.value.lower()}. No step committed after "
                       f"it died. Resume the run: {resume}")
            instance.report_run_failed(run, message)
            failed.append(run.run_id)
            print(f"odibi: marked run {run.run_id} failed: the process that launched it "
                  f"(pid {run.tags[TAG_LAUNCHER_PID]}) died. Resume it: {resume}", file=sys.stderr)
            if ours:
                _end_story(project, instance, run, message)
    return failed


def _end_story(project: Any, instance: dg.DagsterInstance, run: dg.DagsterRun,
               message: str) -> None:
    """Record the nodes the dead run was running as failed and publish its final stories."""
    from odibi_core.results import ErrorInfo, NodeResult, iso_utc
    from odibi_core.runs import RunRecords, publish_story, system_root

    from odibi_dagster.run_nodes import run_nodes
    from odibi_dagster.specs import build_odibi_specs

    records = RunRecords(system_root(project))
    meta = records.meta(run.run_id)
    if meta is None:  # no node got as far as recording anything
        return
    specs = build_odibi_specs(project)
    node_by_step = {key.to_python_identifier(): node for key, node in specs.node_by_key.items()}
    started = {e.step_key: e.timestamp for e in instance.all_logs(
        run.run_id, of_type=dg.DagsterEventType.STEP_START) if e.step_key}
    ended = {e.step_key for e in instance.all_logs(run.run_id, of_type={
        dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE})}
    for step in started.keys() - ended:
        node = node_by_step.get(step)
        if node is None:
            continue
        pipeline, name = node.split(".", 1)
        if name in records.recorded_nodes(run.run_id, pipeline):
            continue
        records.record(run.run_id, NodeResult(
            pipeline=pipeline, node=name, status="failed", engine=meta.engine,
            started_at=iso_utc(datetime.fromtimestamp(started[step], tz=timezone.utc)),
            duration_seconds=0.0,
            error=ErrorInfo(type="LauncherDied", message=message,
                            fix=recovery_command("resume", run.run_id, project))))
    for pipeline, names in run_nodes(instance, run, specs).to_run.items():
        publish_story(project, records, run.run_id, pipeline, expected=names, final=True)
