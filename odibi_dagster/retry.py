"""The project's ``retry`` block as a Dagster :class:`~dagster.RetryPolicy`.

Which errors retry is decided in ``odibi_core`` (``is_transient``); the asset body raises
``dagster.Failure(allow_retries=False)`` for the others, so the policy only ever applies to
transient failures.
"""

from __future__ import annotations

from typing import Any

import dagster as dg

__all__ = ["build_retry_policy"]

_BACKOFF = {"exponential": dg.Backoff.EXPONENTIAL, "linear": dg.Backoff.LINEAR, "constant": None}


def build_retry_policy(project_retry: Any, node_retry: Any = None) -> dg.RetryPolicy | None:
    """Merge the node's override over the project block; None when retries are off.

    ``max_attempts`` counts the first attempt (SPEC §1), Dagster's ``max_retries`` does not.
    Dagster's policy has no ceiling on the delay, so ``max_delay`` is not applied here.
    """
    settings: dict[str, Any] = {}
    for block in (project_retry, node_retry):
        if block is not None:
            settings.update({k: v for k, v in block.model_dump().items() if v is not None})
    if not settings.get("enabled", True) or settings.get("max_attempts", 1) <= 1:
        return None
    return dg.RetryPolicy(
        max_retries=int(settings["max_attempts"]) - 1,
        delay=float(settings.get("initial_delay", 1.0)),
        backoff=_BACKOFF[settings.get("backoff", "exponential")],
    )
