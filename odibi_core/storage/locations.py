"""A path on a connection, resolved to what an engine opens."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from odibi_core.storage.redaction import is_secret_option, redact_secrets

__all__ = ["ResolvedLocation"]


@dataclass(frozen=True)
class ResolvedLocation:
    """A path on a connection, resolved to what an engine opens.

    ``uri`` is a local absolute path or a URL (``abfss://...``); ``storage_options`` are the
    delta-rs / fsspec options (may hold secrets: never print them); ``display`` is safe to print.
    """

    connection: str
    uri: str
    display: str
    storage_options: Mapping[str, str] = field(default_factory=dict)
    is_local: bool = True
    table: str | None = None  # a metastore table name instead of a path
    # Only these files of the glob (absolute paths): the new files a file-arrival run reads.
    only_files: tuple[str, ...] | None = None

    def redact(self, text: str) -> str:
        """``text`` with the values of secret storage options replaced by ``***``."""
        return redact_secrets(
            text, [v for k, v in self.storage_options.items() if is_secret_option(k)])
