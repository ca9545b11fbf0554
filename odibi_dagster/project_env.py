"""The environment a run of a project runs in: which project, environment and Dagster instance
its step processes load, and which process launched them."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from odibi_dagster.instance import write_instance_config
from odibi_dagster.launcher import LAUNCHER_ENV

__all__ = ["dagster_home_for", "project_environment"]


def dagster_home_for(project: Any) -> Path:
    """``$DAGSTER_HOME`` if set, else ``<project>/.odibi/dagster_home`` (created, with a
    ``dagster.yaml`` that turns telemetry off)."""
    home = Path(os.environ.get("DAGSTER_HOME") or project.root / ".odibi" / "dagster_home")
    write_instance_config(home)
    return home.resolve()


@contextmanager
def project_environment(project: Any) -> Iterator[None]:
    """Point ``ODIBI_PROJECT`` / ``ODIBI_ENV`` / ``DAGSTER_HOME`` at ``project`` for the block, so
    that step processes load the same project and environment, and name this process as their
    launcher (``ODIBI_LAUNCHER_PID``: they die with it)."""
    wanted = {"ODIBI_PROJECT": str(project.file), "ODIBI_ENV": project.env or "",
              "DAGSTER_HOME": str(dagster_home_for(project)), LAUNCHER_ENV: str(os.getpid())}
    saved = {k: os.environ.get(k) for k in wanted}
    os.environ.update(wanted)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
