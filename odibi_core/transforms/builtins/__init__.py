"""The built-in transforms, by family. Each family module defines the params models (the
contract every engine shares) and registers the pandas implementation of each built-in; other
engines register theirs under the same names with the same params models.

- ``columns.py``: derive_columns, cast_columns, clean_text, fill_nulls, case_when,
  select_columns, drop_columns, rename_columns
- ``rows.py``: filter_rows, sort, deduplicate, distinct
- ``joins.py``: join, union
- ``aggregates.py``: aggregate

The meaning of each built-in and its params are documented in ``docs/transforms.md``.
"""

from __future__ import annotations

__all__ = ["register_all"]


def register_all() -> None:
    """Register every built-in of every family (the registry calls this once, lazily)."""
    from odibi_core.transforms.builtins import aggregates, columns, joins, rows

    for family in (columns, rows, joins, aggregates):
        family.register()
