"""The ``privacy`` block: protect PII columns before validation and write (SPEC §3).

The engines do the work (:meth:`Engine.anonymize`); this module decides what may be protected
so every engine gives the same text: a hash of a float or a timestamp would depend on how each
engine spells the value, so those types are refused with a fix instead.
"""

from __future__ import annotations

from typing import Any

from odibi_core.engines.base import Engine
from odibi_core.errors import DataError
from odibi_core.storage.requests import Frame

__all__ = ["HASHABLE_TYPES", "apply_privacy"]

# Types whose canonical text is spelled the same by DuckDB, polars and Spark.
HASHABLE_TYPES = frozenset({"string", "bool", "int8", "int16", "int32", "int64", "uint8",
                            "uint16", "uint32", "uint64", "date", "null"})


def apply_privacy(engine: Engine, frame: Frame, privacy: Any, *, node: str | None = None) -> Frame:
    """``frame`` with ``privacy.columns`` hashed, masked or redacted.

    Raises:
        DataError: a listed column is missing, or has a type without one canonical text.
    """
    types = {c.name: c.type for c in engine.schema(frame)}
    missing = [c for c in privacy.columns if c not in types]
    if missing:
        raise DataError(
            f"privacy.columns names column(s) the output does not have: {', '.join(missing)}.",
            fix="Columns available: " + ", ".join(types) + ".", node=node)
    unfit = [f"{c} ({types[c]})" for c in privacy.columns if types[c] not in HASHABLE_TYPES]
    if unfit:
        raise DataError(
            f"privacy.{privacy.method} works on string, integer, boolean and date columns; "
            f"not on {', '.join(unfit)}.",
            fix="Cast those columns to string first (cast_columns), so every engine protects "
                "the same text.", node=node)
    return engine.anonymize(frame, list(privacy.columns), privacy.method, privacy.salt)
