"""The ``schema_policy`` block: shape a node's output like its existing target (SPEC §3).

Before the write, the output's columns are compared with the target's:

- a column the target lacks is dropped (``on_new_columns: ignore``), fails the node (``fail``)
  or is added to the target (``add_nullable``, ``mode: evolve`` only: the write merges the
  schema);
- a column the output lacks is filled with nulls (``on_missing_columns: fill_null``) or fails the
  node (``fail``);
- every target column keeps the target's type (the output's values are cast; a value that does
  not convert fails the node) and its position.

A target that does not exist yet takes the output as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from odibi_core.engines.base import Engine
from odibi_core.errors import DataError
from odibi_core.results import ColumnSchema
from odibi_core.storage.locations import ResolvedLocation
from odibi_core.storage.requests import Frame, ReadRequest

__all__ = ["SchemaHarmony", "harmonize_schema"]


@dataclass(frozen=True)
class SchemaHarmony:
    """What the policy did: the frame to write and whether the target's schema grows."""

    frame: Frame
    merge_schema: bool = False
    added: tuple[str, ...] = ()
    dropped: tuple[str, ...] = ()
    filled: tuple[str, ...] = ()
    cast: tuple[str, ...] = ()
    target_exists: bool = True

    def summary(self) -> dict[str, Any]:
        return {"target_exists": self.target_exists, "added_columns": list(self.added),
                "dropped_columns": list(self.dropped), "filled_columns": list(self.filled),
                "cast_columns": list(self.cast), "merge_schema": self.merge_schema}


def harmonize_schema(engine: Engine, frame: Frame, policy: Any, *, location: ResolvedLocation,
                     format: str, node: str | None = None) -> SchemaHarmony:
    """Apply ``policy`` (a ``SchemaPolicyConfig``) to ``frame`` bound for ``location``.

    Raises:
        DataError: ``fail`` was asked for and columns differ, or a value does not convert to the
            target column's type.
    """
    target = engine.read_schema(ReadRequest(location=location, format=format,  # type: ignore[arg-type]
                                            node=node))
    if target is None:
        return SchemaHarmony(frame, target_exists=False)
    output = {c.name: c for c in engine.schema(frame)}
    target_names = [c.name for c in target]
    new = [name for name in output if name not in target_names]
    missing = [c.name for c in target if c.name not in output]
    where = location.display
    if new and policy.on_new_columns == "fail":
        raise DataError(
            f"The output has column(s) the target {where} does not: {', '.join(new)} "
            "(schema_policy.on_new_columns: fail).",
            fix="Drop them in the transform, or set on_new_columns: ignore, or mode: evolve "
                "with on_new_columns: add_nullable.", node=node)
    if missing and policy.on_missing_columns == "fail":
        raise DataError(
            f"The output lacks column(s) of the target {where}: {', '.join(missing)} "
            "(schema_policy.on_missing_columns: fail).",
            fix="Produce them in the transform, or set on_missing_columns: fill_null.",
            node=node)
    keep_new = policy.on_new_columns == "add_nullable"
    columns: list[ColumnSchema] = list(target)
    if keep_new:
        columns += [ColumnSchema(name, output[name].type, True) for name in new]
    cast = tuple(c.name for c in target if c.name in output and output[c.name].type != c.type)
    try:
        shaped = engine.conform(frame, columns)
    except DataError as exc:
        casts = ", ".join(f"{c.name} {output[c.name].type} -> {c.type}" for c in target
                          if c.name in cast)
        raise DataError(
            f"schema_policy casts the output to the column types of the target {where} "
            f"({casts}), and a value does not convert. {exc.message}",
            fix="Fix or filter the value in a transform step (or cast_columns it yourself), "
                "or correct it in the source; the target's column types do not change.",
            node=node) from exc
    return SchemaHarmony(
        shaped, merge_schema=keep_new and bool(new),
        added=tuple(new) if keep_new else (), dropped=() if keep_new else tuple(new),
        filled=tuple(missing), cast=cast)
