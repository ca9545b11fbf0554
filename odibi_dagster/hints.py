"""The recovery commands odibi prints after a failure (``odibi resume`` / ``odibi rollback``).

Each names the project file (absolute) and the environment the run used, so the printed line
works verbatim from any directory.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

__all__ = ["recovery_command"]


def recovery_command(verb: str, run_id: str, project: Any = None) -> str:
    """``odibi VERB RUN_ID /abs/odibi.yaml [--env ENV]``, shell-quoted; without ``project``
    (not known where the hint is made) only ``odibi VERB RUN_ID``."""
    words = ["odibi", verb, run_id]
    if project is not None:
        words.append(str(Path(project.file).resolve()))
        if project.env:
            words += ["--env", project.env]
    return shlex.join(words)
