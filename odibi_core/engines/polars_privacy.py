"""``Engine.anonymize`` on polars: hash, mask or redact columns with the same text as every
engine.

The canonical text of a value is polars' string cast (strings as they are, integers in decimal,
booleans ``true``/``false``, dates ``YYYY-MM-DD``). Polars has no SHA-256 expression, so ``hash``
runs :mod:`hashlib` over each batch of the column (``map_batches``, once per distinct value);
``mask`` and ``redact`` are native expressions. All stay lazy.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import polars as pl

__all__ = ["anonymized"]


def anonymized(frame: pl.LazyFrame, columns: Sequence[str], method: str,
               salt: str | None) -> pl.LazyFrame:
    """``frame`` with ``columns`` protected by ``method`` (see ``Engine.anonymize``)."""
    import polars as pl

    schema = frame.collect_schema()
    exprs = []
    for column in columns:
        source = pl.col(column)
        text = source if schema[column] == pl.String else source.cast(pl.String)
        if method == "hash":
            expr = text.map_batches(_sha256_batch(salt or ""), return_dtype=pl.String)
        elif method == "mask":
            length = text.str.len_chars()
            expr = (pl.when(length <= 4).then(pl.lit("").str.pad_start(length, "*"))
                    .otherwise(text.str.slice(-4).str.pad_start(length, "*")))
        else:
            expr = pl.when(source.is_null()).then(pl.lit(None, dtype=pl.String)) \
                .otherwise(pl.lit("[REDACTED]"))
        exprs.append(expr.cast(pl.String).alias(column))
    return frame.with_columns(exprs) if exprs else frame


def _sha256_batch(salt: str):  # noqa: ANN202 - a closure over the salt
    def digest(series: pl.Series) -> pl.Series:
        import polars as pl

        prefix = salt.encode("utf-8")
        unique = series.drop_nulls().unique().to_list()
        digests = {v: hashlib.sha256(prefix + v.encode("utf-8")).hexdigest() for v in unique}
        return series.replace_strict(digests, default=None, return_dtype=pl.String) \
            if digests else pl.Series(series.name, [None] * len(series), dtype=pl.String)

    return digest
