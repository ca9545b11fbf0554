"""SQL over Arrow tables with DuckDB: what ``PandasEngine.sql`` and the SQL-based built-ins run.

Every call uses a fresh in-memory connection with ``TimeZone = 'UTC'`` (so ``timestamp`` values
mean the same instant on every machine) and returns an Arrow table. ``HUGEINT`` results (DuckDB's
type for ``sum`` of integers) come back as ``int64``, as Spark and polars return them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from difflib import get_close_matches
from typing import TYPE_CHECKING

from odibi_core.errors import DataError

if TYPE_CHECKING:
    import pyarrow as pa

from odibi_core.sql_identifiers import quote_identifier

__all__ = ["quote_identifier", "run_duckdb"]

_MISSING_COLUMN = (
    re.compile(r'Referenced column "(?P<name>[^"]+)" not found'),
    re.compile(r'does not have a column named "(?P<name>[^"]+)"'),
)
_MISSING_TABLE = re.compile(r"Table with name (?P<name>[^\s!]+) does not exist")



def run_duckdb(query: str, tables: Mapping[str, pa.Table]) -> pa.Table:
    """Run ``query`` with each table addressable by its name; the result as an Arrow table.

    Raises:
        DataError: a column or table the query names does not exist (listing what does, with a
            did-you-mean). Other DuckDB errors propagate for the caller to wrap.
    """
    import duckdb

    con = duckdb.connect(":memory:")
    try:
        con.execute("SET TimeZone = 'UTC'")
        for name, table in tables.items():
            con.register(name, table)
        try:
            relation = con.sql(query)
            if relation is None:
                raise DataError("The SQL statement returns no rows.",
                                fix="Make the step a SELECT query.")
            return _narrow_hugeints(relation).to_arrow_table()
        except (duckdb.BinderException, duckdb.CatalogException) as exc:
            translated = _translate(str(exc), query, tables)
            if translated is None:
                raise
            raise translated from exc
    finally:
        con.close()


def _narrow_hugeints(relation: object) -> object:
    types = [str(t) for t in relation.types]  # type: ignore[attr-defined]
    if not any(t in ("HUGEINT", "UHUGEINT") for t in types):
        return relation
    columns = relation.columns  # type: ignore[attr-defined]
    exprs = [
        f"CAST({quote_identifier(c)} AS {'BIGINT' if t == 'HUGEINT' else 'UBIGINT'}) "
        f"AS {quote_identifier(c)}" if t in ("HUGEINT", "UHUGEINT") else quote_identifier(c)
        for c, t in zip(columns, types)
    ]
    return relation.project(", ".join(exprs))  # type: ignore[attr-defined]


def _translate(message: str, query: str, tables: Mapping[str, pa.Table]) -> DataError | None:
    shown_query = " ".join(query.split())
    for pattern in _MISSING_COLUMN:
        match = pattern.search(message)
        if match:
            name = match.group("name")
            available = {t: list(table.column_names) for t, table in tables.items()}
            every = [c for cols in available.values() for c in cols]
            close = get_close_matches(name, every, n=1)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            listing = "; ".join(f"{t}: {', '.join(cols)}" for t, cols in available.items())
            return DataError(
                f"Column '{name}' does not exist.{hint} Available columns ({listing}).\n"
                f"  Query: {shown_query}",
                fix=f"Use one of the available columns{' (' + close[0] + '?)' if close else ''}.",
            )
    match = _MISSING_TABLE.search(message)
    if match:
        name = match.group("name").strip('"')
        close = get_close_matches(name, list(tables), n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        return DataError(
            f"Table '{name}' is not available to this SQL.{hint} Available tables: "
            f"{', '.join(tables) or '(none)'}.\n  Query: {shown_query}",
            fix="Name an earlier node of the pipeline, an `inputs` alias, or `df` (the node's "
                "current frame).",
        )
    return None
