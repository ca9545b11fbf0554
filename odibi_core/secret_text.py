"""Finding a secret in text in every spelling it travels in, to mask it.

A secret rarely comes back the way it was sent: an API echoes an API key percent-encoded in an
error body or a URL (``quote``, ``quote(safe='')``, ``quote_plus``, lowercase hex), and a JSON
encoder may escape its slashes (``\\/``). A plain ``str.replace`` of the raw value misses all of
those, so a key with ``+``, ``/`` or ``=`` (base64-looking keys are common) would leak. Here each
character of a secret matches itself or any of its encodings: the percent-encoding of its UTF-8
bytes (either case of hex), ``+`` for a space, ``\\/`` for a slash; a mix of them too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

from odibi_core.errors import ConfigError, OdibiError

__all__ = ["MASK", "MaskedError", "mask_exception_chain", "mask_secrets", "secret_pattern"]

MASK = "***"


def mask_secrets(text: str, secrets: Iterable[str], mask: str = MASK) -> str:
    """``text`` with each value of ``secrets`` (empty ones ignored), in any of its spellings
    (see the module docstring), replaced by ``mask``."""
    if not text:
        return text
    values = _longest_first(tuple(secrets))
    if not values:
        return text
    if "%" not in text and "+" not in text and "\\/" not in text:
        for value in values:  # only raw spellings can be there: the fast way
            text = text.replace(value, mask)
        return text
    pattern = secret_pattern(values)
    return pattern.sub(mask, text) if pattern is not None else text


@lru_cache(maxsize=256)
def _longest_first(secrets: tuple[str, ...]) -> tuple[str, ...]:
    """The distinct non-empty ``secrets``, longest first (a secret inside another is masked
    after it)."""
    return tuple(sorted({s for s in secrets if s}, key=lambda s: (-len(s), s)))


@lru_cache(maxsize=256)
def secret_pattern(secrets: tuple[str, ...]) -> re.Pattern[str] | None:
    """One regular expression matching any of ``secrets`` (longest first) in any spelling;
    None when there is none."""
    if not secrets:
        return None
    return re.compile("|".join(_spelled(secret) for secret in secrets))


def _spelled(secret: str) -> str:
    return "".join(_char(c) for c in secret)


def _char(c: str) -> str:
    forms = [re.escape(c)]
    forms.append("".join(f"%(?i:{byte:02x})" for byte in c.encode("utf-8")))
    if c == " ":
        forms.append(r"\+")
    elif c == "/":
        forms.append(r"\\/")
    return "(?:" + "|".join(forms) + ")"


class MaskedError(Exception):
    """Stands in for an exception whose text held a secret, in a chain handed to a log or an
    event store: its text is ``<module.Type>: <the original text, secrets masked>``, and it keeps
    the original's traceback."""


def mask_exception_chain(exc: BaseException, secrets: Iterable[str]) -> BaseException:
    """``exc`` with every secret masked in its text and in the text of each exception it was
    raised from (``__cause__`` / ``__context__``), for a chain about to be stored or printed.

    odibi's own errors are masked in place (message and fix); any other exception whose text
    holds a secret is replaced in the chain by a :class:`MaskedError` (its type cannot be trusted
    to rebuild its text from new arguments). Exceptions without a secret are left as they are.
    """
    values = _longest_first(tuple(secrets))
    if not values:
        return exc
    done: dict[int, BaseException] = {}

    def visit(error: BaseException) -> BaseException:
        if id(error) in done:
            return done[id(error)]
        text = str(error)
        replacement = error if mask_secrets(text, values) == text else _masked(error, values)
        done[id(error)] = replacement
        for link in ("__cause__", "__context__"):
            linked = getattr(error, link)
            if linked is not None:
                setattr(replacement, link, visit(linked))
        replacement.__suppress_context__ = error.__suppress_context__
        return replacement

    return visit(exc)


def _masked(error: BaseException, values: tuple[str, ...]) -> BaseException:
    if isinstance(error, OdibiError) and not isinstance(error, ConfigError):
        error.message = mask_secrets(error.message, values)
        error.fix = mask_secrets(error.fix, values) if error.fix else error.fix
        error.args = (error.render(),)
        return error
    text = mask_secrets(str(error), values)
    stand_in = MaskedError(f"{type(error).__module__}.{type(error).__qualname__}: {text}")
    return stand_in.with_traceback(error.__traceback__)
