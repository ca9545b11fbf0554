"""Spark types <-> odibi's logical type names, and Arrow data into Spark frames.

``logical_type_of_spark`` gives the names every engine reports (``LongType`` -> ``int64``,
``TimestampType`` -> ``timestamp``, ``TimestampNTZType`` -> ``timestamp_ntz``, ...);
``spark_type_of`` the Spark type a logical name is stored as. Spark has no unsigned integers:
``uint8``/``uint16``/``uint32`` are stored in the next wider signed type and ``uint64`` as
``decimal(20,0)``; ``time`` as a string.

Arrow tables (rows built in Python, records parsed by the shared pyarrow readers) become Spark
frames through :func:`frame_from_arrow`: the Spark schema is derived from the Arrow schema (so a
zone-less Arrow timestamp stays ``timestamp_ntz`` instead of being read as an instant), Arrow's
``null`` type becomes Spark's ``NullType``, and the frame is one partition (small local data).

Importing this module imports neither pyspark nor pyarrow.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from odibi_core.engines.json_safe import json_safe_row
from odibi_core.storage.logical_types import parse_logical_type
from odibi_core.errors import DataError

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import DataType, StructType

__all__ = [
    "frame_from_arrow",
    "fresh_plan",
    "logical_type_of_spark",
    "quoted",
    "rows_of",
    "spark_schema_of_arrow",
    "spark_type_of",
    "spark_type_of_arrow",
    "storable",
]

_DECIMAL = re.compile(r"^decimal\((\d+),(\d+)\)$")


def logical_type_of_spark(dtype: DataType) -> str:
    """The logical name of a Spark type (see ``odibi_core.storage.logical_types``)."""
    from pyspark.sql import types as T

    simple = {
        T.StringType: "string", T.CharType: "string", T.VarcharType: "string",
        T.BinaryType: "binary", T.BooleanType: "bool", T.ByteType: "int8",
        T.ShortType: "int16", T.IntegerType: "int32", T.LongType: "int64",
        T.FloatType: "float32", T.DoubleType: "float64", T.DateType: "date",
        T.TimestampType: "timestamp", T.TimestampNTZType: "timestamp_ntz",
        T.NullType: "null", T.DayTimeIntervalType: "duration",
    }
    for kind, name in simple.items():
        if isinstance(dtype, kind):
            return name
    if isinstance(dtype, T.DecimalType):
        return f"decimal({dtype.precision},{dtype.scale})"
    if isinstance(dtype, T.ArrayType):
        return f"array<{logical_type_of_spark(dtype.elementType)}>"
    if isinstance(dtype, T.MapType):
        return (f"map<{logical_type_of_spark(dtype.keyType)}, "
                f"{logical_type_of_spark(dtype.valueType)}>")
    if isinstance(dtype, T.StructType):
        fields = ", ".join(f"{f.name}: {logical_type_of_spark(f.dataType)}" for f in dtype)
        return f"struct<{fields}>"
    if type(dtype).__name__ == "TimeType":
        return "time"
    return dtype.simpleString()


def spark_type_of(logical: str) -> DataType:
    """The Spark type a scalar logical type is stored as.

    Raises:
        ValueError: not a scalar logical type.
    """
    from pyspark.sql import types as T

    name = parse_logical_type(logical)
    match = _DECIMAL.match(name)
    if match:
        return T.DecimalType(int(match.group(1)), int(match.group(2)))
    return {
        "string": T.StringType(), "binary": T.BinaryType(), "bool": T.BooleanType(),
        "int8": T.ByteType(), "int16": T.ShortType(), "int32": T.IntegerType(),
        "int64": T.LongType(), "uint8": T.ShortType(), "uint16": T.IntegerType(),
        "uint32": T.LongType(), "uint64": T.DecimalType(20, 0), "float32": T.FloatType(),
        "float64": T.DoubleType(), "date": T.DateType(), "timestamp": T.TimestampType(),
        "timestamp_ntz": T.TimestampNTZType(), "time": T.StringType(),
        "duration": T.DayTimeIntervalType(),
    }[name]


def spark_type_of_arrow(dtype: pa.DataType) -> DataType:
    """The Spark type holding Arrow type ``dtype`` (nested types included)."""
    import pyarrow.types as t
    from pyspark.sql import types as T

    if t.is_dictionary(dtype):
        return spark_type_of_arrow(dtype.value_type)
    if t.is_null(dtype):
        return T.NullType()
    if t.is_string(dtype) or t.is_large_string(dtype) or str(dtype) == "string_view":
        return T.StringType()
    if t.is_binary(dtype) or t.is_large_binary(dtype) or t.is_fixed_size_binary(dtype):
        return T.BinaryType()
    if t.is_boolean(dtype):
        return T.BooleanType()
    if t.is_integer(dtype):
        signed = {8: T.ByteType(), 16: T.ShortType(), 32: T.IntegerType(), 64: T.LongType()}
        unsigned = {8: T.ShortType(), 16: T.IntegerType(), 32: T.LongType(),
                    64: T.DecimalType(20, 0)}
        return (signed if t.is_signed_integer(dtype) else unsigned)[dtype.bit_width]
    if t.is_float16(dtype) or t.is_float32(dtype):
        return T.FloatType()
    if t.is_float64(dtype):
        return T.DoubleType()
    if t.is_decimal(dtype):
        return T.DecimalType(dtype.precision, dtype.scale)
    if t.is_date(dtype):
        return T.DateType()
    if t.is_timestamp(dtype):
        return T.TimestampType() if dtype.tz else T.TimestampNTZType()
    if t.is_duration(dtype):
        return T.DayTimeIntervalType()
    if t.is_time(dtype):
        return T.StringType()
    if t.is_list(dtype) or t.is_large_list(dtype) or t.is_fixed_size_list(dtype):
        return T.ArrayType(spark_type_of_arrow(dtype.value_type), True)
    if t.is_map(dtype):
        return T.MapType(spark_type_of_arrow(dtype.key_type),
                         spark_type_of_arrow(dtype.item_type), True)
    if t.is_struct(dtype):
        return T.StructType([T.StructField(f.name, spark_type_of_arrow(f.type), True)
                             for f in dtype])
    raise DataError(f"Arrow type {dtype} has no Spark equivalent.",
                    fix="Cast the column to a string or a number first.")


def spark_schema_of_arrow(schema: pa.Schema) -> StructType:
    """The Spark schema of an Arrow schema (every field nullable, as in Arrow data)."""
    from pyspark.sql import types as T

    return T.StructType([T.StructField(f.name, spark_type_of_arrow(f.type), True)
                         for f in schema])


def frame_from_arrow(spark: SparkSession, table: pa.Table) -> DataFrame:
    """``table`` as a one-partition Spark frame with the matching Spark schema."""
    import pyarrow as pa
    import pyarrow.types as t

    schema = spark_schema_of_arrow(table.schema)
    for index, field in enumerate(table.schema):
        if t.is_time(field.type):  # Spark has no time type: its ISO text
            table = table.set_column(index, field.name, table.column(index).cast(pa.string()))
        elif t.is_dictionary(field.type):
            table = table.set_column(index, field.name,
                                     table.column(index).cast(field.type.value_type))
    if table.num_columns == 0:
        return spark.createDataFrame([], schema)
    if any(t.is_null(f.type) for f in table.schema):
        # Arrow null columns go in as strings, then become Spark's NullType.
        from pyspark.sql import functions as F

        nulls = [f.name for f in table.schema if t.is_null(f.type)]
        for name in nulls:
            index = table.column_names.index(name)
            table = table.set_column(index, name, table.column(index).cast(pa.string()))
        return frame_from_arrow(spark, table).withColumns({name: F.lit(None) for name in nulls})
    return spark.createDataFrame(table, schema=schema).coalesce(1)


def rows_of(frame: DataFrame) -> list[dict[str, Any]]:
    """Every row of ``frame`` as JSON-safe dicts, in frame order (one Spark job, via Arrow:
    timestamps come back as UTC instants, decimals as decimals)."""
    return [json_safe_row(row) for row in frame.toArrow().to_pylist()]


def storable(frame: DataFrame) -> DataFrame:
    """``frame`` with ``NullType`` columns as strings: parquet and Delta have no null type."""
    from pyspark.sql import types as T

    nulls = [f.name for f in frame.schema if isinstance(f.dataType, T.NullType)]
    if not nulls:
        return frame
    return frame.withColumns({name: frame[quoted(name)].cast(T.StringType())
                              for name in nulls})


def fresh_plan(frame: DataFrame) -> DataFrame:
    """``frame`` with a plan no other read shares.

    Spark finds cached data by comparing plans, and two reads of the same files have the same
    plan even when the files changed in between: a frame persisted from the first read would
    answer for the second. A literal only this read holds (projected away again: the optimizer
    removes it, nothing is computed) keeps every read's cache its own.
    """
    import uuid

    from pyspark.sql import functions as F

    tag = f"__odibi_read_{uuid.uuid4().hex}"
    return frame.withColumn(tag, F.lit(tag)).drop(tag)


def quoted(name: str) -> str:
    """``name`` as a backquoted Spark identifier, for ``col``/``select`` by name."""
    return "`" + name.replace("`", "``") + "`"
