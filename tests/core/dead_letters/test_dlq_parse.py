"""Record-level parsing: which records are malformed, on which line, and why."""

from __future__ import annotations

import pytest

from odibi_core.dead_letters.parse import CsvDialect, scan_csv, scan_json_lines, split_lines
from odibi_core.errors import DataError

CSV = CsvDialect()


def _bad(scan) -> dict[int, str]:
    return {d.line: d.error for d in scan.dead_letters}


def _good(scan) -> list[tuple[int, str]]:
    return [(r.line, r.text) for r in scan.records]


def test_split_lines_reports_undecodable_bytes_with_column_and_offset():
    lines, bad = split_lines(b"a,b\r\n1,\xc3\xa9\r\n2,caf\xe9,x\n3,ok", "utf-8")
    assert lines == ["a,b", "1,\u00e9", "2,caf\ufffd,x", "3,ok"]
    assert bad == {2: "invalid utf-8 byte 0xe9 at column 6 (byte offset 16 of the file)"}


def test_split_lines_strips_a_bom_and_keeps_offsets():
    lines, bad = split_lines(b"\xef\xbb\xbfa\n\xff\n", "utf-8")
    assert lines == ["a", "\ufffd"] and bad == {1: "invalid utf-8 byte 0xff at column 1 "
                                                   "(byte offset 5 of the file)"}


def test_split_lines_in_an_encoding_without_byte_line_breaks_cannot_locate_errors():
    data = "a\nb\n".encode("utf-16") + b"\x00\xd8"  # a lone surrogate half
    with pytest.raises(DataError, match=r"Cannot decode f.csv as utf-16"):
        split_lines(data, "utf-16", source="f.csv")
    assert split_lines("a\nb\n".encode("utf-16"), "utf-16") == (["a", "b"], {})


def test_csv_field_counts_against_the_header():
    scan = scan_csv(b"a,b,c\n1,2,3\n1,2\n1,2,3,4\n\n  \n5,6,7\n", CSV, source="f.csv")
    assert scan.header == "a,b,c" and scan.field_count == 3
    assert _good(scan) == [(2, "1,2,3"), (7, "5,6,7")]
    assert _bad(scan) == {3: "expected 3 fields, got 2", 4: "expected 3 fields, got 4"}
    assert scan.records_read == 4
    assert scan.text() == "a,b,c\n1,2,3\n5,6,7\n"


def test_csv_quoted_fields_may_hold_separators_quotes_and_line_breaks():
    data = b'a,b\n1,"x, ""y"""\n2,"multi\n\nline"\n3,z\n'
    scan = scan_csv(data, CSV, source="f.csv")
    assert _good(scan) == [(2, '1,"x, ""y"""'), (3, '2,"multi\n\nline"'), (6, "3,z")]
    assert scan.dead_letters == []


def test_csv_unclosed_quote_is_reported_where_it_opens_and_parsing_resumes():
    data = b'a,b\n1,"open\n2,ok\n3,"x\n4,y"\n5,"never\n6,fine\n'
    scan = scan_csv(data, CSV, source="f.csv")
    # line 4 opens a quote that closes on line 5 into a valid 2-field record
    assert _good(scan) == [(3, "2,ok"), (4, '3,"x\n4,y"'), (7, "6,fine")]
    assert sorted(_bad(scan)) == [2, 6]
    assert _bad(scan)[2].startswith("unclosed quote")
    assert scan.dead_letters[0].raw == '1,"open'


def test_csv_quote_closing_into_the_wrong_field_count_is_the_opening_line():
    scan = scan_csv(b'a,b\n1,"x\n2,y",3,4\n5,z\n', CSV, source="f.csv")
    assert _good(scan) == [(4, "5,z")]
    assert sorted(_bad(scan)) == [2, 3]


def test_csv_escapechar_skip_rows_comment_and_names():
    dialect = CsvDialect.from_options({"sep": ";", "escape": "\\", "skip_rows": 1,
                                       "comment": "#"})
    scan = scan_csv(b'junk line\na;b\n# note\n1;"x\\"y"\n2\n', dialect, source="f.csv")
    assert scan.header == "a;b"
    assert _good(scan) == [(4, '1;"x\\"y"')] and _bad(scan) == {5: "expected 2 fields, got 1"}
    names = CsvDialect.from_options({"names": ["a", "b", "c"], "header": False})
    assert _bad(scan_csv(b"1,2\n1,2,3\n", names, source="f")) == {1: "expected 3 fields, got 2"}


def test_csv_without_header_counts_from_the_first_record():
    dialect = CsvDialect.from_options({"header": False})
    assert dialect is not None and dialect.header is False
    scan = scan_csv(b"1,2\n3\n4,5\n", dialect, source="f.csv")
    assert scan.header == "_c0,_c1" and _bad(scan) == {2: "expected 2 fields, got 1"}
    assert scan.dead_letters[0].header == "_c0,_c1"


def test_csv_dialects_the_record_parser_does_not_follow():
    assert CsvDialect.from_options({"sep": "::"}) is None
    assert CsvDialect.from_options({"header": 2}) is None
    assert CsvDialect.from_options({"quoting": 3}).quotechar is None


def test_csv_header_problems_fail_the_file():
    with pytest.raises(DataError, match=r"header \(line 1\) of f.csv cannot be decoded"):
        scan_csv(b"a,\xff\n1,2\n", CSV, source="f.csv")
    with pytest.raises(DataError, match=r"header \(line 1\) of f.csv opens a quote"):
        scan_csv(b'a,"b\n1,2\n', CSV, source="f.csv")


def test_csv_bad_bytes_are_dead_letters_with_the_header():
    scan = scan_csv(b"a,b\n1,\xe9\n2,x\n", CSV, source="raw/f.csv")
    (letter,) = scan.dead_letters
    assert (letter.source_file, letter.line, letter.raw, letter.header) == (
        "raw/f.csv", 2, "1,\ufffd", "a,b")


def test_json_lines():
    data = b'{"a": 1}\n\n  {"a": 2}  \n{"a": \n[1]\n3\nnull\n{"a": "\xe9"}\n'
    scan = scan_json_lines(data, source="e.jsonl")
    assert [(r.line, r.value) for r in scan.records] == [(1, {"a": 1}), (3, {"a": 2})]
    assert _bad(scan) == {
        4: "invalid JSON: Expecting value at column 7",
        5: "expected a JSON object, found an array",
        6: "expected a JSON object, found a number",
        7: "expected a JSON object, found null",
        8: "invalid utf-8 byte 0xe9 at column 8 (byte offset 48 of the file)",
    }
    assert scan.records_read == 7
