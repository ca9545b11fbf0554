"""``odibi doctor``: is every connection of a project reachable, are its credentials accepted, and
does what the nodes read exist — checked for real, printed without secrets.

Each connection runs its own :meth:`~odibi_core.connections.base.Connection.diagnose` in a daemon
thread with a deadline, so one unreachable host cannot hang the command; a connection whose checks
run native code that can abort the process (``native_checks``: Azure) runs them in a child
process instead (:mod:`odibi_core.doctor_subprocess`), so a crash is a failed check.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, TYPE_CHECKING

from odibi_core.connections import Check, build_connection
from odibi_core.doctor_subprocess import diagnose_in_subprocess
from odibi_core.errors import ConfigError

if TYPE_CHECKING:
    from odibi_core.config.loader import Project

__all__ = ["ConnectionReport", "diagnose_project", "iter_rows", "paths_read"]

DEFAULT_TIMEOUT = 30.0


@dataclass(frozen=True)
class ConnectionReport:
    """The checks of one connection (``ok`` is False when any check failed)."""

    name: str
    type: str
    checks: tuple[Check, ...]

    @property
    def ok(self) -> bool:
        return all(check.ok is not False for check in self.checks)


def paths_read(project: Project, connection: str) -> list[str]:
    """What the project reads from ``connection``: node read paths and tables, and sensor
    globs, each once, in project order."""
    found: list[str] = []
    for pipeline in project.config.pipelines:
        sensor = pipeline.sensor
        if getattr(sensor, "type", None) == "file_arrival" and sensor.connection == connection:
            found.append(sensor.path)
        for node in pipeline.nodes:
            read = node.read
            if read is not None and read.connection == connection and node.enabled:
                target = read.path if read.path is not None else read.table
                if target is not None:
                    found.append(target)
    return list(dict.fromkeys(found))


def diagnose_project(project: Project, *, timeout: float = DEFAULT_TIMEOUT
                     ) -> list[ConnectionReport]:
    """A report per connection of ``project``, in the order they are declared."""
    return [_diagnose(project, name, config, timeout)
            for name, config in project.config.connections.items()]


def _diagnose(project: Project, name: str, config: Any, timeout: float) -> ConnectionReport:
    kind = str(getattr(config, "type", "?"))
    try:
        connection = build_connection(name, config, project.root)
    except Exception as exc:  # noqa: BLE001 - every failure is a line of the report
        return ConnectionReport(name, kind, (Check("reachable", False, _message(exc)),))
    if connection.native_checks:  # may abort the process: checked in a child process

        found = diagnose_in_subprocess(connection, config, project.root,
                                       paths_read(project, name), timeout)
        return ConnectionReport(name, kind, tuple(
            Check(c.name, c.ok, connection.redact(c.detail)) for c in found))
    outcome: list[Any] = []
    worker = threading.Thread(
        target=lambda: outcome.append(_run(connection, paths_read(project, name))),
        name=f"odibi-doctor-{name}", daemon=True)
    worker.start()
    worker.join(timeout)
    if not outcome:
        checks: tuple[Check, ...] = (Check("reachable", False, f"no answer within {timeout:g} s"),)
    else:
        checks = tuple(Check(c.name, c.ok, connection.redact(c.detail)) for c in outcome[0])
    return ConnectionReport(name, kind, checks)


def _run(connection: Any, paths: list[str]) -> list[Check]:
    try:
        return list(connection.diagnose(paths))
    except Exception as exc:  # noqa: BLE001 - a bug in a check is a failed check, not a crash
        return [Check("reachable", False, _message(exc))]


def _message(exc: BaseException) -> str:
    if isinstance(exc, ConfigError):  # its first line only counts the problems
        problem = exc.problems[0]
        return f"{problem.message}" + (f" Fix: {problem.fix}" if problem.fix else "")
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".strip()


def iter_rows(reports: list[ConnectionReport]) -> Iterator[tuple[str, str, str, str, str]]:
    """(connection, type, check, result, detail) rows for a table."""
    for report in reports:
        for check in report.checks:
            result = {True: "ok", False: "FAILED", None: "-"}[check.ok]
            yield report.name, report.type, check.name, result, check.detail
