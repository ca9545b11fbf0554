"""CSV, Parquet and JSON files for the pandas engine: one file in, one Arrow table out, and back.

Reading:
- csv: pandas' parser; ``header`` (default true; false names the columns ``_c0, _c1, ...``),
  ``sep``/``delimiter``, ``encoding`` (default utf-8), ``quote``, ``escape``, ``null_values``,
  ``skip_rows``, ``infer_schema`` (default true: numbers and booleans are typed, everything else
  stays a string; false reads every column as a string). Other keys go to ``pandas.read_csv``.
- parquet: ``columns`` (a subset to read).
- json: a file holding a JSON array of objects (or one object) is a document; any other file is
  JSON Lines (one object per line). Detected from the first character; ``lines: true|false``
  forces it. String values stay strings (no date guessing).

Writing: csv (header, sep/delimiter, encoding, quote, null_value, date_format, float_format;
booleans written ``true``/``false``), parquet (``compression``, default snappy), json (a single
``.json`` file is a JSON array; ``.jsonl`` / ``.ndjson`` files and part files are JSON Lines;
``lines`` forces either).
"""

from __future__ import annotations

import gzip
import inspect
import io
import json
from collections.abc import Callable, Mapping
from difflib import get_close_matches
from typing import TYPE_CHECKING, Any

from odibi_core.engines.json_safe import json_safe_row
from odibi_core.engines.pandas_arrow import from_arrow, to_arrow
from odibi_core.errors import ConfigError, ConfigProblem, DataError

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

__all__ = ["read_file", "validate_options", "write_file"]

_CSV_READ_ALIASES = {"delimiter": "sep", "quote": "quotechar", "escape": "escapechar",
                     "null_values": "na_values", "null_value": "na_values",
                     "skip_rows": "skiprows"}
_CSV_WRITE_ALIASES = {"delimiter": "sep", "quote": "quotechar", "escape": "escapechar",
                      "null_value": "na_rep"}
_OWN_READ_OPTIONS = {"csv": {"header", "infer_schema"}, "parquet": {"columns"},
                     "json": {"lines", "encoding"}}
_OWN_WRITE_OPTIONS = {"csv": {"header"}, "parquet": {"compression"}, "json": {"lines"}}


# ---- options ---------------------------------------------------------------------------------
def validate_options(fmt: str, action: str, options: Mapping[str, Any]) -> None:
    """Refuse option keys the reader / writer does not know, with a did-you-mean.

    Raises:
        ConfigError: an unknown key (the key path is ``read.options.<key>`` / ``write...``).
    """
    import pandas as pd

    own = (_OWN_READ_OPTIONS if action == "read" else _OWN_WRITE_OPTIONS)[fmt]
    valid = set(own)
    if fmt == "csv":
        aliases = _CSV_READ_ALIASES if action == "read" else _CSV_WRITE_ALIASES
        target = pd.read_csv if action == "read" else pd.DataFrame.to_csv
        passed = set(inspect.signature(target).parameters) - {
            "filepath_or_buffer", "path_or_buf", "self", "index", "dtype_backend"}
        valid |= set(aliases) | passed
    problems = []
    for key in options:
        if key in valid:
            continue
        close = get_close_matches(key, sorted(valid), n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        problems.append(ConfigProblem(
            message=f"Unknown {fmt} {action} option '{key}'.{hint}",
            key_path=f"{action}.options.{key}",
            fix=f"Valid {fmt} {action} options: {', '.join(sorted(own))}"
                + (" and the keyword arguments of pandas."
                   + ("read_csv" if action == "read" else "DataFrame.to_csv")
                   if fmt == "csv" else "") + ".",
        ))
    if problems:
        raise ConfigError(problems)


# ---- reading ---------------------------------------------------------------------------------
def read_file(fmt: str, path: str, options: Mapping[str, Any]) -> pa.Table:
    """One file as an Arrow table.

    Raises:
        DataError: the file cannot be parsed; the message names the file (and line, when known).
    """
    reader = _READERS[fmt]
    try:
        return reader(path, options)
    except (DataError, ConfigError):
        raise
    except UnicodeDecodeError as exc:
        raise DataError(
            f"Cannot decode {path} as {options.get('encoding', 'utf-8')}: {exc.reason} at byte "
            f"{exc.start}.",
            fix="Set `options: {encoding: ...}` to the file's encoding (e.g. latin-1).",
        ) from exc
    except Exception as exc:
        if type(exc).__name__ in ("ParserError", "EmptyDataError", "ArrowInvalid"):
            raise DataError(
                f"Cannot parse {fmt} file {path}: {exc}",
                fix="Fix the malformed record, or set the read options (sep, quote, header) "
                    "to match the file.",
            ) from exc
        raise


def _read_csv(path: str, options: Mapping[str, Any]) -> pa.Table:
    import pandas as pd
    import pyarrow as pa

    kwargs: dict[str, Any] = {"encoding": "utf-8"}
    for key, value in options.items():
        if key not in ("header", "infer_schema"):
            kwargs[_CSV_READ_ALIASES.get(key, key)] = value
    header = options.get("header", True)
    kwargs["header"] = 0 if header is True else (None if header is False else header)
    if options.get("infer_schema", True) is False:
        kwargs["dtype"] = pd.ArrowDtype(pa.string())
    frame = pd.read_csv(path, dtype_backend="pyarrow", **kwargs)
    if kwargs["header"] is None:
        frame.columns = [f"_c{i}" for i in range(len(frame.columns))]
    return to_arrow(frame)


def _read_parquet(path: str, options: Mapping[str, Any]) -> pa.Table:
    import pyarrow.parquet as pq

    return pq.read_table(path, columns=options.get("columns"))


def _read_json(path: str, options: Mapping[str, Any]) -> pa.Table:
    text = _read_text(path, options.get("encoding", "utf-8")).lstrip("\ufeff")
    lines = options.get("lines")
    if lines is None:
        lines = not text.lstrip().startswith("[")
    records = _json_lines(text, path) if lines else _json_document(text, path)
    return _records_to_arrow(records, path)


def _json_lines(text: str, path: str) -> list[dict[str, Any]]:
    records = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(
                f"Cannot parse JSON Lines file {path}, line {number}: {exc.msg} "
                f"(column {exc.colno}).",
                fix="Fix the line; a JSON array document needs `options: {lines: false}`.",
            ) from exc
        if not isinstance(value, dict):
            raise DataError(f"{path}, line {number}: expected a JSON object, found "
                            f"{type(value).__name__}.",
                            fix="Each line of a JSON Lines file must be one object.")
        records.append(value)
    return records


def _json_document(text: str, path: str) -> list[dict[str, Any]]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(
            f"Cannot parse JSON file {path}, line {exc.lineno}: {exc.msg} (column {exc.colno}).",
            fix="Fix the document; JSON Lines files are read with `options: {lines: true}`.",
        ) from exc
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise DataError(f"{path} is not a JSON array of objects.",
                        fix="Store records as [{...}, {...}] or as JSON Lines.")
    return value


def _records_to_arrow(records: list[dict[str, Any]], path: str) -> pa.Table:
    import pyarrow as pa

    names = list(dict.fromkeys(key for record in records for key in record))
    columns = {}
    for name in names:
        try:
            array = pa.array([record.get(name) for record in records])
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise DataError(f"Field '{name}' of {path} mixes value types: {exc}",
                            fix="Make the field hold one type in every record.") from exc
        columns[name] = array.cast(pa.string()) if pa.types.is_null(array.type) else array
    return pa.table(columns) if columns else pa.table({})


def _read_text(path: str, encoding: str) -> str:
    if path.lower().endswith(".gz"):
        with gzip.open(path, "rt", encoding=encoding) as handle:
            return handle.read()
    with open(path, encoding=encoding) as handle:
        return handle.read()


_READERS: dict[str, Callable[[str, Mapping[str, Any]], pa.Table]] = {
    "csv": _read_csv, "parquet": _read_parquet, "json": _read_json,
}


# ---- writing ---------------------------------------------------------------------------------
def write_file(fmt: str, frame: pd.DataFrame, path: str, options: Mapping[str, Any], *,
               lines: bool) -> None:
    """Write ``frame`` to ``path`` (``lines``: JSON Lines rather than a JSON array)."""
    if fmt == "csv":
        _write_csv(frame, path, options)
    elif fmt == "parquet":
        import pyarrow.parquet as pq

        pq.write_table(to_arrow(frame), path, compression=options.get("compression", "snappy"))
    else:
        _write_json(frame, path, lines=bool(options.get("lines", lines)))


def _write_csv(frame: pd.DataFrame, path: str, options: Mapping[str, Any]) -> None:
    import pyarrow as pa

    table = to_arrow(frame)
    for index, field in enumerate(table.schema):
        if pa.types.is_boolean(field.type):  # true/false, as Spark and polars write them
            table = table.set_column(index, field.name, table.column(index).cast(pa.string()))
    kwargs: dict[str, Any] = {"encoding": "utf-8"}
    for key, value in options.items():
        kwargs[_CSV_WRITE_ALIASES.get(key, key)] = value
    from_arrow(table).to_csv(path, index=False, **kwargs)


def _write_json(frame: pd.DataFrame, path: str, *, lines: bool) -> None:
    rows = [json_safe_row(r) for r in to_arrow(frame).to_pylist()]
    buffer = io.StringIO()
    if lines:
        for row in rows:
            buffer.write(json.dumps(row, ensure_ascii=False, allow_nan=False))
            buffer.write("\n")
    else:
        json.dump(rows, buffer, ensure_ascii=False, allow_nan=False, indent=1)
        buffer.write("\n")
    opener = gzip.open if path.lower().endswith(".gz") else open
    with opener(path, "wt", encoding="utf-8") as handle:  # type: ignore[operator]
        handle.write(buffer.getvalue())
