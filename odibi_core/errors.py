"""The error taxonomy, split by what the caller does next.

- :class:`ConfigError`: fix the project file. Carries every problem found, each with file, line,
  key path and a fix, so that one run of ``odibi validate`` lists them all.
- :class:`DataError`: fix the data (or the transform). Never retried.
- :class:`TransientError`: try again later.

:func:`is_transient` says whether any exception is worth retrying; the rules (network errors,
timeouts, HTTP 408/429/502/503/504, storage throttling, Delta commit conflicts, lost Spark
executors) are the named categories of :mod:`odibi_core.error_taxonomy`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "ConfigError",
    "ConfigProblem",
    "DataError",
    "NodeError",
    "OdibiError",
    "TransientError",
]


class OdibiError(Exception):
    """Base of every error odibi raises on purpose.

    Args:
        message: what went wrong, in one or two sentences.
        fix: what the user should do about it.
        node: ``pipeline.node`` the error belongs to, when there is one.
    """

    def __init__(self, message: str, *, fix: str | None = None, node: str | None = None) -> None:
        self.message = message
        self.fix = fix
        self.node = node
        super().__init__(self.render())

    def render(self) -> str:
        where = f"[{self.node}] " if self.node else ""
        text = f"{where}{self.message}"
        if self.fix:
            text += f"\n  Fix: {self.fix}"
        return text


@dataclass(frozen=True)
class ConfigProblem:
    """One problem in a project file.

    ``key_path`` is dotted, e.g. ``pipelines[0].nodes[2].read.format``; ``line`` is 1-based.
    """

    message: str
    file: Path | None = None
    line: int | None = None
    key_path: str = ""
    fix: str | None = None

    def render(self) -> str:
        where = str(self.file) if self.file else "<project>"
        if self.line is not None:
            where += f":{self.line}"
        key = f" {self.key_path}:" if self.key_path else ""
        text = f"{where}:{key} {self.message}"
        if self.fix:
            text += f"\n    Fix: {self.fix}"
        return text


class ConfigError(OdibiError):
    """A project file is wrong. Holds every problem found, not only the first."""

    def __init__(self, problems: list[ConfigProblem] | ConfigProblem) -> None:
        self.problems: list[ConfigProblem] = (
            [problems] if isinstance(problems, ConfigProblem) else list(problems)
        )
        count = len(self.problems)
        head = f"The project file has {count} problem{'s' if count != 1 else ''}:"
        body = "\n".join(f"  {i}. {p.render()}" for i, p in enumerate(self.problems, 1))
        super().__init__(f"{head}\n{body}")


class DataError(OdibiError):
    """The data (or a transform applied to it) is wrong: a missing column, a parse error, a failed
    contract. Retrying does not help."""


class NodeError(OdibiError):
    """A node failed; wraps the underlying error with the node's name and the phase it failed in.

    ``transient`` records whether the cause is worth retrying, so that callers in other processes
    (Dagster) can decide without the original exception object.
    """

    def __init__(
        self,
        message: str,
        *,
        node: str,
        phase: str,
        fix: str | None = None,
        transient: bool = False,
    ) -> None:
        self.phase = phase
        self.transient = transient
        super().__init__(message, fix=fix, node=node)


class TransientError(OdibiError):
    """A failure that may succeed when tried again: network, throttling, a busy store, a commit
    conflict."""
