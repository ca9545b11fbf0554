"""The connection interface: a named place data lives, resolved to what an engine opens."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Literal

from odibi_core.storage.locations import ResolvedLocation
from odibi_core.storage.redaction import is_secret_option, redact_secrets

__all__ = ["Check", "Connection"]

CheckName = Literal["reachable", "authenticated", "path exists"]


@dataclass(frozen=True)
class Check:
    """One line of ``odibi doctor``: a check of a connection, its outcome and what was seen.

    ``ok`` is None when the check does not apply (no credentials to test, no path named).
    ``detail`` is shown to the user: it must never hold a secret.
    """

    name: CheckName
    ok: bool | None
    detail: str


class Connection(ABC):
    """A named connection of the project file (``connections.<name>``).

    Subclasses implement :meth:`resolve`; connections holding credentials also override
    :meth:`storage_options` (and :meth:`secret_values` for secrets that are not storage options).

    Args:
        name: the connection's name in the project file.
    """

    type: ClassVar[str]
    #: Its :meth:`diagnose` runs native code that may abort the process on a bad answer
    #: (``odibi doctor`` then runs the checks in a child process).
    native_checks: ClassVar[bool] = False

    def __init__(self, name: str) -> None:
        self.name = name

    @abstractmethod
    def resolve(self, path: str | None = None, *, table: str | None = None) -> ResolvedLocation:
        """Resolve a node's ``path`` (or ``table``) on this connection.

        Raises:
            ConfigError: the connection cannot address ``path`` / ``table``.
        """

    def storage_options(self) -> dict[str, str]:
        """delta-rs / fsspec storage options (may hold secrets: never print them)."""
        return {}

    def secret_values(self) -> tuple[str, ...]:
        """Every value that must never appear in a log, story or message."""
        return tuple(v for k, v in self.storage_options().items() if is_secret_option(k) and v)

    def redact(self, text: str) -> str:
        """``text`` with every secret value of this connection replaced by ``***``."""
        return redact_secrets(text, self.secret_values())

    def diagnose(self, paths: Sequence[str]) -> list[Check]:
        """``odibi doctor``'s checks: is the connection reachable, are its credentials
        accepted, and do ``paths`` (what the project's nodes read; globs allowed) exist.
        Never raises for a failed check: a failure is a ``Check`` with ``ok=False``."""
        return [Check("reachable", None, f"no check for {self.type} connections")]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"
