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
- csv and json: ``schema: {column: type}`` declares logical types (``int64``, ``decimal(10,2)``,
  ``date``, ...); those columns are read as text and cast (see ``odibi_core.dead_letters.casting``).

Malformed records (a CSV row with the wrong number of fields or an unclosed quote, a line that is
not a JSON object, bytes that do not decode, a value that does not fit ``schema``) fail the read
with the file and line (:func:`read_file`), or are set aside as dead letters
(:func:`read_file_records`). The fast vectorized reader runs first; the record-level parser of
``odibi_core.dead_letters.parse`` runs only when it fails or cannot vouch for every record.

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
import math
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from difflib import get_close_matches
from typing import TYPE_CHECKING, Any

from odibi_core.dead_letters.casting import CastOutcome, cast_declared, parse_declared_schema
from odibi_core.dead_letters.model import DeadLetter
from odibi_core.dead_letters.parse import (
    CsvDialect,
    CsvScan,
    json_kind,
    scan_csv,
    scan_json_lines,
    split_lines,
)
from odibi_core.engines.arrow_filters import rows_after_filter
from odibi_core.engines.json_safe import json_safe_row
from odibi_core.engines.number_overflow import (
    column_overflow,
    first_int_overflow,
    float_overflow_literal,
    overflow_error,
)
from odibi_core.engines.pandas_arrow import from_arrow, to_arrow
from odibi_core.errors import ConfigError, ConfigProblem, DataError

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from odibi_core.storage.requests import LowerBound

__all__ = ["FileRecords", "read_file", "read_file_records", "reparse_records", "validate_options",
           "write_file"]

_CSV_READ_ALIASES = {"delimiter": "sep", "quote": "quotechar", "escape": "escapechar",
                     "null_values": "na_values", "null_value": "na_values",
                     "skip_rows": "skiprows"}
_CSV_WRITE_ALIASES = {"delimiter": "sep", "quote": "quotechar", "escape": "escapechar",
                      "null_value": "na_rep"}
_OWN_READ_OPTIONS = {"csv": {"header", "infer_schema", "schema"}, "parquet": {"columns"},
                     "json": {"lines", "encoding", "schema"}}
_OWN_WRITE_OPTIONS = {"csv": {"header"}, "parquet": {"compression"}, "json": {"lines"}}


# ---- options ---------------------------------------------------------------------------------
def validate_options(fmt: str, action: str, options: Mapping[str, Any]) -> None:
    """Refuse option keys the reader / writer does not know, with a did-you-mean.

    Raises:
        ConfigError: an unknown key (the key path is ``read.options.<key>`` / ``write...``).
    """
    own = (_OWN_READ_OPTIONS if action == "read" else _OWN_WRITE_OPTIONS)[fmt]
    valid = set(own)
    if fmt == "csv":  # pandas' keywords pass through (imported only here: polars needs no pandas)
        import pandas as pd

        aliases = _CSV_READ_ALIASES if action == "read" else _CSV_WRITE_ALIASES
        target = pd.read_csv if action == "read" else pd.DataFrame.to_csv
        passed = set(inspect.signature(target).parameters) - {
            "filepath_or_buffer", "path_or_buf", "self", "index", "dtype_backend"}
        valid |= set(aliases) | passed
    refuse_unknown_options(
        fmt, action, options, valid,
        fix=f"Valid {fmt} {action} options: {', '.join(sorted(own))}"
            + (" and the keyword arguments of pandas."
               + ("read_csv" if action == "read" else "DataFrame.to_csv")
               if fmt == "csv" else "") + ".",
        schema=action == "read" and "schema" in own)


def refuse_unknown_options(fmt: str, action: str, options: Mapping[str, Any],
                           valid: set[str], *, fix: str, schema: bool) -> None:
    """Every option key outside ``valid`` (with a did-you-mean) and, when ``schema``, a bad
    ``schema`` declaration, as one ConfigError; the engines differ only in what is valid.

    Raises:
        ConfigError: with one problem per bad key.
    """
    problems = []
    for key in options:
        if key in valid:
            continue
        close = get_close_matches(key, sorted(valid), n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        problems.append(ConfigProblem(message=f"Unknown {fmt} {action} option '{key}'.{hint}",
                                      key_path=f"{action}.options.{key}", fix=fix))
    if schema and "schema" in options:
        try:
            parse_declared_schema(options["schema"])
        except ConfigError as exc:
            problems.extend(exc.problems)
    if problems:
        raise ConfigError(problems)


# ---- reading ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class FileRecords:
    """One file read record by record: its valid records, its dead letters, and how many records
    it held in all (valid + dead letters)."""

    table: pa.Table
    dead_letters: tuple[DeadLetter, ...] = ()
    records_read: int = 0


def read_file(fmt: str, path: str, options: Mapping[str, Any], *,
              source: str | None = None, lower_bound: LowerBound | None = None) -> pa.Table:
    """One file as an Arrow table; the first malformed record fails the read.

    Args:
        source: how messages name the file (default: ``path``), e.g. ``lake:raw/orders.csv``.
        lower_bound: parquet: skip the row groups wholly at or below it (a hint; see
            ``arrow_filters``).

    Raises:
        DataError: a malformed record, naming the file and the line, and the fix.
    """
    shown = source or path
    records = read_file_records(fmt, path, options, source=shown, lower_bound=lower_bound)
    if records.dead_letters:
        raise _malformed(fmt, shown, records.dead_letters)
    return records.table


def read_file_records(fmt: str, path: str, options: Mapping[str, Any], *,
                      source: str, lower_bound: LowerBound | None = None) -> FileRecords:
    """One file split into valid records and dead letters (``source`` names the file in them).

    Raises:
        DataError: a problem that is not one record's: an empty file, a malformed header, a
            JSON field mixing value types that ``schema`` does not declare.
    """
    try:
        if fmt == "csv":
            return _csv_records(path, options, source)
        if fmt == "json":
            return _json_records(path, options, source)
        table = _read_parquet(path, options, lower_bound)
        return FileRecords(table, (), table.num_rows)
    except (DataError, ConfigError):
        raise
    except OverflowError as exc:
        raise _overflow(source) from exc
    except Exception as exc:
        if type(exc).__name__ in ("ParserError", "EmptyDataError", "ArrowInvalid",
                                  "UnicodeDecodeError"):
            raise DataError(
                f"Cannot parse {fmt} file {source}: {exc}",
                fix="Fix the file, or set the read options (sep, quote, header, encoding) "
                    "to match it.",
            ) from exc
        raise


def _malformed(fmt: str, source: str, letters: Sequence[DeadLetter]) -> DataError:
    first = letters[0]
    more = len(letters) - 1
    raw = first.raw if len(first.raw) <= 120 else first.raw[:120] + "..."
    return DataError(
        f"Cannot parse {fmt} file {source}, line {first.line}: {first.error}. Line: {raw!r}."
        + (f" {more} more record{'s' if more > 1 else ''} of this file "
           f"{'are' if more > 1 else 'is'} malformed." if more else ""),
        fix=f"Fix line {first.line} of the file (or the read options: sep, quote, encoding, "
            "schema), or add read.dead_letter to send malformed records to a dead-letter "
            "queue and read the rest.",
    )


# ---- csv -------------------------------------------------------------------------------------
def _csv_records(path: str, options: Mapping[str, Any], source: str) -> FileRecords:
    import pandas as pd

    declared = _declared(options)
    header = options.get("header", True) is not False
    frame, failure = None, None
    try:
        frame = pd.read_csv(path, dtype_backend="pyarrow",
                            **_csv_kwargs(options, declared, header=header))
    except ValueError as exc:  # ParserError, EmptyDataError and UnicodeDecodeError among them
        failure = exc
    except OverflowError as exc:  # an integer beyond int64: pandas cannot hold the column
        raise _csv_overflow(path, options, declared, source) or _overflow(source) from exc
    table = None
    if frame is not None:
        table = _csv_table(frame, header=header)
        if _may_overflow(table, declared):
            found = _csv_overflow(path, options, declared, source)
            if found is not None:
                raise found
        if not _csv_may_hide_bad_rows(frame, options):
            outcome = _cast(table, declared, source, "error")
            if not outcome.bad_rows:
                return FileRecords(outcome.table, (), table.num_rows)
    dialect = CsvDialect.from_options(options)
    if dialect is None:  # a tokenization this parser does not follow: trust the fast reader
        if failure is not None:
            raise failure
        assert table is not None
        outcome = _cast(table, declared, source, "error")
        if outcome.bad_rows:
            row, error = min(outcome.bad_rows.items())
            raise DataError(f"Cannot read csv file {source}, record {row + 1}: {error}.",
                            fix="Fix the value, or the type declared in read.options.schema.")
        return FileRecords(outcome.table, (), table.num_rows)
    scan = scan_csv(_read_bytes(path), dialect, source=source)
    if failure is not None and not scan.dead_letters:
        raise failure
    if table is None or scan.dead_letters:
        table = _csv_reread(scan, options, declared)
    return _with_cast_letters(scan, table, declared, source)


def _with_cast_letters(scan: CsvScan, table: pa.Table, declared: Mapping[str, str],
                       source: str) -> FileRecords:
    if table.num_rows != len(scan.record_lines):
        raise DataError(
            f"Cannot match the rows of {source} to its lines ({table.num_rows} rows, "
            f"{len(scan.record_lines)} records).",
            fix="Check the read options (comment, skip_rows, quote) against the file.")
    outcome = _cast(table, declared, source, "error")
    letters = list(scan.dead_letters)
    for row, error in outcome.bad_rows.items():
        record = scan.record(row)
        letters.append(DeadLetter(source, record.line, record.text, error, scan.header, "csv"))
    letters.sort(key=lambda letter: letter.line)
    return FileRecords(outcome.valid_rows(), tuple(letters), scan.records_read)


def _csv_kwargs(options: Mapping[str, Any], declared: Mapping[str, str], *, header: bool,
                in_memory: bool = False) -> dict[str, Any]:
    import pandas as pd
    import pyarrow as pa

    kwargs: dict[str, Any] = {} if in_memory else {"encoding": "utf-8"}
    dropped = {"header", "infer_schema", "schema"}
    if in_memory:  # text the record-level parser already decoded, skipped and split
        dropped |= {"encoding", "skip_rows", "skiprows", "compression"}
    for key, value in options.items():
        if key not in dropped:
            kwargs[_CSV_READ_ALIASES.get(key, key)] = value
    written = options.get("header", True)
    if in_memory:
        kwargs["header"] = 0
    else:
        kwargs["header"] = 0 if written is True else (None if written is False else written)
    text = pd.ArrowDtype(pa.string())
    if options.get("infer_schema", True) is False:
        kwargs["dtype"] = text
    elif declared:
        # Declared columns are read as text and cast: "007" stays "007" for a string column.
        by_position = not header and not in_memory
        names = {(int(c[2:]) if by_position and c[2:].isdigit() else c): text for c in declared}
        given = kwargs.get("dtype")
        kwargs["dtype"] = {**given, **names} if isinstance(given, Mapping) else names
    return kwargs


def _may_overflow(table: pa.Table, declared: Mapping[str, str]) -> bool:
    """True when an inferred column may hold a number its type cannot: a ``uint64`` column
    (integers beyond int64) or a float column holding infinity (``inf``, or ``1e400``)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    for field in table.schema:
        if field.name in declared:
            continue
        if pa.types.is_unsigned_integer(field.type):
            return True
        column = table.column(field.name)
        if pa.types.is_floating(field.type) and pc.any(pc.is_inf(column)).as_py():
            return True
    return False


def _csv_overflow(path: str, options: Mapping[str, Any], declared: Mapping[str, str],
                  source: str) -> DataError | None:
    """The error for the first number of an inferred column its type cannot hold (see
    ``number_overflow``), found in the file's text; None when there is none."""
    import pandas as pd

    header = options.get("header", True) is not False
    kwargs = _csv_kwargs({**options, "infer_schema": False}, {}, header=header)
    text = _csv_table(pd.read_csv(path, dtype_backend="pyarrow", **kwargs), header=header)
    for name in text.column_names:
        if name in declared:
            continue
        row = column_overflow(text.column(name).to_pylist())
        if row is not None:
            return overflow_error(source, _csv_line(path, options, source, row), name,
                                  text.column(name)[row].as_py().strip())
    return None


def _csv_line(path: str, options: Mapping[str, Any], source: str, row: int) -> str:
    """``line N`` of record ``row`` (0-based) of a csv file, or ``record N`` when the
    record-level parser cannot tell."""
    dialect = CsvDialect.from_options(options)
    if dialect is not None:
        scan = scan_csv(_read_bytes(path), dialect, source=source)
        if not scan.dead_letters and row < len(scan.record_lines):
            return f"line {scan.record_lines[row]}"
    return f"record {row + 1}"


def _overflow(source: str) -> DataError:
    return DataError(f"Cannot read {source}: a number is too large for the type its column "
                     "is read as.",
                     fix="Declare the column's type in read.options.schema (decimal(38,0) or "
                         "string).")


def _csv_table(frame: pd.DataFrame, *, header: bool) -> pa.Table:
    if not header:
        frame.columns = [f"_c{i}" for i in range(len(frame.columns))]
    return to_arrow(frame)


def _csv_may_hide_bad_rows(frame: pd.DataFrame, options: Mapping[str, Any]) -> bool:
    """True when pandas may have accepted a malformed row silently: a short row fills its last
    fields with nulls, and rows one field too long turn the first column into an index."""
    import pandas as pd

    if "usecols" in options or "index_col" in options:
        return True
    if not isinstance(frame.index, pd.RangeIndex):
        return True
    return frame.shape[1] > 1 and bool(frame.iloc[:, -1].isna().any())


def _csv_reread(scan: CsvScan, options: Mapping[str, Any],
                declared: Mapping[str, str]) -> pa.Table:
    """The well-formed records, typed by pandas exactly as a clean file would be."""
    import pandas as pd

    if scan.header is None:
        return _empty_table()
    kwargs = _csv_kwargs(options, declared, header=True, in_memory=True)
    frame = pd.read_csv(io.StringIO(scan.text()), dtype_backend="pyarrow", **kwargs)
    return to_arrow(frame)


# ---- json ------------------------------------------------------------------------------------
def _json_records(path: str, options: Mapping[str, Any], source: str) -> FileRecords:
    declared = _declared(options)
    encoding = options.get("encoding", "utf-8")
    data = _read_bytes(path)
    try:
        text: str | None = data.decode(encoding).lstrip("\ufeff")
    except UnicodeDecodeError:
        text = None
    lines = options.get("lines")
    if lines is None:
        head = text.lstrip() if text is not None else data.lstrip(b"\xef\xbb\xbf \t\r\n")
        lines = not head.startswith("[" if text is not None else b"[")
    if not lines:
        return _json_document_records(data, text, encoding, declared, source)
    if text is not None:
        values = _json_lines_fast(text)
        if values is not None:
            lines = _NonBlankLines(text)
            outcome = _cast(_records_to_arrow(
                values, source, declared, where=lambda row: f"line {lines.number(row)}",
                texts=lines.text), declared, source, "null")
            if not outcome.bad_rows:
                return FileRecords(outcome.table, (), len(values))
    scan = scan_json_lines(data, encoding=encoding, source=source)
    outcome = _cast(_records_to_arrow(
        [r.value for r in scan.records], source, declared,
        where=lambda row: f"line {scan.records[row].line}",
        texts=lambda row: scan.records[row].text), declared, source, "null")
    letters = list(scan.dead_letters)
    for row, error in outcome.bad_rows.items():
        record = scan.records[row]
        letters.append(DeadLetter(source, record.line, record.text, error, None, "json"))
    letters.sort(key=lambda letter: letter.line)
    return FileRecords(outcome.valid_rows(), tuple(letters), scan.records_read)


def _json_lines_fast(text: str) -> list[dict[str, Any]] | None:
    """Every line parsed in ONE ``json.loads`` call; None when some line is not one object
    (the caller then parses line by line to find which)."""
    lines = list(filter(None, map(str.strip, text.split("\n"))))
    try:
        values = json.loads("[" + ",".join(lines) + "]")
    except (json.JSONDecodeError, RecursionError):
        return None
    if len(values) != len(lines) or not all(
            type(v) is dict and line[0] == "{" and line[-1] == "}"
            for v, line in zip(values, lines)):
        return None
    return values


def _json_document_records(data: bytes, text: str | None, encoding: str,
                           declared: Mapping[str, str], source: str) -> FileRecords:
    """A JSON array document is one record for dead letters: it cannot be split into lines, so
    a document that fails is set aside whole (line 1, its full text)."""
    problem = None
    if text is None:
        lines, bad = split_lines(data, encoding, source=source)
        index = min(bad)
        problem = f"line {index + 1}: {bad[index]}"
        text = "\n".join(lines)
    else:
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            problem = f"invalid JSON document: {exc.msg} at line {exc.lineno}, column {exc.colno}"
        else:
            records = [value] if isinstance(value, dict) else value
            if not isinstance(records, list) or not all(isinstance(v, dict) for v in records):
                problem = ("not a JSON array of objects (found "
                           f"{json_kind(value) if not isinstance(value, list) else 'an array'}"
                           " holding other values)")
            else:
                document = text
                outcome = _cast(_records_to_arrow(
                    records, source, declared,
                    where=lambda row: f"record {row + 1} of the JSON array",
                    texts=lambda row: document), declared, source, "null")
                if not outcome.bad_rows:
                    return FileRecords(outcome.table, (), len(records))
                row, error = min(outcome.bad_rows.items())
                problem = f"record {row + 1} of the array: {error}"
    letter = DeadLetter(source, 1, text, problem, None, "json")
    return FileRecords(_empty_table(), (letter,), 1)


def _records_to_arrow(records: list[dict[str, Any]], path: str,
                      declared: Collection[str] = (), *,
                      where: Callable[[int], str] | None = None,
                      texts: Callable[[int], str] | None = None) -> pa.Table:
    """The records as a table. ``where(i)`` says where record ``i`` is (``line 3``) and
    ``texts(i)`` gives its JSON text, for the error on a number its column cannot hold."""
    import pyarrow as pa

    located = where or (lambda row: f"record {row + 1}")
    names = list(dict.fromkeys(key for record in records for key in record))
    columns = {}
    for name in names:
        values = [record.get(name) for record in records]
        if name in declared:  # cast from the text, as for csv
            columns[name] = pa.array(_declared_texts(values, texts), type=pa.string())
            continue
        try:
            array = pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as exc:
            row = first_int_overflow(values)
            if row is not None:
                raise overflow_error(path, located(row), name, values[row]) from exc
            if isinstance(exc, OverflowError):
                raise
            raise DataError(f"Field '{name}' of {path} mixes value types: {exc}",
                            fix="Make the field hold one type in every record, or declare its "
                                "type in read.options.schema.") from exc
        _check_json_numbers(array, values, path, name, located, texts)
        columns[name] = array.cast(pa.string()) if pa.types.is_null(array.type) else array
    return pa.table(columns) if columns else pa.table({})


def _check_json_numbers(array: pa.Array, values: list[Any], path: str, name: str,
                        where: Callable[[int], str],
                        texts: Callable[[int], str] | None) -> None:
    """Integers beyond int64 (pyarrow makes them ``uint64``) and float literals that parsed
    as infinity (``1e400``; the non-standard ``Infinity`` stays infinity) fail the read."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_unsigned_integer(array.type):
        row = first_int_overflow(values)
        if row is not None:
            raise overflow_error(path, where(row), name, values[row])
    if texts is None or not pa.types.is_floating(array.type):
        return
    infinite = pc.fill_null(pc.is_inf(array), False)
    literals = _Literals(texts)
    for row in pc.indices_nonzero(infinite).to_pylist():
        literal = literals.of(row)
        if literal is not None:
            raise overflow_error(path, where(row), name, literal)


class _Literals:
    """The first float literal beyond float64 in each record's JSON text, each text parsed
    once (a JSON document is the same text for every record)."""

    def __init__(self, texts: Callable[[int], str]) -> None:
        self._texts = texts
        self._found: dict[str, str | None] = {}

    def of(self, row: int) -> str | None:
        text = self._texts(row)
        if text not in self._found:
            self._found[text] = float_overflow_literal(text)
        return self._found[text]


class _NonBlankLines:
    """The non-blank lines of JSON Lines text by record index (split once, when first asked)."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._lines: list[tuple[int, str]] | None = None

    def _found(self) -> list[tuple[int, str]]:
        if self._lines is None:
            self._lines = [(number, line) for number, line
                           in enumerate(self._text.split("\n"), start=1) if line.strip()]
        return self._lines

    def number(self, row: int) -> int:
        return self._found()[row][0]

    def text(self, row: int) -> str:
        return self._found()[row][1]


def _declared_texts(values: list[Any], texts: Callable[[int], str] | None) -> list[str | None]:
    """The JSON text of each value of a declared column; a float the parser made infinite is
    given as its literal (``1e400``), which the declared type then refuses."""
    shown = [_json_text(v) for v in values]
    if texts is not None:
        literals = _Literals(texts)
        for row, value in enumerate(values):
            if type(value) is float and math.isinf(value):
                shown[row] = literals.of(row) or shown[row]
    return shown


def _json_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


# ---- replay ----------------------------------------------------------------------------------
def reparse_records(fmt: str, letters: Sequence[DeadLetter],
                    options: Mapping[str, Any]) -> tuple[pa.Table, dict[int, str]]:
    """Parse the raw text of ``letters`` with the read's rules (see
    ``Engine.reparse_dead_letters``): the records that now parse, and by letter index the
    error of each that still fails."""
    if fmt == "csv":
        return _reparse_csv(letters, options)
    if fmt == "json":
        return _reparse_json(letters, options)
    raise ConfigError(ConfigProblem(message=f"Dead letters of a {fmt} read cannot be replayed.",
                                    key_path="read.format",
                                    fix="Only csv and json reads have dead letters."))


def _reparse_csv(letters: Sequence[DeadLetter],
                 options: Mapping[str, Any]) -> tuple[pa.Table, dict[int, str]]:
    import pandas as pd

    dialect = CsvDialect.from_options(options)
    if dialect is None:
        raise ConfigError(ConfigProblem(
            message="csv dead letters can be replayed with a one-character sep only.",
            key_path="read.options.sep", fix="Use a one-character separator."))
    dialect = replace(dialect, header=True, skip_rows=None, comment=None)
    declared = _declared(options)
    errors: dict[int, str] = {}
    groups: dict[str, list[tuple[int, str]]] = {}
    for index, letter in enumerate(letters):
        if letter.header is None:
            errors[index] = "no header is recorded for this csv dead letter"
            continue
        try:
            scan = scan_csv(letter.header + "\n" + letter.raw, dialect, source=letter.source_file)
        except DataError as exc:
            errors[index] = exc.message
            continue
        if scan.dead_letters:
            errors[index] = scan.dead_letters[0].error
        elif len(scan.record_texts) != 1:
            errors[index] = (f"the raw text holds {len(scan.record_texts)} records instead "
                             "of one")
        else:
            groups.setdefault(letter.header, []).append((index, scan.record_texts[0]))
    tables = []
    kwargs = _csv_kwargs(options, declared, header=True, in_memory=True)
    for header, members in groups.items():
        text = "\n".join([header, *(t for _, t in members)]) + "\n"
        table = to_arrow(pd.read_csv(io.StringIO(text), dtype_backend="pyarrow", **kwargs))
        outcome = _cast(table, declared, members[0][1], "error")
        for row, error in outcome.bad_rows.items():
            errors[members[row][0]] = error
        tables.append(outcome.valid_rows())
    return _concat_replayed(tables), errors


def _reparse_json(letters: Sequence[DeadLetter],
                  options: Mapping[str, Any]) -> tuple[pa.Table, dict[int, str]]:
    import numpy as np
    import pyarrow as pa

    declared = _declared(options)
    errors: dict[int, str] = {}
    values: list[dict[str, Any]] = []
    owners: list[int] = []
    for index, letter in enumerate(letters):
        if letter.raw.lstrip().startswith("["):
            try:
                parsed = json.loads(letter.raw)
            except json.JSONDecodeError as exc:
                errors[index] = (f"invalid JSON document: {exc.msg} at line {exc.lineno}, "
                                 f"column {exc.colno}")
                continue
            if not all(isinstance(v, dict) for v in parsed):
                errors[index] = "not a JSON array of objects"
                continue
            found = parsed
        else:
            scan = scan_json_lines(letter.raw, source=letter.source_file)
            if scan.dead_letters:
                errors[index] = scan.dead_letters[0].error
                continue
            found = [r.value for r in scan.records]
        values.extend(found)
        owners.extend([index] * len(found))
    outcome = _cast(_records_to_arrow(values, "the dead letters", declared), declared,
                    "the dead letters", "null")
    for row, error in sorted(outcome.bad_rows.items()):
        errors.setdefault(owners[row], error)
    keep = np.array([owner not in errors for owner in owners], dtype=bool)
    table = outcome.table.filter(pa.array(keep)) if len(keep) else outcome.table
    return table, errors


def _concat_replayed(tables: list[pa.Table]) -> pa.Table:
    import pyarrow as pa

    if not tables:
        return _empty_table()
    return tables[0] if len(tables) == 1 else pa.concat_tables(tables,
                                                               promote_options="permissive")


# ---- shared ----------------------------------------------------------------------------------
def _declared(options: Mapping[str, Any]) -> dict[str, str]:
    schema = options.get("schema")
    return parse_declared_schema(schema) if schema is not None else {}


def _cast(table: pa.Table, declared: Mapping[str, str], source: str,
          missing: str) -> CastOutcome:
    if not declared:
        return CastOutcome(table)
    return cast_declared(table, declared, source=source, missing=missing)  # type: ignore[arg-type]


def _empty_table() -> pa.Table:
    import pyarrow as pa

    return pa.table({})


def _read_parquet(path: str, options: Mapping[str, Any],
                  lower_bound: LowerBound | None = None) -> pa.Table:
    import pyarrow.parquet as pq

    row_filter = rows_after_filter(lower_bound, pq.read_schema(path)) if lower_bound else None
    return pq.read_table(path, columns=options.get("columns"), filters=row_filter)


def _read_bytes(path: str) -> bytes:
    if path.lower().endswith(".gz"):
        with gzip.open(path, "rb") as handle:
            return handle.read()
    with open(path, "rb") as handle:
        return handle.read()


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
