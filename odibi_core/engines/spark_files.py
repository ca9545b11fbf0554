"""CSV, JSON and Parquet files on the Spark engine: Spark's readers and writers, with the types,
the malformed-record errors and the file layout of the other engines.

Reading (lazy, plus one validation job for csv and json):

- csv: read by Spark as text columns (``multiLine`` on, so quoted values may span lines;
  ``FAILFAST``, so a row with the wrong number of fields fails), then ONE aggregation job
  decides each column's type the way the pyarrow-based reader of the other engines does:
  integers are ``int64`` (Spark's own inference would say ``int``), decimals ``float64``,
  ``true``/``false`` ``bool``, an all-empty column ``null``, anything else ``string`` (dates and
  timestamps stay strings); pandas' default NA spellings (``NA``, ``null``, ``NaN``, ...) are
  nulls. The same job checks ``read.options.schema`` values and looks for what Spark reads
  without complaint but the other engines refuse: undecodable bytes (U+FFFD) and a quote that
  never closes. The typed frame is a projection over the text columns: nothing is computed
  until it is used.
- json: Spark's reader in ``FAILFAST`` mode (its schema inference parses every record, so a
  malformed line fails the read); a file whose first character is ``[`` is one JSON document,
  any other JSON Lines (``lines: true|false`` forces either). Columns come in order of first
  appearance (from the first records of local files), as on the other engines.
- parquet: Spark's reader (schemas of several files merged); hive folders
  (``key=value/...``) give their partition columns as strings, as on every engine.

When Spark fails on a local source, or the validation job finds a suspicious value, the files are
parsed again by the shared pyarrow-based reader (``odibi_core.engines.pandas_files``): it raises
the error the other engines raise (file, line, what is wrong) or, when the data is fine after all,
its result is used. Remote sources get Spark's error.

Writing: a path with the format's extension is ONE file (the frame coalesced to one partition,
written to a hidden staging folder, the part file moved into place); any other path is a folder of
part files ``part-NNNNN-<uuid>.<ext>`` (an overwrite builds the folder beside the target and swaps
it in, an append moves the new part files in). A write carrying a batch marker puts the batch's
token in every part file's name (``part-NNNNN-<token>-<uuid>.<ext>``; partitioned parquet
``key=value/part-<token>-<uuid>.parquet``), remote folders included (Spark writes a hidden
staging folder in the target, whose part files are then renamed into place). csv is written
with a header, ``true``/``false`` booleans and doubled quotes; a single ``.json`` file is a JSON
array, other json files JSON Lines.
"""

from __future__ import annotations

import codecs
import gzip
import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from odibi_core.dead_letters.casting import parse_declared_schema
from odibi_core.dead_letters.model import relative_source
from odibi_core.engines.file_layout import check_file_mode, list_source_files
from odibi_core.engines.file_names import (
    is_single_file_target,
    part_extension,
    part_name,
    staging_folder,
    swap_in_folder,
)
from odibi_core.engines.file_tables import concat_file_tables
from odibi_core.engines.hive_parquet import is_hive_folder
from odibi_core.engines.pandas_files import refuse_unknown_options
from odibi_core.engines.spark_sql import error_text
from odibi_core.engines.spark_types import (
    fresh_plan,
    frame_from_arrow,
    quoted,
    spark_type_of,
    storable,
)
from odibi_core.error_taxonomy import is_transient
from odibi_core.errors import ConfigError, ConfigProblem, DataError, TransientError
from odibi_core.storage.locations import ResolvedLocation
from odibi_core.storage.requests import ReadRequest, WriteRequest

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

__all__ = [
    "FilesWritten",
    "helper_options",
    "read_csv",
    "read_json",
    "read_parquet",
    "replace_batch_file",
    "validate_options",
    "write_files",
    "write_single_file",
]

# ---- options ---------------------------------------------------------------------------------
_SHARED_READ = {
    "csv": {"header", "infer_schema", "schema", "sep", "delimiter", "quote", "escape",
            "encoding", "comment", "null_values", "null_value", "keep_default_na"},
    "json": {"lines", "encoding", "schema"},
    "parquet": {"columns"},
}
_SPARK_READ = {
    "csv": {"multiLine", "lineSep", "ignoreLeadingWhiteSpace", "ignoreTrailingWhiteSpace",
            "nullValue", "emptyValue", "charToEscapeQuoteEscaping", "unescapedQuoteHandling",
            "maxColumns", "maxCharsPerColumn", "locale"},
    "json": {"allowComments", "allowUnquotedFieldNames", "allowSingleQuotes",
             "allowNumericLeadingZeros", "allowBackslashEscapingAnyCharacter",
             "allowNonNumericNumbers", "dropFieldIfAllNull", "lineSep", "locale",
             "primitivesAsString", "prefersDecimal"},
    "parquet": {"mergeSchema", "datetimeRebaseMode", "int96RebaseMode"},
}
_SHARED_WRITE = {
    "csv": {"header", "sep", "delimiter", "quote", "escape", "encoding", "null_value",
            "date_format", "compression"},
    "json": {"lines", "compression"},
    "parquet": {"compression"},
}
_SPARK_WRITE = {
    "csv": {"nullValue", "emptyValue", "quoteAll", "escapeQuotes", "dateFormat",
            "timestampFormat", "timestampNTZFormat", "lineSep", "ignoreLeadingWhiteSpace",
            "ignoreTrailingWhiteSpace"},
    "json": {"dateFormat", "timestampFormat", "timestampNTZFormat", "ignoreNullFields",
             "lineSep", "encoding"},
    "parquet": set(),
}
# pandas.read_csv keywords the shared reader takes (the Spark reader ignores what it cannot do).
_PANDAS_CSV_READ = {"na_values", "quotechar", "escapechar", "skipinitialspace", "true_values",
                    "false_values", "na_filter", "thousands", "decimal"}
_INT = r"^\s*[+-]?[0-9]+\s*$"
_FLOAT = (r"^\s*[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
          r"|(?i:inf(?:inity)?))\s*$")
_INFINITY_WORD = r"^\s*[+-]?(?i:inf|infinity)\s*$"
_BIG_EXPONENT = r"^\s*[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)[eE]\+?0*[0-9]{3,}\s*$"
_PANDAS_DEFAULT_NA = ("", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan",
                      "1.#IND", "1.#QNAN", "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a",
                      "nan", "null")
_TRUE_WORDS = ("True", "TRUE", "true")
_FALSE_WORDS = ("False", "FALSE", "false")
_TRIM = r"^\s+|\s+$"
_JAVA_CHARSETS = {"utf-8": "UTF-8", "iso8859-1": "ISO-8859-1", "latin-1": "ISO-8859-1",
                  "cp1252": "windows-1252", "ascii": "US-ASCII", "utf-16": "UTF-16",
                  "utf-8-sig": "UTF-8", "utf-16-le": "UTF-16LE", "utf-16-be": "UTF-16BE"}


def validate_options(fmt: str, action: str, options: Mapping[str, Any]) -> None:
    """Refuse option keys the Spark reader / writer does not know, with a did-you-mean.

    Valid: the keys every engine shares (``header``, ``sep``, ``schema``, ...) and the Spark
    option names listed in ``docs/engines.md``.

    Raises:
        ConfigError: an unknown key, or a bad ``schema`` declaration.
    """
    shared = (_SHARED_READ if action == "read" else _SHARED_WRITE)[fmt]
    spark = (_SPARK_READ if action == "read" else _SPARK_WRITE)[fmt]
    valid = shared | spark | (_PANDAS_CSV_READ if fmt == "csv" and action == "read" else set())
    refuse_unknown_options(
        fmt, action, options, valid,
        fix=f"Valid {fmt} {action} options on the spark engine: "
            f"{', '.join(sorted(shared))} and the Spark options "
            f"{', '.join(sorted(spark)) or '(none)'}.",
        schema=action == "read" and "schema" in shared)


def helper_options(fmt: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """The options the shared pyarrow-based reader understands (Spark-only keys left out)."""
    spark_only = _SPARK_READ.get(fmt, set())
    return {k: v for k, v in options.items() if k not in spark_only}


# ---- reading: csv ----------------------------------------------------------------------------
def read_csv(spark: SparkSession, request: ReadRequest, *,
             keep: Callable[[DataFrame], DataFrame] | None = None,
             release: Callable[[DataFrame], None] | None = None) -> DataFrame:
    """The csv files of ``request`` as a typed, lazy Spark frame (see the module docstring).

    Args:
        keep: persists the text columns, so that the validation job also fills the cache the
            later jobs read (the files are parsed once); ``release`` undoes it when the shared
            reader takes over.
    """
    from pyspark.sql import functions as F

    options = dict(request.options)
    validate_options("csv", "read", options)
    declared = _declared(options)
    header = options.get("header", True) is not False
    infer = options.get("infer_schema", True) is not False
    paths = _paths(request.location, "csv")
    reader = spark.read.options(**_csv_reader_options(options, header))
    first = _first_record(paths[0], options) if request.location.is_local else None
    if first:  # the column names without a Spark job (Spark checks every file's header)
        from pyspark.sql import types as T

        names = first if header else [f"_c{i}" for i in range(len(first))]
        if len(set(names)) == len(names) and all(names):
            reader = reader.schema(T.StructType(
                [T.StructField(n, T.StringType(), True) for n in names]))
    try:
        raw = reader.csv(paths)
        names = list(raw.columns)
    except Exception as exc:  # noqa: BLE001 - parsed again to name the file and line
        return _parse_again(spark, request, "csv", exc)
    if not names:  # an empty file: the shared reader says what is wrong with it
        return _parse_again(spark, request, "csv", None)
    raw = fresh_plan(raw)
    if keep is not None:
        raw = keep(raw)
    missing = [c for c in declared if c not in names]
    if missing:
        if release is not None:
            release(raw)
        raise DataError(
            f"read.options.schema declares column '{missing[0]}', which "
            f"{request.location.display} does not have (columns: {', '.join(names)}).",
            fix="Name the file's columns in schema, or fix the header.")
    na = _na_values(options)
    text = {c: _as_null(raw[quoted(c)], na) for c in names}
    facts: list[Column] = []
    for column in names:
        value = text[column]
        facts.append(F.count(value))
        if column in declared:
            facts.append(_count_if(value.isNotNull() & ~_fits(value, declared[column])))
        elif infer:
            facts.extend([_count_if(_is_integer(value)), _count_if(_is_float(value)),
                          _count_if(value.isin(*_TRUE_WORDS, *_FALSE_WORDS))])
    suspicious = _suspicious([raw[quoted(c)] for c in names])
    if infer:  # a number its inferred column cannot hold: the shared reader names it
        inferred = [text[c] for c in names if c not in declared]
        overflow = _overflows(inferred)
        suspicious = overflow if suspicious is None or overflow is None \
            else suspicious | overflow
    if suspicious is not None:
        facts.append(_count_if(suspicious))

    def again(cause: BaseException | None) -> DataFrame:
        if release is not None:
            release(raw)
        return _parse_again(spark, request, "csv", cause)

    try:
        row = list(raw.agg(*facts).collect()[0]) if facts else []
    except Exception as exc:  # noqa: BLE001 - a malformed record: parse again for the line
        return again(exc)
    if suspicious is not None and row[-1]:
        return again(None)
    projection, position = [], 0
    for column in names:
        value, present = text[column], row[position]
        position += 1
        if column in declared:
            if row[position]:
                return again(None)
            position += 1
            projection.append(_typed(value, declared[column]).alias(column))
        elif infer:
            ints, floats, bools = row[position:position + 3]
            position += 3
            projection.append(_inferred(value, present, ints, floats, bools).alias(column))
        else:
            projection.append(value.alias(column))
    return raw.select(*projection)


def _first_record(path: str, options: Mapping[str, Any]) -> list[str] | None:
    """The fields of the first record of a local csv file, or None when it is not simple to
    tell (Spark then reads the header itself)."""
    import csv

    sep = options.get("sep", options.get("delimiter", ","))
    quote = options.get("quote", options.get("quotechar", '"'))
    comment = options.get("comment")
    if not isinstance(sep, str) or len(sep) != 1 or not isinstance(quote, str) \
            or len(quote) != 1:
        return None
    try:
        opener: Callable[..., Any] = gzip.open if path.lower().endswith(".gz") else open
        with opener(path, "rt", encoding=str(options.get("encoding", "utf-8")),
                    newline="") as handle:
            line = handle.readline(1 << 16)
    except (OSError, UnicodeDecodeError, LookupError):
        return None
    text = line.rstrip("\r\n").lstrip("\ufeff")
    if not text or (comment and text.startswith(str(comment))) or text.count(quote) % 2:
        return None
    try:
        return next(csv.reader([text], delimiter=sep, quotechar=quote))
    except (csv.Error, StopIteration):
        return None


def _csv_reader_options(options: Mapping[str, Any], header: bool) -> dict[str, str]:
    # enforceSchema off: every file's header must match the first one's (else the files are
    # read by the shared reader, which matches columns by name).
    reader: dict[str, Any] = {"header": header, "inferSchema": False, "multiLine": True,
                              "mode": "FAILFAST", "escape": '"', "enforceSchema": not header}
    aliases = {"sep": "sep", "delimiter": "sep", "quote": "quote", "quotechar": "quote",
               "escape": "escape", "escapechar": "escape", "comment": "comment",
               "encoding": "encoding"}
    for key, value in options.items():
        if key in aliases and value is not None:
            reader[aliases[key]] = _java_charset(value) if key == "encoding" else value
        elif key in _SPARK_READ["csv"]:
            reader[key] = value
    return {k: _option_text(v) for k, v in reader.items()}


def _na_values(options: Mapping[str, Any]) -> list[str]:
    keep = options.get("keep_default_na", True) is not False \
        and options.get("na_filter", True) is not False
    values = list(_PANDAS_DEFAULT_NA) if keep else []
    for key in ("null_values", "null_value", "na_values"):
        given = options.get(key)
        if given is None:
            continue
        values.extend([given] if isinstance(given, str) else [str(v) for v in given])
    return values


def _as_null(value: Column, na: Sequence[str]) -> Column:
    from pyspark.sql import functions as F

    return F.when(value.isin(*na), F.lit(None)).otherwise(value) if na else value


def _trimmed(value: Column) -> Column:
    from pyspark.sql import functions as F

    return F.regexp_replace(value, _TRIM, "")


def _count_if(condition: Column) -> Column:
    from pyspark.sql import functions as F

    return F.count(F.when(condition, F.lit(1)))


def _is_integer(value: Column) -> Column:
    """A decimal integer in the int64 range (``1.0``, ``1e3``, ``0x1f`` are not). The cast runs
    only for 19-digit candidates: Spark's ``try_cast`` is slow on text it refuses, a compiled
    regex is not (this runs on every value of every column)."""
    from pyspark.sql import functions as F

    exact = F.when(F.length(F.trim(value)) < 19, F.lit(True)) \
        .otherwise(value.try_cast("bigint").isNotNull())
    return F.when(value.rlike(_INT), exact).otherwise(F.lit(False))


def _is_float(value: Column) -> Column:
    """A number pandas' parser reads as a float (``1.5``, ``3``, ``1e-3``, ``inf``)."""
    return value.rlike(_FLOAT)


def _suspicious(columns: Sequence[Column]) -> Column | None:
    """True for a row holding an undecodable byte (U+FFFD) or a value that ends with a line
    break (in multi-line mode, what a quote that never closes swallows)."""
    from functools import reduce

    if not columns:
        return None
    tests = [(c.contains("\ufffd") | c.endswith("\n") | c.endswith("\r")) for c in columns]
    return reduce(lambda a, b: a | b, tests)


def _overflows(columns: Sequence[Column]) -> Column | None:
    """True for a row holding an integer beyond int64 or a float literal beyond float64
    (``1e400``), which Spark would read as a lossy double or infinity (see
    ``number_overflow``). Only long digit runs and 3-digit exponents are cast."""
    from functools import reduce

    from pyspark.sql import functions as F

    if not columns:
        return None
    infinity = [F.lit(float("inf")), F.lit(float("-inf"))]
    tests = [((F.length(F.trim(value)) >= 19) & value.rlike(_INT)
              & value.try_cast("bigint").isNull())
             | (value.rlike(_BIG_EXPONENT) & value.try_cast("double").isin(*infinity))
             for value in columns]
    return reduce(lambda a, b: a | b, tests)


def _inferred(value: Column, present: int, ints: int, floats: int, bools: int) -> Column:
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    if present == 0:
        return F.lit(None)
    if ints == present:  # Spark's casts trim surrounding whitespace themselves
        return value.cast(T.LongType())
    if floats == present:
        return value.cast(T.DoubleType())
    if bools == present:
        return F.when(value.isin(*_TRUE_WORDS), F.lit(True)) \
            .when(value.isNotNull(), F.lit(False))
    return value


# ---- declared types (read.options.schema), as odibi_core.dead_letters.casting reads them -------
_DECLARED_PATTERNS = {
    "int": r"^[+-]?[0-9]+$",
    "float": (r"^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$"
              r"|^[+-]?(?i:inf|infinity|nan)$"),
    "bool": r"^(?i:true|false|1|0)$",
    "date": r"^[0-9]{4,}-[0-9]{2}-[0-9]{2}$",
    "timestamp": r"^[0-9]{4,}-[0-9]{2}-[0-9]{2}(?:[T ].*)?$",
}


def _declared(options: Mapping[str, Any]) -> dict[str, str]:
    schema = options.get("schema")
    return parse_declared_schema(schema) if schema is not None else {}


def _fits(value: Column, logical: str) -> Column:
    """True when the text ``value`` converts to ``logical`` without loss (nulls excluded).
    The cast runs only for text of the right shape (Spark's ``try_cast`` is slow on text it
    refuses)."""
    from pyspark.sql import functions as F

    if logical == "string":
        return F.lit(True)
    text = _trimmed(value)
    if logical == "bool":
        return text.rlike(_DECLARED_PATTERNS["bool"])
    kind = spark_type_of(logical)
    if logical.startswith("decimal("):
        scale = kind.scale  # type: ignore[attr-defined]
        pattern = rf"^[+-]?(?:[0-9]+\.?|[0-9]*\.[0-9]{{0,{scale}}}0*)$"
    elif logical.startswith(("int", "uint")):
        pattern = _DECLARED_PATTERNS["int"]
    elif logical.startswith("float"):
        pattern = _DECLARED_PATTERNS["float"]
    else:
        pattern = _DECLARED_PATTERNS["date" if logical == "date" else "timestamp"]
    converted = text.try_cast(kind)
    fits = converted.isNotNull() & (converted >= 0) if logical.startswith("uint") \
        else converted.isNotNull()
    if logical.startswith("float"):  # 1e400 is not infinity; the words inf/infinity are
        infinite = converted.isin(F.lit(float("inf")), F.lit(float("-inf")))
        fits = fits & (~infinite | text.rlike(_INFINITY_WORD))
    return F.when(text.rlike(pattern), fits).otherwise(F.lit(False))


def _typed(value: Column, logical: str) -> Column:
    """The text ``value`` (checked by :func:`_fits`) as ``logical``; Spark's casts trim
    surrounding whitespace and read ``true``/``false``/``1``/``0`` as booleans."""
    if logical == "string":
        return value
    return value.try_cast(spark_type_of(logical))


# ---- reading: json ---------------------------------------------------------------------------
def read_json(spark: SparkSession, request: ReadRequest) -> DataFrame:
    """The json files of ``request`` as a lazy Spark frame (see the module docstring)."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    options = dict(request.options)
    validate_options("json", "read", options)
    declared = _declared(options)
    location = request.location
    paths = _paths(location, "json")
    groups = _json_groups(paths, options, location.is_local)
    reader_options: dict[str, str] = {"mode": "FAILFAST"}
    for key, value in options.items():
        if key in _SPARK_READ["json"]:
            reader_options[key] = _option_text(value)
        elif key == "encoding":
            reader_options["encoding"] = _java_charset(value)
    frames = []
    try:
        for multi_line, group in groups.items():
            reader = spark.read.options(**reader_options, multiLine=str(multi_line).lower())
            frame = reader.json(group)
            if declared:
                fields = {f.name: f for f in frame.schema}
                for name in declared:
                    fields[name] = T.StructField(name, T.StringType(), True)
                frame = reader.schema(T.StructType(list(fields.values()))).json(group)
            frames.append(frame)
    except Exception as exc:  # noqa: BLE001 - parsed again to name the file and line
        return _parse_again(spark, request, "json", exc)
    frame = frames[0]
    for other in frames[1:]:
        try:
            frame = frame.unionByName(other, allowMissingColumns=True)
        except Exception as exc:  # noqa: BLE001 - files whose fields disagree
            return _parse_again(spark, request, "json", exc)
    if _json_may_overflow(frame, declared, options):
        return _parse_again(spark, request, "json", None)
    if declared:
        # Spark gives a declared float's literal 1e400 as "Infinity": the shared reader, which
        # sees the literal, decides about every infinity.
        checks = [_count_if(F.col(quoted(c)).isNotNull() & (
            ~_fits(F.col(quoted(c)), kind) | (F.col(quoted(c)).rlike(_INFINITY_WORD)
                                              if kind.startswith("float") else F.lit(False))))
                  for c, kind in declared.items()]
        try:
            bad = frame.agg(*checks).collect()[0]
        except Exception as exc:  # noqa: BLE001
            return _parse_again(spark, request, "json", exc)
        if any(bad):
            return _parse_again(spark, request, "json", None)
        frame = frame.withColumns({c: _typed(F.col(quoted(c)), kind)
                                   for c, kind in declared.items()})
    order = _json_key_order(paths, groups, location.is_local)
    columns = [c for c in order if c in frame.columns]
    columns += [c for c in frame.columns if c not in columns]
    return frame.select(*[quoted(c) for c in columns]) if columns != frame.columns else frame


def _json_may_overflow(frame: DataFrame, declared: Mapping[str, str],
                       options: Mapping[str, Any]) -> bool:
    """True when a number may not fit the type the other engines read it as (see
    ``number_overflow``): Spark infers ``decimal(p,0)`` for an integer beyond int64 (a double
    beyond 38 digits) and infinity for ``1e400``. A double column is checked in one job, for
    a magnitude no int64 holds."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    if options.get("prefersDecimal") or options.get("primitivesAsString"):
        return False
    doubles = []
    for field in frame.schema:
        if field.name in declared:
            continue
        if isinstance(field.dataType, T.DecimalType) and field.dataType.scale == 0:
            return True
        if isinstance(field.dataType, T.DoubleType):
            doubles.append(F.max(F.abs(F.col(quoted(field.name)))))
    if not doubles:
        return False
    largest = frame.agg(*doubles).collect()[0]
    return any(value is not None and value >= 2.0**63 for value in largest)


def _json_groups(paths: list[str], options: Mapping[str, Any],
                 local: bool) -> dict[bool, list[str]]:
    """The paths by ``multiLine`` (True: a JSON document per file)."""
    lines = options.get("lines")
    if lines is not None or not local:
        return {lines is False: paths}
    groups: dict[bool, list[str]] = {}
    for path in paths:
        groups.setdefault(_first_char(path) == "[", []).append(path)
    return groups


def _first_char(path: str) -> str:
    opener: Callable[..., Any] = gzip.open if path.lower().endswith(".gz") else open
    with opener(path, "rb") as handle:
        head = handle.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    return head[:1].decode("latin-1")


def _json_key_order(paths: list[str], groups: Mapping[bool, list[str]], local: bool,
                    *, lines_per_file: int = 200, max_bytes: int = 8 << 20) -> list[str]:
    """Field names in order of first appearance in the first records of local files."""
    if not local:
        return []
    documents = set(groups.get(True, []))
    order: dict[str, None] = {}
    for path in paths[:50]:
        try:
            opener: Callable[..., Any] = gzip.open if path.lower().endswith(".gz") else open
            with opener(path, "rt", encoding="utf-8", errors="replace") as handle:
                if path in documents:
                    if os.path.getsize(path) > max_bytes:
                        continue
                    value = json.load(handle)
                    records = value if isinstance(value, list) else [value]
                else:
                    records = []
                    for number, line in enumerate(handle):
                        if number >= lines_per_file:
                            break
                        if line.strip():
                            records.append(json.loads(line))
        except (OSError, ValueError):
            continue
        for record in records:
            if isinstance(record, dict):
                order.update(dict.fromkeys(record))
    return list(order)


# ---- reading: parquet ------------------------------------------------------------------------
def read_parquet(spark: SparkSession, request: ReadRequest) -> DataFrame:
    """The parquet files (or hive folder) of ``request`` as a lazy Spark frame."""
    options = dict(request.options)
    validate_options("parquet", "read", options)
    location = request.location
    spark_options = {k: _option_text(v) for k, v in options.items()
                     if k in _SPARK_READ["parquet"]}
    if location.is_local and is_hive_folder(location.uri):
        frame = spark.read.options(**spark_options).parquet(location.uri)
    else:
        paths = _paths(location, "parquet")
        if len(paths) > 1:
            spark_options.setdefault("mergeSchema", "true")
        frame = spark.read.options(**spark_options).parquet(*paths)
    columns = options.get("columns")
    return frame.select(*[quoted(c) for c in columns]) if columns else frame


def _paths(location: ResolvedLocation, fmt: str) -> list[str]:
    if location.is_local:
        return list_source_files(location, fmt)
    return [location.uri]


def _parse_again(spark: SparkSession, request: ReadRequest, fmt: str,
                 cause: BaseException | None) -> DataFrame:
    """Parse a local source with the shared reader: its error (file and line), or its data."""
    from odibi_core.engines.pandas_files import read_file

    location = request.location
    if cause is not None and is_transient(cause):
        raise TransientError(f"Transient Spark failure while reading {location.display}: "
                             f"{error_text(cause)}",
                             fix="This is retried automatically when retries are enabled.")
    if not location.is_local:
        raise DataError(
            f"Cannot parse {fmt} data at {location.display}: "
            f"{error_text(cause) if cause else 'a value Spark cannot read as declared'}.",
            fix="Fix the files or the read options (sep, quote, encoding, schema), or add "
                "read.dead_letter to set malformed records aside.")
    options = helper_options(fmt, request.options)
    tables = []
    files = list_source_files(location, fmt)
    for path in files:
        source = f"{location.connection}:{relative_source(location, path)}"
        try:
            tables.append(read_file(fmt, path, options, source=source))
        except (DataError, ConfigError):
            raise
        except Exception as exc:  # noqa: BLE001
            raise DataError(f"Cannot read {location.display}: file {path}: "
                            f"{type(exc).__name__}: {exc}",
                            fix="Check the file and the read options.") from exc
    return frame_from_arrow(spark, concat_file_tables(tables, location.display))


# ---- writing ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class FilesWritten:
    rows: int
    files: int


def write_files(frame: DataFrame, request: WriteRequest) -> FilesWritten:
    """Write ``frame`` as csv, json or parquet to ``request.location`` (see the module
    docstring).

    Raises:
        ConfigError: unknown options, ``partition_by`` on csv/json.
        DataError: a mode the target cannot honour, the wrong kind of target.
    """
    fmt, location, mode = request.format, request.location, request.mode
    check_file_mode(location, fmt, mode)
    if request.partition_by and fmt != "parquet":
        raise ConfigError(ConfigProblem(
            message=f"partition_by is available for parquet and Delta targets; this write is "
                    f"{fmt}.",
            key_path="write.partition_by",
            fix="Write parquet or delta, or remove partition_by."))
    validate_options(fmt, "write", request.options)
    if request.partition_by:
        missing = [k for k in request.partition_by if k not in frame.columns]
        if missing:
            raise DataError(f"partition_by names {', '.join(missing)}, which the frame does not "
                            f"have (columns: {', '.join(frame.columns)}).",
                            fix="Partition by existing columns.")
        if is_single_file_target(location.uri, fmt) or os.path.isfile(location.uri):
            raise DataError(f"{location.display} is a single parquet file, so it cannot be "
                            "partitioned.", fix="Give a folder path (no extension).")
    uri = location.uri
    if not location.is_local:
        return _write_remote(frame, request)
    if is_single_file_target(uri, fmt):
        if os.path.isdir(uri):
            raise DataError(f"{location.display} is a folder, not a {fmt} file ({uri}).",
                            fix="Remove the folder or write to another path.")
        lines = _json_lines_target(uri, request.options)
        rows = write_single_file(frame, uri, fmt, request.options, lines=lines)
        return FilesWritten(rows, 1)
    if os.path.isfile(uri):
        raise DataError(
            f"{location.display} is a file, but a path without a '.{fmt}' extension is "
            f"written as a folder of part files ({uri}).",
            fix=f"Add the extension to write one file (`{location.display}.{fmt}`), or remove "
                "the file.")
    return _write_folder(frame, uri, fmt, mode, request.options, list(request.partition_by),
                         token=_token(request))


def write_single_file(frame: DataFrame, path: str, fmt: str, options: Mapping[str, Any], *,
                      lines: bool = True) -> int:
    """Write ``frame`` as ONE file at ``path`` (local), atomically; returns the rows written."""
    folder, name = os.path.split(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    token = uuid.uuid4().hex
    staging = os.path.join(folder, f".{name}.{token}.staging")
    temp = os.path.join(folder, f".tmp-{token}-{name}")
    try:
        compressed = path.lower().endswith(".gz")
        as_array = fmt == "json" and not lines
        rows = _spark_write(frame.coalesce(1), staging, fmt, options, mode="overwrite",
                            compression="gzip" if compressed and not as_array else None)
        parts = _part_files(staging)
        if not parts:
            _write_empty(frame, temp, fmt, options)
        elif as_array:
            _json_lines_to_array(parts[0], temp, compressed)
        else:
            os.replace(parts[0], temp)
        os.replace(temp, path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if os.path.exists(temp):
            os.remove(temp)
    return rows


def replace_batch_file(frame: DataFrame, request: WriteRequest) -> int:
    """Write ``frame`` as the part file of its batch in the folder ``request.location``; a
    rerun of the batch replaces the file. Returns the rows written."""
    batch = request.replace_batch
    assert batch is not None
    location, fmt = request.location, request.format
    if is_single_file_target(location.uri, fmt):
        raise DataError(
            f"{location.display} is a single {fmt} file, so one batch's rows cannot be "
            "replaced in it.",
            fix="Give a folder path (no extension): each batch is its own part file.")
    validate_options(fmt, "write", request.options)
    digest = hashlib.sha256(f"{batch.column}={batch.value}".encode()).hexdigest()[:32]
    path = os.path.join(location.uri, f"part-batch-{digest}{part_extension(fmt)}")
    return write_single_file(frame, path, fmt, request.options, lines=True)


def _token(request: WriteRequest) -> str | None:
    return request.marker.token if request.marker is not None else None


def _write_folder(frame: DataFrame, uri: str, fmt: str, mode: str, options: Mapping[str, Any],
                  partition_by: list[str], *, token: str | None = None) -> FilesWritten:
    """A local folder of part files; ``token`` (a batch marker's) goes into their names."""
    partitioned = bool(partition_by)
    if mode == "append" and os.path.isdir(uri):
        with staging_folder(uri) as staging:
            rows = _spark_write(frame, staging, fmt, options, mode="overwrite",
                                partition_by=partition_by)
            files = _move_parts(_part_files(staging, recursive=partitioned), staging, uri, fmt,
                                partitioned=partitioned, token=token)
        return FilesWritten(rows, files)

    def fill(staging: str) -> FilesWritten:
        rows = _spark_write(frame, staging, fmt, options, mode="overwrite",
                            partition_by=partition_by)
        files = _move_parts(_part_files(staging, recursive=partitioned), staging, staging, fmt,
                            partitioned=partitioned, token=token)
        _clean(staging)
        return FilesWritten(rows, files)

    return swap_in_folder(uri, fill)


def _move_parts(parts: list[str], staging: str, target: str, fmt: str, *,
                partitioned: bool, token: str | None = None) -> int:
    """Move Spark's part files from ``staging`` to ``target`` (the same folder renames them)
    under odibi's names (with the batch ``token`` when given); returns how many."""
    if partitioned:
        for part in parts:
            relative = os.path.relpath(os.path.dirname(part), staging)
            folder = os.path.join(target, relative)
            os.makedirs(folder, exist_ok=True)
            os.replace(part, os.path.join(folder, _partition_part_name(fmt, token)))
        return len(parts)
    existing = 0 if target == staging else len(
        [n for n in os.listdir(target) if n.startswith("part-")])
    for index, part in enumerate(parts):
        os.replace(part, os.path.join(target, part_name(existing + index, fmt, token)))
    return len(parts)


def _partition_part_name(fmt: str, token: str | None) -> str:
    """A part file's name in a partition folder: ``part-[<batch token>-]<uuid>.<ext>``."""
    batch = f"{token}-" if token else ""
    return f"part-{batch}{uuid.uuid4()}{part_extension(fmt)}"


def _clean(folder: str) -> None:
    """Remove what Spark leaves beside the part files (checksums, markers)."""
    for root, _dirs, files in os.walk(folder):
        for name in files:
            if name.startswith((".", "_")):
                os.remove(os.path.join(root, name))


def _part_files(folder: str, *, recursive: bool = False) -> list[str]:
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith((".", "_")))
        found.extend(os.path.join(root, n) for n in sorted(files) if n.startswith("part-"))
        if not recursive:
            break
    return found


def _spark_write(frame: DataFrame, path: str, fmt: str, options: Mapping[str, Any], *,
                 mode: str, compression: str | None = None,
                 partition_by: Sequence[str] = ()) -> int:
    """Spark writes ``frame`` under the folder ``path``; returns the rows written (observed
    during the write: no extra job)."""
    from pyspark.sql import Observation
    from pyspark.sql import functions as F

    observation = Observation(f"odibi_write_{uuid.uuid4().hex}")
    observed = storable(frame).observe(observation, F.count(F.lit(1)).alias("rows"))
    writer = observed.write.mode(mode).format(fmt).options(
        **_writer_options(fmt, options, compression))
    if partition_by:
        writer = writer.partitionBy(*partition_by)
    writer.save(path)
    return int(observation.get.get("rows", 0))


def _writer_options(fmt: str, options: Mapping[str, Any],
                    compression: str | None) -> dict[str, str]:
    written: dict[str, Any] = {}
    if fmt == "csv":
        written = {"header": True, "escape": '"', "emptyValue": "", "nullValue": "",
                   "timestampFormat": "yyyy-MM-dd HH:mm:ss.SSSSSSxxx",
                   "timestampNTZFormat": "yyyy-MM-dd HH:mm:ss.SSSSSS"}
        aliases = {"sep": "sep", "delimiter": "sep", "quote": "quote", "escape": "escape",
                   "null_value": "nullValue", "date_format": "dateFormat",
                   "compression": "compression", "header": "header"}
        for key, value in options.items():
            if key == "encoding":
                written["encoding"] = _java_charset(value)
            elif key in aliases:
                written[aliases[key]] = value
            elif key in _SPARK_WRITE["csv"]:
                written[key] = value
    elif fmt == "json":
        written = {"ignoreNullFields": False,
                   "timestampFormat": "yyyy-MM-dd'T'HH:mm:ss.SSSSSSxxx",
                   "timestampNTZFormat": "yyyy-MM-dd'T'HH:mm:ss.SSSSSS"}
        for key, value in options.items():
            if key in _SPARK_WRITE["json"] or key == "compression":
                written[key] = value
    else:
        written = {"compression": options.get("compression", "snappy")}
    if compression:
        written["compression"] = compression
    return {k: _option_text(v) for k, v in written.items()}


def _write_empty(frame: DataFrame, path: str, fmt: str, options: Mapping[str, Any]) -> None:
    """An empty frame as a file (Spark wrote no part file): the schema, or the header."""
    if fmt == "parquet":
        import pyarrow.parquet as pq

        pq.write_table(frame.limit(0).toArrow(), path)
        return
    text = ""
    if fmt == "csv" and options.get("header", True) is not False:
        sep = str(options.get("sep", options.get("delimiter", ",")))
        text = sep.join(frame.columns) + "\n"
    elif fmt == "json" and not _json_lines_target(path, options):
        text = "[]\n"
    opener: Callable[..., Any] = gzip.open if path.lower().endswith(".gz") else open
    with opener(path, "wt", encoding="utf-8") as handle:
        handle.write(text)


def _json_lines_target(uri: str, options: Mapping[str, Any]) -> bool:
    if "lines" in options:
        return bool(options["lines"])
    return not is_single_file_target(uri, "json") \
        or uri.lower().endswith((".jsonl", ".ndjson", ".jsonl.gz"))


def _json_lines_to_array(source: str, target: str, compressed: bool) -> None:
    opener: Callable[..., Any] = gzip.open if compressed else open
    with open(source, encoding="utf-8") as lines, opener(target, "wt", encoding="utf-8") as out:
        out.write("[")
        first = True
        for line in lines:
            line = line.rstrip("\r\n")
            if not line:
                continue
            out.write("\n" if first else ",\n")
            out.write(line)
            first = False
        out.write("\n]\n")


def _write_remote(frame: DataFrame, request: WriteRequest) -> FilesWritten:
    """A remote folder target: Spark writes it directly (its own part file names); with a
    batch marker, see :func:`_write_remote_marked`."""
    fmt, location = request.format, request.location
    if is_single_file_target(location.uri, fmt):
        raise ConfigError(ConfigProblem(
            message=f"The spark engine writes remote {fmt} targets as folders; "
                    f"{location.display} names one file.",
            key_path="write.path", fix="Give a folder path (no extension), or write Delta."))
    token = _token(request)
    if token is not None:
        return _write_remote_marked(frame, request, token)
    rows = _spark_write(frame, location.uri, fmt, request.options,
                        mode="append" if request.mode == "append" else "overwrite",
                        partition_by=list(request.partition_by))
    return FilesWritten(rows, 0)


def _write_remote_marked(frame: DataFrame, request: WriteRequest, token: str) -> FilesWritten:
    """A remote folder target whose part files carry the batch ``token``: Spark writes a
    staging folder inside the target (``_odibi_staging-<uuid>``: readers skip ``_`` folders),
    an overwrite then deletes the target's other entries, and each part file is renamed into
    the target (Hadoop FileSystem) under odibi's name. Not atomic, like Spark's own remote
    writes; a crash leaves the staging folder, which readers ignore."""
    fmt, location = request.format, request.location
    spark = frame.sparkSession
    jvm = spark._jvm  # type: ignore[attr-defined]
    Path = jvm.org.apache.hadoop.fs.Path
    target = Path(location.uri.rstrip("/"))
    fs = target.getFileSystem(spark._jsc.hadoopConfiguration())  # type: ignore[attr-defined]
    staging_name = f"_odibi_staging-{uuid.uuid4().hex}"
    staging = Path(target, staging_name)
    partitioned = bool(request.partition_by)
    try:
        rows = _spark_write(frame, staging.toString(), fmt, request.options, mode="overwrite",
                            partition_by=list(request.partition_by))
        if request.mode != "append":
            for status in fs.listStatus(target):
                if status.getPath().getName() != staging_name:
                    fs.delete(status.getPath(), True)
        existing = 0 if partitioned or request.mode != "append" else sum(
            1 for status in fs.listStatus(target)
            if status.getPath().getName().startswith("part-"))
        files = 0
        for relative, part in _remote_parts(fs, staging, recursive=partitioned):
            folder = Path(target, relative) if relative else target
            if relative:
                fs.mkdirs(folder)
            name = _partition_part_name(fmt, token) if partitioned \
                else part_name(existing + files, fmt, token)
            if not fs.rename(part, Path(folder, name)):
                raise DataError(f"Could not move the part file {part.toString()} into "
                                f"{location.display}.",
                                fix="Check the permissions on the target folder, then run "
                                    "again.")
            files += 1
    finally:
        fs.delete(staging, True)
    return FilesWritten(rows, files)


def _remote_parts(fs: Any, folder: Any, *, recursive: bool,
                  relative: str = "") -> list[tuple[str, Any]]:
    """``(relative folder, path)`` of the part files under ``folder`` (a Hadoop Path)."""
    found = []
    for status in sorted(fs.listStatus(folder), key=lambda s: s.getPath().getName()):
        name = status.getPath().getName()
        if name.startswith((".", "_")):
            continue
        if status.isDirectory():
            if recursive:
                found.extend(_remote_parts(fs, status.getPath(), recursive=True,
                                           relative=f"{relative}/{name}".lstrip("/")))
        elif name.startswith("part-"):
            found.append((relative, status.getPath()))
    return found


def _java_charset(name: Any) -> str:
    text = str(name)
    try:
        canonical = codecs.lookup(text).name
    except LookupError:
        return text
    return _JAVA_CHARSETS.get(canonical, _JAVA_CHARSETS.get(text.lower(), text))


def _option_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)

