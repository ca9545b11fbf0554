"""The built-in transforms, by family. Each family module defines the params models (the
contract every engine shares) and registers the pandas implementation of each built-in; other
engines register theirs under the same names with the same params models.

- ``columns.py``: derive_columns, cast_columns, clean_text, fill_nulls, case_when,
  select_columns, drop_columns, rename_columns
- ``rows.py``: filter_rows, sort, deduplicate, distinct
- ``joins.py``: join, union
- ``aggregates.py``: aggregate
- ``polars_builtins.py`` / ``spark_builtins.py``: the polars and Spark implementations of all
  of the above

The meaning of each built-in and its params are documented in ``docs/transforms.md``.
"""

from __future__ import annotations

__all__ = ["register_all"]


def register_all() -> None:
    """Register every built-in of every family (the registry calls this once, lazily)."""
    from odibi_core.transforms.builtins import (
        aggregates,
        columns,
        joins,
        polars_builtins,
        rows,
        spark_builtins,
    )

    for family in (columns, rows, joins, aggregates):
        family.register()
    # Other engines' implementations, under the same names and params models. Their modules
    # import polars / pyspark only inside the functions, so registering loads neither.
    polars_builtins.register()
    spark_builtins.register()
