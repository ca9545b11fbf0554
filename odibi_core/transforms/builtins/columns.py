"""Column built-ins: derive_columns, cast_columns, clean_text, fill_nulls, case_when,
select_columns, drop_columns, rename_columns.

SQL expressions (derivations, casts, case conditions) are evaluated by the engine's SQL, so they
mean the same on every engine; on pandas that is DuckDB.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import AliasChoices, Field, field_validator

from odibi_core.storage.logical_types import duckdb_type_of, parse_logical_type
from odibi_core.errors import DataError
from odibi_core.transforms.builtins.base import (
    BuiltinParams,
    BuiltinTransform,
    SqlExpression,
    as_expression,
)
from odibi_core.transforms.builtins.frame_checks import require_columns
from odibi_core.transforms.builtins.sql_text import quote_identifier as q
from odibi_core.transforms.builtins.sql_text import sql_literal

__all__ = [
    "CaseWhenParams", "CastColumnsParams", "CleanTextParams", "DeriveColumnsParams",
    "DropColumnsParams", "FillNullsParams", "RenameColumnsParams", "SelectColumnsParams",
    "implementations",
]


# ---- params ------------------------------------------------------------------------------------
class DeriveColumnsParams(BuiltinParams):
    """``columns: {name: SQL expression}``, applied in order: each may use those before it; an
    existing name is replaced in place, a new one appended. (odibi alias: ``derivations``.)"""

    columns: dict[str, SqlExpression] = Field(
        validation_alias=AliasChoices("columns", "derivations"), min_length=1)


class CastColumnsParams(BuiltinParams):
    """``columns: {column: logical type}`` (``int64``, ``float64``, ``date``, ``timestamp``,
    ``decimal(18,2)``, ... and SQL synonyms). A value that does not convert is an error.
    (odibi alias: ``casts``.)"""

    columns: dict[str, str] = Field(validation_alias=AliasChoices("columns", "casts"),
                                    min_length=1)

    @field_validator("columns")
    @classmethod
    def _known_types(cls, value: dict[str, str]) -> dict[str, str]:
        return {column: parse_logical_type(kind) for column, kind in value.items()}


class CleanTextParams(BuiltinParams):
    """Tidy string columns: collapse runs of whitespace to one space, trim, change case, and
    optionally turn empty strings into nulls (in that order)."""

    columns: list[str] = Field(min_length=1)
    trim: bool = True
    case: Literal["lower", "upper", "preserve"] | None = None
    collapse_whitespace: bool = True
    empty_as_null: bool = False


class FillNullsParams(BuiltinParams):
    """``values: {column: value}``: nulls of each column become the value (cast to the
    column's type; a value that does not fit is an error)."""

    values: dict[str, Any] = Field(min_length=1)


class CaseCondition(BuiltinParams):
    condition: str
    value: SqlExpression


class CaseWhenParams(BuiltinParams):
    """``output_col`` gets the ``value`` of the first ``cases`` item whose ``condition`` holds,
    else ``default``. Conditions and values are SQL (quote strings: ``"'gold'"``); an existing
    column of that name is replaced in place."""

    output_col: str = Field(validation_alias=AliasChoices("output_col", "column"))
    cases: list[CaseCondition] = Field(min_length=1)
    default: SqlExpression = None


class SelectColumnsParams(BuiltinParams):
    """Keep ``columns``, in that order."""

    columns: list[str] = Field(min_length=1)


class DropColumnsParams(BuiltinParams):
    """Remove ``columns``; a missing one is an error unless ``ignore_missing``."""

    columns: list[str] = Field(min_length=1)
    ignore_missing: bool = False


class RenameColumnsParams(BuiltinParams):
    """``columns: {old: new}``. (odibi alias: ``mapping``.)"""

    columns: dict[str, str] = Field(validation_alias=AliasChoices("columns", "mapping"),
                                    min_length=1)


# ---- pandas ------------------------------------------------------------------------------------
def derive_columns_pandas(engine: Any, frame: Any, params: DeriveColumnsParams,
                          tables: Mapping[str, Any]) -> Any:
    columns = engine.columns(frame)
    query = "SELECT * FROM df"
    for name, expression in params.columns.items():
        expr = f"({as_expression(expression)}) AS {q(name)}"
        select = [expr if c == name else q(c) for c in columns]
        if name not in columns:
            select.append(expr)
            columns.append(name)
        query = f"SELECT {', '.join(select)} FROM ({query}) AS df"
    return engine.sql(query, {"df": frame})


def cast_columns_pandas(engine: Any, frame: Any, params: CastColumnsParams,
                        tables: Mapping[str, Any]) -> Any:
    columns = require_columns(engine, frame, params.columns)
    select = [f"CAST({q(c)} AS {duckdb_type_of(params.columns[c])}) AS {q(c)}"
              if c in params.columns else q(c) for c in columns]
    try:
        return engine.sql(f"SELECT {', '.join(select)} FROM df", {"df": frame})
    except DataError as exc:
        culprit = _first_bad_cast(engine, frame, params.columns)
        if culprit is None:
            raise
        column, value = culprit
        raise DataError(
            f"Column '{column}' has a value that is not {params.columns[column]}: {value!r}.",
            fix="Clean or filter the values first (filter_rows, derive_columns), or cast to "
                "another type.",
        ) from exc


def _first_bad_cast(engine: Any, frame: Any, casts: Mapping[str, str]) -> tuple[str, Any] | None:
    for column, kind in casts.items():
        probe = engine.sql(
            f"SELECT CAST({q(column)} AS VARCHAR) AS v FROM df WHERE {q(column)} IS NOT NULL "
            f"AND TRY_CAST({q(column)} AS {duckdb_type_of(kind)}) IS NULL LIMIT 1", {"df": frame})
        rows = engine.sample(probe, 1)
        if rows:
            return column, rows[0]["v"]
    return None


def clean_text_pandas(engine: Any, frame: Any, params: CleanTextParams,
                      tables: Mapping[str, Any]) -> Any:
    require_columns(engine, frame, params.columns)
    types = {c.name: c.type for c in engine.schema(frame)}
    for column in params.columns:
        if types[column] not in ("string", "null"):
            raise DataError(f"clean_text works on string columns; '{column}' is {types[column]}.",
                            fix="Remove it from `columns`, or cast it to string first.")

    def cleaned(column: str) -> str:
        expr = q(column)
        if params.collapse_whitespace:
            expr = rf"regexp_replace({expr}, '\s+', ' ', 'g')"
        if params.trim:
            expr = rf"regexp_replace({expr}, '^\s+|\s+$', '', 'g')"
        if params.case == "lower":
            expr = f"lower({expr})"
        elif params.case == "upper":
            expr = f"upper({expr})"
        if params.empty_as_null:
            expr = f"nullif({expr}, '')"
        return f"{expr} AS {q(column)}"

    select = [cleaned(c) if c in params.columns else q(c) for c in engine.columns(frame)]
    return engine.sql(f"SELECT {', '.join(select)} FROM df", {"df": frame})


def fill_nulls_pandas(engine: Any, frame: Any, params: FillNullsParams,
                      tables: Mapping[str, Any]) -> Any:
    require_columns(engine, frame, params.values)
    types = {c.name: c.type for c in engine.schema(frame)}

    def filled(column: str) -> str:
        literal = sql_literal(params.values[column])
        try:
            literal = f"CAST({literal} AS {duckdb_type_of(types[column])})"
        except (ValueError, KeyError):
            pass  # nested or null-typed column: let SQL coerce
        return f"COALESCE({q(column)}, {literal}) AS {q(column)}"

    select = [filled(c) if c in params.values else q(c) for c in engine.columns(frame)]
    try:
        return engine.sql(f"SELECT {', '.join(select)} FROM df", {"df": frame})
    except DataError as exc:
        raise DataError(
            "A fill value does not fit its column's type: "
            + ", ".join(f"{c} ({types[c]}) <- {params.values[c]!r}" for c in params.values)
            + ".",
            fix="Give each column a value of its own type, or cast the column first.",
        ) from exc


def case_when_pandas(engine: Any, frame: Any, params: CaseWhenParams,
                     tables: Mapping[str, Any]) -> Any:
    whens = " ".join(f"WHEN ({c.condition}) THEN {as_expression(c.value)}" for c in params.cases)
    expr = f"CASE {whens} ELSE {as_expression(params.default)} END AS {q(params.output_col)}"
    columns = engine.columns(frame)
    select = [expr if c == params.output_col else q(c) for c in columns]
    if params.output_col not in columns:
        select.append(expr)
    return engine.sql(f"SELECT {', '.join(select)} FROM df", {"df": frame})


def select_columns_pandas(engine: Any, frame: Any, params: SelectColumnsParams,
                          tables: Mapping[str, Any]) -> Any:
    require_columns(engine, frame, params.columns)
    repeated = sorted({c for c in params.columns if params.columns.count(c) > 1})
    if repeated:
        raise DataError(f"select_columns names {', '.join(repeated)} more than once.",
                        fix="List each column once.")
    return frame.loc[:, params.columns].reset_index(drop=True)


def drop_columns_pandas(engine: Any, frame: Any, params: DropColumnsParams,
                        tables: Mapping[str, Any]) -> Any:
    if not params.ignore_missing:
        require_columns(engine, frame, params.columns)
    present = [c for c in params.columns if c in engine.columns(frame)]
    return frame.drop(columns=present)


def rename_columns_pandas(engine: Any, frame: Any, params: RenameColumnsParams,
                          tables: Mapping[str, Any]) -> Any:
    columns = require_columns(engine, frame, params.columns)
    renamed = [params.columns.get(c, c) for c in columns]
    clashes = sorted({c for c in renamed if renamed.count(c) > 1})
    if clashes:
        raise DataError(f"rename_columns would leave several columns named "
                        f"{', '.join(clashes)}.",
                        fix="Rename or drop the existing column first.")
    return frame.rename(columns=params.columns)


def implementations() -> list[BuiltinTransform]:
    """The pandas implementations."""
    return [BuiltinTransform(name, "pandas", fn, model) for name, fn, model in (
        ("derive_columns", derive_columns_pandas, DeriveColumnsParams),
        ("cast_columns", cast_columns_pandas, CastColumnsParams),
        ("clean_text", clean_text_pandas, CleanTextParams),
        ("fill_nulls", fill_nulls_pandas, FillNullsParams),
        ("case_when", case_when_pandas, CaseWhenParams),
        ("select_columns", select_columns_pandas, SelectColumnsParams),
        ("drop_columns", drop_columns_pandas, DropColumnsParams),
        ("rename_columns", rename_columns_pandas, RenameColumnsParams),
    )]
