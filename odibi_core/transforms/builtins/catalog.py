"""Every implementation of every built-in, gathered from the family modules for the registry.

The families declare their implementations (``implementations()``) and never import the
registry; the registry imports this catalog. The polars and Spark modules import polars / pyspark
only inside their functions, so reading the catalog loads neither.
"""

from __future__ import annotations

from odibi_core.transforms.builtins import (
    aggregates,
    columns,
    joins,
    polars_builtins,
    rows,
    spark_builtins,
)
from odibi_core.transforms.builtins.base import BuiltinTransform

__all__ = ["builtin_implementations"]


def builtin_implementations() -> list[BuiltinTransform]:
    """The pandas implementations of each family, then the polars and Spark ones."""
    return [impl for family in (columns, rows, joins, aggregates, polars_builtins, spark_builtins)
            for impl in family.implementations()]
