"""The failures of a Dagster run that the run's summary does not show, read from the instance.

A node that fails on an error odibi knows (a data, config, contract or validation error, a
failure the error taxonomy names) is shown by the summary, located: node, phase, what, fix. What
is left is found here, in the run's STEP_FAILURE and RUN_FAILURE events:

- an *internal* error: an exception odibi does not know, inside a node (the node's result says
  ``internal``) or around it (the asset's own code, an input loader, a resource). It comes with
  its Python traceback, rebuilt from the event log (masked like the story), without the Dagster
  frames and odibi's wrappers around it;
- an odibi error raised before the node recorded a result (loading its input from an upstream
  target that does not exist; a partitioned pipeline in a run without a partition), or a step
  process that died: its message, located, no traceback.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import dagster as dg

from odibi_core.results import NodeResult

__all__ = ["RunFailure", "python_traceback", "unreported_failures"]

# Links of a failure's exception chain that only wrap the real error: odibi's own (the
# Failure a node step raises, the NodeError around the node's exception) and Dagster's (its
# errors, and the retries of its retry policy).
_WRAPPERS = {"Failure", "NodeError", "RetryRequested", "RetryRequestedFromPolicy"}
# How an odibi error's serialized message starts (``odibi_core.errors.DataError: ...``).
_ODIBI_ERRORS = "odibi_core.errors."
_DAGSTER_FRAMES = os.sep + os.path.join("site-packages", "dagster") + os.sep
# A step whose process died is not a bug in odibi (killed, out of memory).
_CRASHES = {"ChildProcessCrashException", "DagsterExecutionInterruptedError"}


@dataclass(frozen=True)
class RunFailure:
    """One failure to print besides the summary."""

    where: str  # the node (pipeline.node), or "the run"
    message: str  # what went wrong
    traceback: str | None = None  # an internal error's traceback; None: not internal

    @property
    def internal(self) -> bool:
        return self.traceback is not None


def unreported_failures(instance: Any, run_id: str, node_by_step: Mapping[str, str],
                        results: Iterable[NodeResult]) -> tuple[RunFailure, ...]:
    """The failures of run ``run_id`` that ``results`` (the summary) does not show located."""
    located = {r.key for r in results if r.status == "failed" and r.error is not None
               and not r.error.internal}
    internal = {r.key for r in results if r.status == "failed" and r.error is not None
                and r.error.internal}
    found: list[RunFailure] = []
    steps = instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_FAILURE)
    for entry in steps:
        event = entry.dagster_event
        node = node_by_step.get(event.step_key or "", event.step_key or "?")
        if node in located:
            continue
        data = event.step_failure_data
        error = data.error
        chain = _chain(error)
        names = {link.cls_name for link, _ in chain}
        odibi_error = next((link for link, _ in chain
                            if link.message.startswith(_ODIBI_ERRORS)), None)
        if names & _CRASHES:
            found.append(RunFailure(node, _text(error) or "the step's process died"))
        elif node in internal or error is None:
            if error is not None:
                found.append(RunFailure(node, _innermost(chain), python_traceback(error)))
        elif data.user_failure_data is not None and odibi_error is None:
            # A Failure odibi raised on purpose (no node result says more).
            found.append(RunFailure(node, data.user_failure_data.description
                                    or _text(error)))
        elif odibi_error is not None:
            # An odibi error around the node's own code (loading its input): located.
            found.append(RunFailure(node, odibi_error.message.split(": ", 1)[-1].strip()))
        else:
            found.append(RunFailure(node, _innermost(chain), python_traceback(error)))
    if steps:
        return tuple(found)
    for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.RUN_FAILURE):
        event = entry.dagster_event
        error = getattr(event.event_specific_data, "error", None)
        if error is None:
            found.append(RunFailure("the run", event.message or "the run failed"))
        else:
            found.append(RunFailure("the run", _innermost(_chain(error)),
                                    python_traceback(error)))
    return tuple(found)


def python_traceback(error: Any) -> str:
    """``error`` (a Dagster ``SerializableErrorInfo``) as Python prints an exception: the
    innermost cause first. The wrappers around the real error are left out."""
    chain = _chain(error)
    while len(chain) > 1 and _is_wrapper(chain[0][0]):
        chain = chain[1:]
    parts: list[str] = []
    for index, (link, how) in enumerate(reversed(chain)):
        if index:
            parts.append("\nThe above exception was the direct cause of the following "
                         "exception:\n\n" if how == "cause" else
                         "\nDuring handling of the above exception, another exception "
                         "occurred:\n\n")
        stack = "".join(_without_dagster_frames(link.stack))
        parts.append(("Traceback (most recent call last):\n" + stack if stack else "")
                     + link.message.rstrip("\n") + "\n")
    return "".join(parts).rstrip("\n")


def _chain(error: Any) -> list[tuple[Any, str]]:
    """The links of ``error``, outermost first, each with how it leads to the next one
    (``cause`` or ``context``)."""
    links: list[tuple[Any, str]] = []
    while error is not None:
        nxt, how = (error.cause, "cause") if error.cause is not None else (error.context,
                                                                           "context")
        links.append((error, how))
        error = nxt
    return links


def _without_dagster_frames(stack: list[str]) -> list[str]:
    """``stack`` from its first frame outside Dagster's own code (Dagster calls the asset)."""
    for index, frame in enumerate(stack):
        if _DAGSTER_FRAMES not in frame:
            return stack[index:]
    return stack


def _is_wrapper(link: Any) -> bool:
    name = link.cls_name or ""
    return name in _WRAPPERS or name.startswith("Dagster")


def _innermost(chain: list[tuple[Any, str]]) -> str:
    return chain[-1][0].message.strip() if chain else "unknown error"


def _text(error: Any) -> str:
    return error.message.strip() if error is not None else ""
