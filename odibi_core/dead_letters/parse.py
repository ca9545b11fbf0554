"""Record-level parsing of CSV and JSON Lines: every record with the physical line it starts on.

This is the exact, slower path. Engines read a file with their vectorized reader first and come
here only when that reader fails, or when it cannot tell whether every record was well formed
(a CSV row with too few fields, a value that does not fit the declared schema). It uses only the
standard library, so every engine shares one definition of a malformed record:

- bytes that do not decode: the line is a dead letter; the rest of the file is read;
- CSV: a record whose field count differs from the header's (or, without a header, from the
  first record's), and a quote that never closes. A quoted field may span lines; a record whose
  quote does not close into the right number of fields is reported on the line where it opens,
  and parsing resumes on the next line;
- JSON Lines: a line that is not valid JSON, or not a JSON object. Blank lines are skipped.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from odibi_core.dead_letters.model import DeadLetter
from odibi_core.errors import DataError

__all__ = [
    "CsvDialect",
    "CsvScan",
    "JsonRecord",
    "JsonScan",
    "Record",
    "json_kind",
    "scan_csv",
    "scan_json_lines",
    "split_lines",
]

SkipRows = int | Collection[int] | Callable[[int], Any] | None


@dataclass(frozen=True)
class CsvDialect:
    """How a CSV file is tokenized (the subset of reader options record-level parsing follows)."""

    delimiter: str = ","
    quotechar: str | None = '"'
    escapechar: str | None = None
    doublequote: bool = True
    header: bool = True
    encoding: str = "utf-8"
    skip_rows: SkipRows = None
    comment: str | None = None
    field_count: int | None = None  # fixed by `names: [...]`

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> CsvDialect | None:
        """The dialect of the csv read ``options``; None when they tokenize in a way this parser
        does not follow (a regular-expression or multi-character separator, ``header: 3``)."""
        sep = options.get("sep", options.get("delimiter", ","))
        header = options.get("header", True)
        # `header` is true / false (or pandas' 0 / None); `False == 0`, so compare by identity.
        has_header = header is True or (type(header) is int and header == 0)
        if not isinstance(sep, str) or len(sep) != 1 or not (
                has_header or header is False or header is None):
            return None
        quoting = options.get("quoting", csv.QUOTE_MINIMAL)
        quote = options.get("quotechar", options.get("quote", '"'))
        names = options.get("names")
        return cls(
            delimiter=sep,
            quotechar=None if quoting == csv.QUOTE_NONE or not quote else str(quote),
            escapechar=options.get("escapechar", options.get("escape")) or None,
            doublequote=bool(options.get("doublequote", True)),
            header=has_header,
            encoding=str(options.get("encoding") or "utf-8"),
            skip_rows=options.get("skiprows", options.get("skip_rows")),
            comment=options.get("comment") or None,
            field_count=len(names) if names is not None else None,
        )


@dataclass(frozen=True)
class Record:
    """A well-formed CSV record: the line it starts on and its text (several physical lines when
    a quoted field holds line breaks)."""

    line: int
    text: str


@dataclass
class CsvScan:
    """The records of a CSV file, split into well-formed ones and dead letters.

    Well-formed records are kept as two parallel lists (their lines and texts): a file is
    mostly well-formed records, and one object per record would cost more than the parse.
    """

    header: str | None
    field_count: int | None
    record_lines: list[int] = field(default_factory=list)
    record_texts: list[str] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)

    @property
    def records_read(self) -> int:
        return len(self.record_lines) + len(self.dead_letters)

    @property
    def records(self) -> list[Record]:
        return [Record(n, t) for n, t in zip(self.record_lines, self.record_texts)]

    def record(self, row: int) -> Record:
        """The ``row``-th well-formed record (0-based)."""
        return Record(self.record_lines[row], self.record_texts[row])

    def text(self) -> str:
        """The header and the well-formed records, for a vectorized reader to type them."""
        body = [self.header] if self.header is not None else []
        body.extend(self.record_texts)
        return "\n".join(body) + "\n"


@dataclass(frozen=True)
class JsonRecord:
    line: int
    text: str
    value: dict[str, Any]


@dataclass
class JsonScan:
    """The lines of a JSON Lines file, split into objects and dead letters."""

    records: list[JsonRecord] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)

    @property
    def records_read(self) -> int:
        return len(self.records) + len(self.dead_letters)


# ---- lines -----------------------------------------------------------------------------------
def split_lines(data: bytes | str, encoding: str = "utf-8", *,
                source: str = "<text>") -> tuple[list[str], dict[int, str]]:
    """Physical lines (split on ``\\n``, a trailing ``\\r`` removed) and, by line index, the
    error of each line whose bytes do not decode (such a line holds its text decoded with
    ``errors="replace"``).

    Raises:
        DataError: bytes do not decode in an encoding whose line breaks are not single bytes
            (UTF-16, UTF-32): lines cannot be told apart.
    """
    if isinstance(data, str):
        return _lines(data.removeprefix("\ufeff")), {}
    codec = codecs.lookup(encoding).name
    start = 0
    if codec == "utf-8" and data.startswith(codecs.BOM_UTF8):
        start = len(codecs.BOM_UTF8)
    try:
        return _lines(data[start:].decode(encoding).removeprefix("\ufeff")), {}
    except UnicodeDecodeError as exc:
        if not _splits_on_bytes(encoding):
            raise DataError(
                f"Cannot decode {source} as {codec}: {exc.reason} at byte {exc.start}.",
                fix="Set `options: {encoding: ...}` to the file's encoding.",
            ) from exc
    lines: list[str] = []
    bad: dict[int, str] = {}
    offset = start
    chunks = data[start:].split(b"\n")
    if chunks and chunks[-1] == b"":
        chunks.pop()
    for index, chunk in enumerate(chunks):
        body = chunk[:-1] if chunk.endswith(b"\r") else chunk
        try:
            lines.append(body.decode(encoding))
        except UnicodeDecodeError as exc:
            lines.append(body.decode(encoding, errors="replace"))
            column = len(body[:exc.start].decode(encoding, errors="replace")) + 1
            bad[index] = (f"invalid {codec} byte 0x{body[exc.start]:02x} at column {column} "
                          f"(byte offset {offset + exc.start} of the file)")
        offset += len(chunk) + 1
    return lines, bad


def _lines(text: str) -> list[str]:
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if "\r" in text:
        lines = [line[:-1] if line.endswith("\r") else line for line in lines]
    return lines


def _splits_on_bytes(encoding: str) -> bool:
    try:
        return "\n,a".encode(encoding) == b"\n,a"
    except UnicodeEncodeError:
        return False


# ---- CSV -------------------------------------------------------------------------------------
def scan_csv(data: bytes | str, dialect: CsvDialect, *, source: str) -> CsvScan:
    """Split a CSV file into well-formed records and dead letters, each with its line.

    Args:
        data: the file's bytes (decoded with ``dialect.encoding``) or its text.
        dialect: how the file is tokenized.
        source: the file as dead letters and messages name it.

    Raises:
        DataError: the header itself is malformed (undecodable, or a quote that never closes).
    """
    lines, bad_bytes = split_lines(data, dialect.encoding, source=source)
    scan = CsvScan(header=None, field_count=dialect.field_count)
    index = _scan_header(scan, lines, bad_bytes, dialect, source) if dialect.header else 0
    quote, escape, delimiter = dialect.quotechar, dialect.escapechar, dialect.delimiter
    plain_lines = quote is None and escape is None
    special_rows = bool(bad_bytes) or dialect.skip_rows is not None or bool(dialect.comment)
    count = len(lines)
    record_lines, record_texts = scan.record_lines, scan.record_texts
    while index < count:
        text = lines[index]
        # The common case first: no quote, the right number of separators.
        if scan.field_count is not None and scan.field_count > 1 and not special_rows and (
                plain_lines or ((quote is None or quote not in text)
                                and (escape is None or escape not in text))) \
                and text.count(delimiter) == scan.field_count - 1:
            record_lines.append(index + 1)
            record_texts.append(text)
            index += 1
            continue
        index = _scan_record(scan, lines, bad_bytes, index, dialect, source)
    if scan.header is None and scan.field_count is not None and not dialect.header:
        scan.header = delimiter.join(f"_c{i}" for i in range(scan.field_count))
    scan.dead_letters = [replace(d, header=scan.header) for d in scan.dead_letters]
    return scan


def _ignored(index: int, text: str, bad_bytes: Mapping[int, str], dialect: CsvDialect) -> bool:
    """Skipped rows, blank lines and comment lines hold no record."""
    if _skipped(index, dialect.skip_rows):
        return True
    if index in bad_bytes:
        return False
    return not text.strip() or bool(dialect.comment and text.startswith(dialect.comment))


def _record_end(lines: list[str], bad_bytes: Mapping[int, str], index: int,
                dialect: CsvDialect) -> tuple[int, int | None]:
    """The last line of the record starting on line ``index`` and its field count (None: a
    quote that never closes)."""
    text = lines[index]
    if dialect.quotechar is not None and _odd_quotes(text, dialect):
        return _quoted_span(lines, bad_bytes, index, dialect)
    return index, _field_count(text, dialect)


def _scan_header(scan: CsvScan, lines: list[str], bad_bytes: Mapping[int, str],
                 dialect: CsvDialect, source: str) -> int:
    """Find the header; returns the index of the line after it."""
    for index, text in enumerate(lines):
        if _ignored(index, text, bad_bytes, dialect):
            continue
        if index in bad_bytes:
            raise DataError(f"The header (line {index + 1}) of {source} cannot be decoded: "
                            f"{bad_bytes[index]}.",
                            fix="Set `options: {encoding: ...}` to the file's encoding.")
        end, fields = _record_end(lines, bad_bytes, index, dialect)
        if fields is None:
            raise DataError(f"The header (line {index + 1}) of {source} opens a quote that "
                            "never closes.", fix="Fix the header line of the file.")
        scan.header = "\n".join(lines[index:end + 1])
        scan.field_count = scan.field_count or fields
        return end + 1
    return len(lines)


def _scan_record(scan: CsvScan, lines: list[str], bad_bytes: Mapping[int, str], index: int,
                 dialect: CsvDialect, source: str) -> int:
    """Classify the record starting on line ``index``; returns the index of the next line."""
    text = lines[index]
    if _ignored(index, text, bad_bytes, dialect):
        return index + 1
    if index in bad_bytes:
        scan.dead_letters.append(_letter(source, index, text, bad_bytes[index]))
        return index + 1
    end, fields = _record_end(lines, bad_bytes, index, dialect)
    if scan.field_count is None and fields is not None:
        scan.field_count = fields
    if fields is None or (end > index and fields != scan.field_count):
        scan.dead_letters.append(_letter(
            source, index, text,
            "unclosed quote: a quoted field opens on this line and does not close into a "
            "record of the right number of fields"))
        return index + 1  # resume on the next line
    if fields != scan.field_count:
        scan.dead_letters.append(_letter(
            source, index, text, f"expected {scan.field_count} fields, got {fields}"))
    else:
        scan.record_lines.append(index + 1)
        scan.record_texts.append("\n".join(lines[index:end + 1]) if end > index else text)
    return end + 1


def _letter(source: str, index: int, text: str, error: str, fmt: str = "csv") -> DeadLetter:
    return DeadLetter(source_file=source, line=index + 1, raw=text, error=error, format=fmt)


def _skipped(index: int, skip_rows: SkipRows) -> bool:
    if skip_rows is None:
        return False
    if isinstance(skip_rows, int):
        return index < skip_rows
    if callable(skip_rows):
        return bool(skip_rows(index))
    return index in skip_rows


def _odd_quotes(text: str, dialect: CsvDialect) -> bool:
    quote = dialect.quotechar or ""
    if quote not in text:
        return False
    escape = dialect.escapechar
    if escape and escape in text:
        text = text.replace(escape + escape, "").replace(escape + quote, "")
    return text.count(quote) % 2 == 1


def _quoted_span(lines: list[str], bad_bytes: Mapping[int, str], index: int,
                 dialect: CsvDialect) -> tuple[int, int | None]:
    """Where a record whose quote opens on line ``index`` ends, and its field count (None when
    the quote never closes)."""
    end = index + 1
    while end < len(lines) and end not in bad_bytes:
        if _odd_quotes(lines[end], dialect):
            # Strict: text right after the closing quote means the quote was never meant to
            # close here (an unclosed quote met another line's quote).
            return end, _field_count("\n".join(lines[index:end + 1]), dialect, strict=True)
        end += 1
    return index, None


def _field_count(text: str, dialect: CsvDialect, *, strict: bool = False) -> int | None:
    quote, escape = dialect.quotechar, dialect.escapechar
    if (quote is None or quote not in text) and (escape is None or escape not in text):
        return text.count(dialect.delimiter) + 1
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=dialect.delimiter,
                        quotechar=quote or '"', escapechar=escape,
                        doublequote=dialect.doublequote,
                        quoting=csv.QUOTE_NONE if quote is None else csv.QUOTE_MINIMAL,
                        strict=strict)
    try:
        rows = list(reader)
    except csv.Error:
        return None
    return len(rows[0]) if len(rows) == 1 else None


# ---- JSON Lines ------------------------------------------------------------------------------
def scan_json_lines(data: bytes | str, *, encoding: str = "utf-8", source: str) -> JsonScan:
    """Split a JSON Lines file into objects and dead letters, each with its line."""
    lines, bad_bytes = split_lines(data, encoding, source=source)
    scan = JsonScan()
    for index, text in enumerate(lines):
        if index in bad_bytes:
            scan.dead_letters.append(_letter(source, index, text, bad_bytes[index], "json"))
            continue
        if not text.strip():
            continue
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            scan.dead_letters.append(_letter(
                source, index, text, f"invalid JSON: {exc.msg} at column {exc.colno}", "json"))
            continue
        if not isinstance(value, dict):
            scan.dead_letters.append(_letter(
                source, index, text, f"expected a JSON object, found {json_kind(value)}", "json"))
            continue
        scan.records.append(JsonRecord(index + 1, text, value))
    return scan


def json_kind(value: Any) -> str:
    """The JSON name of a parsed value's type."""
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "null"
    return {list: "an array", str: "a string", dict: "an object"}.get(type(value), "a number")
