"""Which storage options hold credentials, and masking their values in text."""

from __future__ import annotations

from collections.abc import Sequence

from odibi_core.secret_text import mask_secrets

__all__ = ["is_secret_option", "redact_secrets"]

# Storage-option keys whose values are credentials (delta-rs / fsspec / object_store spellings).
_SECRET_KEY_MARKERS = ("key", "secret", "token", "password", "sas", "connection_string",
                       "credential", "signature")


def is_secret_option(key: str) -> bool:
    """True when a storage option named ``key`` holds a credential (``account_key``, ``sas_token``,
    ``client_secret``, ...)."""
    lowered = key.lower()
    return any(marker in lowered for marker in _SECRET_KEY_MARKERS)


def redact_secrets(text: str, secrets: Sequence[str]) -> str:
    """``text`` with every occurrence of each value in ``secrets`` replaced by ``***``, in any
    spelling it may travel in (percent-encoded, ``quote_plus``, JSON-escaped slashes: see
    :mod:`odibi_core.secret_text`)."""
    return mask_secrets(text, secrets)
