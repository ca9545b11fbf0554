"""How much of Dagster's own log a run started by odibi prints on the console.

Dagster's console logger prints every ERROR event of a run with its stack trace (the step
failure, then the run failure, each with the whole chain of exceptions). odibi prints each
failure itself, once and located (node, phase, what, fix), so by default the console logger
is silenced. Nothing is lost: the run's events go to the instance's event log through another
handler, whatever the console logger's level, and the web UI shows them.

``odibi run --verbose`` (or ``ODIBI_LOG_LEVEL=debug``) prints Dagster's console log again;
``ODIBI_LOG_LEVEL`` also takes ``info``, ``warning`` and ``error``.
"""

from __future__ import annotations

import os
from typing import Any

from odibi_core.errors import OdibiError

__all__ = ["LOG_LEVEL_ENV", "LOG_LEVELS", "console_log_level", "run_config_loggers"]

LOG_LEVEL_ENV = "ODIBI_LOG_LEVEL"
LOG_LEVELS = ("debug", "info", "warning", "error")
# No Dagster event is logged at CRITICAL: at this level the console logger prints nothing.
QUIET = "CRITICAL"


def console_log_level(verbose: bool = False) -> str:
    """The level of Dagster's console logger: DEBUG with ``verbose``, else ``$ODIBI_LOG_LEVEL``,
    else quiet.

    Raises:
        OdibiError: ``ODIBI_LOG_LEVEL`` names no level.
    """
    if verbose:
        return "DEBUG"
    value = os.environ.get(LOG_LEVEL_ENV, "").strip().lower()
    if not value:
        return QUIET
    if value not in LOG_LEVELS:
        raise OdibiError(
            f"The environment variable {LOG_LEVEL_ENV}={value!r} is not a log level.",
            fix=f"Set {LOG_LEVEL_ENV} to one of {', '.join(LOG_LEVELS)}, or unset it (odibi "
                "then prints only its own lines and each failure once).")
    return value.upper()


def run_config_loggers(verbose: bool = False) -> dict[str, Any]:
    """The ``loggers`` entry of a run config: Dagster's console logger at
    :func:`console_log_level`."""
    return {"console": {"config": {"log_level": console_log_level(verbose)}}}
