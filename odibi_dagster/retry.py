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


def build_retry_policy(retry: Any) -> dg.RetryPolicy | None:
    """The policy for a node's effective ``retry`` block (``ProjectConfig.retry_for(node)``);
    None when retries are off.

    ``max_attempts`` counts the first attempt (SPEC §1), Dagster's ``max_retries`` does not.
    Dagster's policy has no ceiling on the delay, so ``max_delay`` is not applied here.
    """
    if not retry.enabled or retry.max_attempts <= 1:
        return None
    return dg.RetryPolicy(
        max_retries=retry.max_attempts - 1,
        delay=float(retry.initial_delay),
        backoff=_BACKOFF[retry.backoff],
    )
