"""The files of one read as Arrow tables, the same on every engine: several files' tables as one,
and a csv/json read that sets malformed records aside as dead letters (SPEC §4).

Engines wrap the result in their own frame (``from_arrow``, ``lazy_from_arrow``,
``createDataFrame``); the parsing and the batch bookkeeping are done once, here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from odibi_core.dead_letters.model import (
    DeadLetterBatch,
    SourceFile,
    build_batch_id,
    relative_source,
)
from odibi_core.engines.file_layout import list_source_files
from odibi_core.engines.pandas_files import read_file_records, validate_options
from odibi_core.engines.remote_files import file_stats, local_copies
from odibi_core.errors import ConfigError, ConfigProblem, DataError
from odibi_core.storage.requests import ReadRequest

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["concat_file_tables", "read_records_with_dead_letters", "schema_mismatch"]


def schema_mismatch(files: int, display: str, exc: Exception) -> DataError:
    """The error for ``files`` files of ``display`` whose columns do not agree."""
    return DataError(
        f"The {files} files of {display} do not share a schema: {exc}",
        fix="Make the files agree on column types (for csv, `infer_schema: false` reads every "
            "column as a string), or read them separately.")


def concat_file_tables(tables: Sequence[pa.Table], display: str) -> pa.Table:
    """The tables of several files of ``display`` as one, types widened where they can be.

    Raises:
        DataError: the files' columns do not agree.
    """
    import pyarrow as pa

    if not tables:
        return pa.table({})
    if len(tables) == 1:
        return tables[0]
    try:
        return pa.concat_tables(list(tables), promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise schema_mismatch(len(tables), display, exc) from exc


def read_records_with_dead_letters(request: ReadRequest, *, batch_id: str | None,
                                   options: Mapping[str, Any] | None = None
                                   ) -> tuple[pa.Table, DeadLetterBatch]:
    """The valid records of a csv or json read as one table, and the batch of its dead letters.

    ``options`` replace ``request.options`` for parsing (an engine may translate them); the
    request's own options are what is validated.

    Raises:
        ConfigError: the format has no records to set aside, or an option is unknown.
    """
    fmt = request.format
    if fmt not in ("csv", "json"):
        raise ConfigError(ConfigProblem(
            message=f"read.dead_letter works with csv and json reads; this read is {fmt}.",
            key_path="read.dead_letter",
            fix=f"Remove read.dead_letter: {fmt} data has no malformed records to set aside."))
    validate_options(fmt, "read", request.options)
    parse_options = request.options if options is None else options
    location = request.location
    files = list_source_files(location, fmt)
    sources, tables, letters, records = [], [], [], 0
    with local_copies(location, files) as copies:
        for path, copy, (size, mtime) in zip(files, copies, file_stats(location, files)):
            relative = relative_source(location, path)
            sources.append(SourceFile(relative, size, mtime))
            found = read_file_records(fmt, copy, parse_options, source=relative)
            tables.append(found.table)
            letters.extend(found.dead_letters)
            records += found.records_read
    batch = DeadLetterBatch(
        batch_id=batch_id or build_batch_id(request.node, sources), records_read=records,
        dead_letters=tuple(letters), files=tuple(sources), node=request.node, format=fmt)
    return concat_file_tables(tables, location.display), batch
