"""The built-in transforms, by family. Each family module defines the params models (the
contract every engine shares) and lists the pandas implementation of each built-in; other
engines list theirs under the same names with the same params models.

- ``columns.py``: derive_columns, cast_columns, clean_text, fill_nulls, case_when,
  select_columns, drop_columns, rename_columns
- ``rows.py``: filter_rows, sort, deduplicate, distinct
- ``joins.py``: join, union
- ``aggregates.py``: aggregate
- ``polars_builtins.py`` / ``spark_builtins.py``: the polars and Spark implementations of all
  of the above
- ``catalog.py``: every implementation of every family, which the registry reads

The meaning of each built-in and its params are documented in ``docs/transforms.md``.
"""
