"""Built-ins that combine frames: join and union. The other frames come from the node's tables
(earlier nodes of the pipeline and ``inputs`` aliases), by name."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import AliasChoices, Field, model_validator

from odibi_core.errors import DataError
from odibi_core.transforms.builtins.base import BuiltinParams, BuiltinTransform
from odibi_core.transforms.builtins.frame_checks import require_columns, require_table
from odibi_core.transforms.builtins.sql_text import quote_identifier as q

__all__ = ["JoinParams", "UnionParams", "implementations"]

_JOIN_SQL = {"inner": "INNER JOIN", "left": "LEFT JOIN", "right": "RIGHT JOIN",
             "full": "FULL OUTER JOIN", "cross": "CROSS JOIN"}


# ---- params ------------------------------------------------------------------------------------
class JoinParams(BuiltinParams):
    """Join the current frame (left) with the table ``right``.

    ``on``: a column name, a list of names both sides share, or ``{left_col: right_col}``.
    ``how``: inner, left (default, as in odibi), right, full (alias outer), semi, anti, cross.
    Keys compare with SQL ``=``: null keys never match. A key both sides name alike appears once
    (from the side that has it, for right/full joins); other right columns whose names the left
    already has get ``suffix`` (default ``_right``), or ``<prefix>_`` in front when ``prefix``
    is set. semi/anti keep the left columns only. (odibi alias of ``right``: ``right_dataset``.)
    """

    right: str = Field(validation_alias=AliasChoices("right", "right_dataset"))
    on: str | list[str] | dict[str, str] | None = None
    how: Literal["inner", "left", "right", "full", "outer", "semi", "anti", "cross"] = "left"
    suffix: str = "_right"
    prefix: str | None = None

    @model_validator(mode="after")
    def _keys_fit_how(self) -> JoinParams:
        if self.how == "cross" and self.on:
            raise ValueError("a cross join takes no `on`")
        if self.how != "cross" and not self.on:
            raise ValueError(f"a {self.how} join needs `on` (the key columns)")
        return self

    def pairs(self) -> list[tuple[str, str]]:
        """(left column, right column) key pairs."""
        if not self.on:
            return []
        if isinstance(self.on, str):
            return [(self.on, self.on)]
        if isinstance(self.on, list):
            return [(c, c) for c in self.on]
        return list(self.on.items())


class UnionParams(BuiltinParams):
    """Stack the current frame, then each table of ``tables``, keeping duplicates (UNION ALL).

    ``by_name`` (default true) matches columns by name, filling a column a table lacks with
    nulls; false matches them by position (same number of columns; the first frame's names).
    Column types widen where they can (int32 with int64, int with float). (odibi alias:
    ``datasets``.)
    """

    tables: list[str] = Field(validation_alias=AliasChoices("tables", "datasets"), min_length=1)
    by_name: bool = True


# ---- pandas ------------------------------------------------------------------------------------
def join_pandas(engine: Any, frame: Any, params: JoinParams, tables: Mapping[str, Any]) -> Any:
    right = require_table(tables, params.right)
    pairs = params.pairs()
    left_columns = require_columns(engine, frame, [lk for lk, _ in pairs], role="join key")
    right_columns = require_columns(engine, right, [rk for _, rk in pairs],
                                    role=f"join key of '{params.right}'")
    how = "full" if params.how == "outer" else params.how
    right_name = params.right if params.right != "df" else "df_right"
    condition = " AND ".join(f"l.{q(lk)} = r.{q(rk)}" for lk, rk in pairs)
    if how in ("semi", "anti"):
        negation = "NOT " if how == "anti" else ""
        query = (f"SELECT l.* FROM df AS l WHERE {negation}EXISTS "
                 f"(SELECT 1 FROM {q(right_name)} AS r WHERE {condition})")
    else:
        select = _join_projection(left_columns, right_columns, pairs, how, params)
        query = f"SELECT {', '.join(select)} FROM df AS l {_JOIN_SQL[how]} {q(right_name)} AS r"
        if condition:
            query += f" ON {condition}"
    return engine.sql(query, {"df": frame, right_name: right})


def _join_projection(left: list[str], right: list[str], pairs: list[tuple[str, str]], how: str,
                     params: JoinParams) -> list[str]:
    shared = {lk for lk, rk in pairs if lk == rk}
    select = []
    for column in left:
        if column in shared and how == "right":
            select.append(f"r.{q(column)} AS {q(column)}")
        elif column in shared and how == "full":
            select.append(f"COALESCE(l.{q(column)}, r.{q(column)}) AS {q(column)}")
        else:
            select.append(f"l.{q(column)}")
    select += [f"r.{q(column)} AS {q(name)}"
               for column, name in right_column_names(left, right, shared, params)]
    return select


def right_column_names(left: list[str], right: list[str], shared: set[str],
                       params: JoinParams) -> list[tuple[str, str]]:
    """(right column, output name) for the right side of a join, every engine alike: keys both
    sides name alike appear once (from the left), a clash gets ``prefix``/``suffix``.

    Raises:
        DataError: the renamed column still clashes.
    """
    taken = set(left)
    names: list[tuple[str, str]] = []
    for column in right:
        if column in shared:
            continue
        name = column
        if name in taken:
            name = f"{params.prefix}_{column}" if params.prefix else f"{column}{params.suffix}"
        if name in taken:
            raise DataError(f"join would produce two columns named '{name}'.",
                            fix="Set another `suffix` or `prefix`, or rename a column first.")
        taken.add(name)
        names.append((column, name))
    return names


def union_pandas(engine: Any, frame: Any, params: UnionParams, tables: Mapping[str, Any]) -> Any:
    import pyarrow as pa

    from odibi_core.engines.pandas_arrow import from_arrow, to_arrow

    parts = [to_arrow(frame)] + [to_arrow(require_table(tables, name)) for name in params.tables]
    if not params.by_name:
        width = parts[0].num_columns
        for name, part in zip(params.tables, parts[1:]):
            if part.num_columns != width:
                raise DataError(
                    f"union by position needs the same number of columns: the frame has "
                    f"{width}, '{name}' has {part.num_columns}.",
                    fix="Select matching columns first, or set `by_name: true`.",
                )
        parts = [parts[0]] + [p.rename_columns(parts[0].column_names) for p in parts[1:]]
    try:
        return from_arrow(pa.concat_tables(parts, promote_options="permissive"))
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise DataError(f"The tables of the union have incompatible column types: {exc}",
                        fix="Cast the columns to one type first (cast_columns).") from exc


def implementations() -> list[BuiltinTransform]:
    """The pandas implementations."""
    return [
        BuiltinTransform("join", "pandas", join_pandas, JoinParams),
        BuiltinTransform("union", "pandas", union_pandas, UnionParams),
    ]
