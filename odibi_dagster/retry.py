"""The project's ``retry`` block as a Dagster :class:`~dagster.RetryPolicy`, and the retries the
asset body requests itself.

Which errors retry is decided in ``odibi_core`` (:mod:`odibi_core.error_taxonomy`). The asset body
catches a node's failure and either raises ``dagster.RetryRequested`` (a transient error with
attempts left, waiting :func:`retry_delay`) or ``dagster.Failure(allow_retries=False)``. The policy
on the asset shows the block in the UI and covers a failure outside the body (loading an input).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Any

import dagster as dg

from odibi_core.error_taxonomy import Classification, classify
from odibi_core.results import NodeResult, RetryAttempt, iso_utc
from odibi_core.runs import RunRecords

from odibi_dagster.hints import recovery_command

__all__ = ["StepAttempt", "allowed_attempts", "build_retry_policy", "retry_delay"]

_BACKOFF = {"exponential": dg.Backoff.EXPONENTIAL, "linear": dg.Backoff.LINEAR, "constant": None}
_JITTER = {"none": None, "full": dg.Jitter.FULL, "plus_minus": dg.Jitter.PLUS_MINUS}


def allowed_attempts(retry: Any) -> int:
    """Attempts the effective ``retry`` block allows, the first included (1: no retries)."""
    return retry.max_attempts if retry.enabled else 1


def build_retry_policy(retry: Any) -> dg.RetryPolicy | None:
    """The policy for a node's effective ``retry`` block (``ProjectConfig.retry_for(node)``);
    None when retries are off.

    ``max_attempts`` counts the first attempt (SPEC §1), Dagster's ``max_retries`` does not.
    Dagster's policy has no ceiling on the delay: ``max_delay`` is applied by
    :func:`retry_delay`, which the asset body uses, not by this policy.
    """
    if allowed_attempts(retry) <= 1:
        return None
    return dg.RetryPolicy(
        max_retries=retry.max_attempts - 1,
        delay=float(retry.initial_delay),
        backoff=_BACKOFF[retry.backoff],
        jitter=_JITTER[getattr(retry, "jitter", "none")],
    )


def retry_delay(retry: Any, retry_number: int,
                rand: Callable[[], float] = random.random) -> float:
    """Seconds to wait before retry ``retry_number`` (1 = the first retry).

    Dagster's formula (``RetryPolicy.calculate_delay``) on ``initial_delay`` d: exponential
    (2**n - 1) * d, linear n * d, constant d; ``full`` jitter scales it by ``rand()``,
    ``plus_minus`` adds ``(2 * rand() - 1) * d``. The result is capped at ``max_delay`` and is
    never negative.
    """
    base = float(retry.initial_delay)
    if retry.backoff == "exponential":
        delay = (2 ** retry_number - 1) * base
    elif retry.backoff == "linear":
        delay = retry_number * base
    else:
        delay = base
    jitter = getattr(retry, "jitter", "none")
    if jitter == "full":
        delay *= rand()
    elif jitter == "plus_minus":
        delay += (2 * rand() - 1) * base
    return max(0.0, min(delay, float(retry.max_delay)))


@dataclass(frozen=True)
class StepAttempt:
    """This attempt of a node's step: its number, how many the retry block allows, how the
    failure (if any) is classified and, when it is retried, after how many seconds."""

    number: int  # 1 = the first attempt
    allowed: int
    verdict: Classification | None  # None when the node succeeded
    retry_in: float | None  # seconds before the next attempt; None: no retry follows

    @classmethod
    def of(cls, context: dg.AssetExecutionContext, retry: Any, outcome: Any) -> StepAttempt:
        number = context.retry_number + 1
        allowed = allowed_attempts(retry)
        if outcome.succeeded or outcome.exception is None:
            return cls(number, allowed, None, None)
        verdict = classify(outcome.exception)
        retry_in = round(retry_delay(retry, number), 3) \
            if verdict.transient and number < allowed else None
        return cls(number, allowed, verdict, retry_in)

    def result_with_retries(self, records: RunRecords, run_id: str,
                            result: NodeResult) -> NodeResult:
        """``result`` with this attempt's number and every retried attempt of this run: the
        earlier ones come from the node's previous record, which this one replaces."""
        earlier: tuple[RetryAttempt, ...] = ()
        if self.number > 1:
            previous = next((r for r in records.results(run_id, result.pipeline)
                             if r.node == result.node), None)
            if previous is not None and previous.attempt == self.number - 1:
                earlier = previous.retries
        if self.retry_in is not None and result.error is not None:
            assert self.verdict is not None
            earlier += (RetryAttempt(
                attempt=self.number, error_type=result.error.type, error=result.error.message,
                category=self.verdict.name, delay_seconds=self.retry_in,
                failed_at=iso_utc(datetime.now(timezone.utc))),)
        return replace(result, attempt=self.number, max_attempts=self.allowed, retries=earlier)

    def retry_message(self, node_key: str, result: NodeResult) -> str:
        """``retry 1/2 of sales.fetch in 0.5s: http_unavailable (HTTP 503): ...``."""
        assert self.verdict is not None and self.retry_in is not None
        message = result.error.message if result.error is not None else ""
        return (f"retry {self.number}/{self.allowed - 1} of {node_key} in {self.retry_in:g}s: "
                f"{self.verdict}: {message} (attempt {self.number} of {self.allowed} failed "
                "with a transient error)")

    def failure_message(self, node_key: str, run_id: str, exception: BaseException,
                        project: Any = None) -> str:
        """The step's failure: the node's error, and why it was not (or no longer) retried."""
        assert self.verdict is not None
        text = str(exception)
        if not self.verdict.transient:
            return text
        if self.allowed <= 1:
            return (f"{text}\nThe error is transient ({self.verdict}), but retries are off for "
                    f"{node_key}. Fix: set retry.max_attempts above 1 (and retry.enabled: true) "
                    "to retry it.")
        return (f"{text}\nGave up on {node_key} after {self.number} attempts "
                f"({self.number - 1} retries) of transient errors, the last {self.verdict}. "
                "Fix: the service may still be down or throttling; run again later "
                f"(`{recovery_command('resume', run_id, project)}` reruns only what failed), "
                "or raise "
                "retry.max_attempts / retry.initial_delay.")
