"""Hive-partitioned parquet folders (``key=value/part-*.parquet``) through pyarrow.

The writer lays out one folder per partition value; ``overwrite`` builds the whole folder in a
staging folder and swaps it in, ``append`` adds a part file to each partition it writes. The
reader adds the partition columns back, as **strings** on every engine (Spark, polars and
pyarrow would otherwise each guess integer widths differently): cast them in a transform, or
use a Delta table, which keeps their types.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING

from odibi_core.engines.arrow_filters import rows_after_filter
from odibi_core.engines.file_names import swap_in_folder
from odibi_core.errors import ConfigError, ConfigProblem, DataError
from odibi_core.storage.locations import ResolvedLocation
from odibi_core.storage.requests import WriteMode

if TYPE_CHECKING:
    import pyarrow as pa

    from odibi_core.storage.requests import LowerBound

__all__ = ["is_hive_folder", "partition_names", "read_hive_folder", "write_hive_folder"]

_SEGMENT = re.compile(r"^([^=/]+)=(.*)$")


def is_hive_folder(uri: str) -> bool:
    """True when ``uri`` is a folder whose visible sub-folders are all ``key=value``."""
    if not os.path.isdir(uri) or os.path.isdir(os.path.join(uri, "_delta_log")):
        return False
    folders = [n for n in os.listdir(uri) if os.path.isdir(os.path.join(uri, n))
               and not n.startswith((".", "_"))]
    return bool(folders) and all(_SEGMENT.match(n) for n in folders)


def partition_names(uri: str) -> list[str]:
    """The partition columns of the hive folder ``uri``, outermost first."""
    names: list[str] = []
    current = uri
    while True:
        folders = sorted(n for n in os.listdir(current) if not n.startswith((".", "_"))
                         and os.path.isdir(os.path.join(current, n)))
        match = _SEGMENT.match(folders[0]) if folders else None
        if match is None:
            return names
        names.append(match.group(1))
        current = os.path.join(current, folders[0])


def read_hive_folder(uri: str, *, lower_bound: LowerBound | None = None) -> pa.Table:
    """Every parquet file under the hive folder ``uri`` with its partition columns (strings);
    with ``lower_bound``, row groups and partitions wholly at or below it are skipped."""
    import pyarrow as pa
    import pyarrow.dataset as ds

    names = partition_names(uri)
    partitioning = ds.partitioning(pa.schema([(n, pa.string()) for n in names]), flavor="hive")
    dataset = ds.dataset(uri, format="parquet", partitioning=partitioning,
                         ignore_prefixes=[".", "_"])
    return dataset.to_table(filter=rows_after_filter(lower_bound, dataset.schema))


def write_hive_folder(table: pa.Table, location: ResolvedLocation, mode: WriteMode,
                      keys: Sequence[str], *, token: str | None = None) -> int:
    """Write ``table`` partitioned by ``keys`` under ``location``; returns the files written.

    Raises:
        ConfigError: a mode other than overwrite/append.
        DataError: a key the table lacks, or the target is a single file.
    """
    if mode not in ("overwrite", "append"):
        raise ConfigError(ConfigProblem(
            message=f"A partitioned parquet folder takes mode overwrite or append, not {mode}.",
            key_path="write.mode", fix="Write `format: delta` for upsert and append_once."))
    missing = [k for k in keys if k not in table.column_names]
    if missing:
        raise DataError(f"partition_by names {', '.join(missing)}, which the frame does not have "
                        f"(columns: {', '.join(table.column_names)}).",
                        fix="Partition by existing columns.")
    uri = location.uri
    if os.path.isfile(uri) or uri.lower().endswith(".parquet"):
        raise DataError(f"{location.display} is a single parquet file, so it cannot be "
                        "partitioned.", fix="Give a folder path (no extension).")
    if mode == "append":
        return _write_into(table, uri, keys, token)
    return swap_in_folder(uri, lambda staging: _write_into(table, staging, keys, token))


def _write_into(table: pa.Table, folder: str, keys: Sequence[str],
                token: str | None = None) -> int:
    """One new part file per partition of ``table`` under ``folder`` (each written to a hidden
    temporary name first, so a reader never sees half a file)."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    written = 0
    groups = table.group_by(list(keys), use_threads=False).aggregate([]).to_pylist()
    for values in groups:
        mask = None
        for key in keys:
            column = table.column(key)
            test = pc.is_null(column) if values[key] is None else pc.equal(column, values[key])
            mask = test if mask is None else pc.and_(mask, test)
        part = table.filter(mask).drop_columns(list(keys))
        subfolder = os.path.join(folder, *(f"{k}={_segment(values[k])}" for k in keys))
        os.makedirs(subfolder, exist_ok=True)
        name = f"part-{token}-{uuid.uuid4()}.parquet" if token else f"part-{uuid.uuid4()}.parquet"
        temp = os.path.join(subfolder, f".tmp-{name}")
        pq.write_table(part, temp)
        os.replace(temp, os.path.join(subfolder, name))
        written += 1
    return written


def _segment(value: object) -> str:
    """A partition value as a folder name (Hive's spelling of null)."""
    if value is None:
        return "__HIVE_DEFAULT_PARTITION__"
    return str(value).replace("/", "%2F").replace("=", "%3D")
