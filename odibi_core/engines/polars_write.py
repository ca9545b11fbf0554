"""Writing on the polars engine: the frame is collected ONCE, then written by the shared writers.

- delta: ``delta_io.write_delta`` on the collected Arrow table (overwrite, append, upsert,
  append_once, merge_schema, partition_by), and one atomic overwrite of the batch's rows for
  ``replace_batch``;
- csv, parquet, json: ``file_layout.write_file_target`` (atomic single files and folders of part
  files) with a polars writer per file. The files hold what the pandas engine writes: csv with
  ``true``/``false`` booleans and timestamps spelled as pandas spells them, JSON arrays or JSON
  Lines of the same JSON-safe values, parquet compressed with snappy by default;
- parquet with ``partition_by``: a hive-partitioned folder (``key=value/part-....parquet``)
  written by ``hive_parquet.write_hive_folder``, as on pandas.
"""

from __future__ import annotations

import gzip
import io
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from odibi_core.engines.delta_io import replace_delta_batch, write_delta
from odibi_core.engines.file_layout import check_file_mode, replace_batch_file, write_file_target
from odibi_core.engines.file_names import is_single_file_target
from odibi_core.engines.json_safe import json_safe_row
from odibi_core.engines.pandas_files import validate_options
from odibi_core.engines.polars_read import FILE_FORMATS
from odibi_core.engines.polars_sql import collect_batches
from odibi_core.engines.remote_files import write_hive_location
from odibi_core.engines.request_checks import (
    format_not_available,
    refuse_unknown_options,
    require_append_for_batch_replace,
)
from odibi_core.errors import ConfigError, ConfigProblem
from odibi_core.results import WriteResult
from odibi_core.storage.requests import WriteRequest

if TYPE_CHECKING:
    import polars as pl

__all__ = ["StreamedWrite", "stream_delta", "write_frame", "write_parquet_file"]

# pandas.DataFrame.to_csv keywords (accepted by the shared option check) -> write_csv's.
_CSV_OPTIONS = {"sep": "separator", "delimiter": "separator", "quote": "quote_char",
                "quotechar": "quote_char", "null_value": "null_value", "na_rep": "null_value",
                "lineterminator": "line_terminator", "date_format": "datetime_format",
                "header": "include_header"}
_FLOAT_FORMAT = re.compile(r"^%\.(\d+)f$")


def write_frame(data: pl.DataFrame, request: WriteRequest) -> WriteResult:
    """Write the collected ``data`` as ``request`` asks; returns what was written."""
    fmt, location = request.format, request.location
    shown = location.redact(location.uri)
    if request.replace_batch is not None:
        return _replace_batch(data, request)
    if fmt == "delta":
        refuse_unknown_options("delta", "write", request.options, allowed=("keys",))
        outcome = write_delta(data.to_arrow(), request)
        return WriteResult(connection=location.connection, format=fmt, mode=request.mode,
                           location=shown, rows_written=outcome.rows_written,
                           delta_version=outcome.version, files_written=outcome.files_written)
    if fmt not in FILE_FORMATS:
        raise format_not_available(fmt, "write", "polars")
    check_file_mode(location, fmt, request.mode)
    validate_options(fmt, "write", request.options)
    if request.partition_by:
        files = _write_partitioned(data, request)
    else:
        lines = not is_single_file_target(location.uri, fmt) \
            or location.uri.lower().endswith((".jsonl", ".ndjson", ".jsonl.gz"))
        writer = _file_writer(fmt, data, request.options, lines=lines)
        files = write_file_target(location, fmt, request.mode, writer,
                                  token=request.marker.token if request.marker else None)
    return WriteResult(connection=location.connection, format=fmt, mode=request.mode,
                       location=shown, rows_written=data.height, files_written=files)


@dataclass
class StreamedWrite:
    """A streamed write's result, with the row count and the first rows it saw (so describing
    the written frame afterwards needs no second pass over its plan)."""

    result: WriteResult
    rows: int
    head: pl.DataFrame


def stream_delta(frame: pl.LazyFrame, request: WriteRequest, *,
                 head_rows: int) -> StreamedWrite:
    """Write ``frame`` to Delta as polars' streaming engine computes it, batch by batch
    (``request`` must pass ``delta_io.can_stream``): memory holds a few batches, not the
    frame."""
    import polars as pl
    import pyarrow as pa

    refuse_unknown_options("delta", "write", request.options, allowed=("keys",))
    schema = frame.collect_schema()
    untyped = [name for name, dtype in schema.items() if dtype == pl.Null]
    if untyped:  # Delta has no null type: all-null columns of unknown type are stored as text
        frame = frame.with_columns(pl.col(untyped).cast(pl.String))
    empty = frame.head(0).collect()
    arrow_schema = empty.to_arrow().schema
    head = [empty]  # the first head_rows rows streamed

    def batches() -> Iterator[pa.RecordBatch]:
        for chunk in collect_batches(frame):
            if head[0].height < head_rows:
                head[0] = pl.concat([head[0], chunk.head(head_rows - head[0].height)])
            yield from chunk.to_arrow().cast(arrow_schema).to_batches()

    reader = pa.RecordBatchReader.from_batches(arrow_schema, batches())
    outcome = write_delta(reader, request)
    location = request.location
    result = WriteResult(connection=location.connection, format="delta", mode=request.mode,
                         location=location.redact(location.uri),
                         rows_written=outcome.rows_written, delta_version=outcome.version,
                         files_written=outcome.files_written)
    return StreamedWrite(result, outcome.rows_written, head[0])


# ---- one file ---------------------------------------------------------------------------------
def _file_writer(fmt: str, data: pl.DataFrame, options: Mapping[str, Any], *,
                 lines: bool) -> Callable[[str], None]:
    if fmt == "csv":
        kwargs = _csv_kwargs(options)
        gzipped = _csv_gzip(options.get("compression", "infer"))
        return lambda path: _write_csv(data, path, kwargs, options.get("encoding", "utf-8"),
                                       gzipped=gzipped)
    if fmt == "parquet":
        compression = str(options.get("compression", "snappy")).lower()
        compression = "uncompressed" if compression in ("none", "uncompressed") else compression
        return lambda path: write_parquet_file(data, path, compression=compression)
    lines = bool(options.get("lines", lines))
    return lambda path: _write_json(data, path, lines=lines)


def write_parquet_file(data: pl.DataFrame, path: str, *, compression: str = "snappy") -> None:
    """``data`` as one parquet file at ``path``."""
    data.write_parquet(path, compression=compression)  # type: ignore[arg-type]


def _csv_kwargs(options: Mapping[str, Any]) -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    for key, value in options.items():
        if key in ("encoding", "compression"):
            continue
        if key == "float_format":
            match = _FLOAT_FORMAT.match(str(value))
            if not match:
                raise _unsupported_csv_option(key, "a format like '%.2f'")
            kwargs["float_precision"] = int(match.group(1))
        elif key in _CSV_OPTIONS:
            kwargs[_CSV_OPTIONS[key]] = value
        else:
            raise _unsupported_csv_option(key, None)
    return kwargs


def _csv_gzip(compression: Any) -> bool | None:
    """True/False to force gzip or none; None to follow the extension (``.gz``)."""
    if compression in ("infer", None):
        return None if compression == "infer" else False
    if str(compression).lower() == "gzip":
        return True
    raise _unsupported_csv_option("compression", "'gzip' or 'infer'")


def _unsupported_csv_option(key: str, accepted: str | None) -> ConfigError:
    supported = sorted({*_CSV_OPTIONS, "encoding", "compression", "float_format"})
    return ConfigError(ConfigProblem(
        message=f"csv write option '{key}' is not available on the polars engine"
                + (f" (it takes {accepted})" if accepted else "") + ".",
        key_path=f"write.options.{key}",
        fix=f"csv write options on polars: {', '.join(supported)}.",
    ))


def _write_csv(data: pl.DataFrame, path: str, kwargs: Mapping[str, Any], encoding: str, *,
               gzipped: bool | None) -> None:
    import polars as pl

    if "datetime_format" not in kwargs:
        data = data.with_columns([_pandas_datetime_text(name, dtype)
                                  for name, dtype in data.schema.items()
                                  if isinstance(dtype, pl.Datetime)])
    text = data.write_csv(**kwargs)
    payload = text.encode(encoding)
    if gzipped is None:
        gzipped = path.lower().endswith(".gz")
    opener: Any = gzip.open if gzipped else open
    with opener(path, "wb") as handle:
        handle.write(payload)


def _pandas_datetime_text(name: str, dtype: pl.Datetime) -> pl.Expr:
    """Timestamps as pandas writes them: ``2024-01-01 10:00:00+00:00``, with ``.ffffff`` only
    for a value that has a fraction of a second."""
    import polars as pl

    column = pl.col(name)
    zone = "%:z" if dtype.time_zone else ""
    whole = column.dt.strftime("%Y-%m-%d %H:%M:%S" + zone)
    fraction = column.dt.strftime("%Y-%m-%d %H:%M:%S%.6f" + zone)
    return (pl.when(column.dt.microsecond() == 0).then(whole).otherwise(fraction)
            .alias(name))


def _write_json(data: pl.DataFrame, path: str, *, lines: bool) -> None:
    rows = [json_safe_row(r) for r in data.to_arrow().to_pylist()]
    buffer = io.StringIO()
    if lines:
        for row in rows:
            buffer.write(json.dumps(row, ensure_ascii=False, allow_nan=False))
            buffer.write("\n")
    else:
        json.dump(rows, buffer, ensure_ascii=False, allow_nan=False, indent=1)
        buffer.write("\n")
    opener: Any = gzip.open if path.lower().endswith(".gz") else open
    with opener(path, "wt", encoding="utf-8") as handle:
        handle.write(buffer.getvalue())


# ---- partitioned parquet ----------------------------------------------------------------------
def _write_partitioned(data: pl.DataFrame, request: WriteRequest) -> int:
    """A hive-partitioned parquet folder, laid out by the shared writer every engine uses."""
    if request.format != "parquet":
        raise ConfigError(ConfigProblem(
            message=f"partition_by is available for parquet and Delta targets; this write is "
                    f"{request.format}.",
            key_path="write.partition_by", fix="Write parquet or delta, or remove partition_by."))
    return write_hive_location(data.to_arrow(), request.location, request.mode,
                               request.partition_by,
                               token=request.marker.token if request.marker else None)


# ---- replacing one batch ----------------------------------------------------------------------
def _replace_batch(data: pl.DataFrame, request: WriteRequest) -> WriteResult:
    """Write ``data`` as the whole of its batch: a rerun replaces, never duplicates."""
    batch = request.replace_batch
    assert batch is not None
    location, fmt = request.location, request.format
    shown = location.redact(location.uri)
    require_append_for_batch_replace(request)
    if fmt == "delta":
        version = replace_delta_batch(data.to_arrow(), request)
        return WriteResult(connection=location.connection, format=fmt, mode=request.mode,
                           location=shown, rows_written=data.height, delta_version=version,
                           files_written=1)
    if fmt not in FILE_FORMATS:
        raise format_not_available(fmt, "write", "polars")
    validate_options(fmt, "write", request.options)
    replace_batch_file(location, fmt, f"{batch.column}={batch.value}",
                       _file_writer(fmt, data, request.options, lines=True))
    return WriteResult(connection=location.connection, format=fmt, mode=request.mode,
                       location=shown, rows_written=data.height, files_written=1)
