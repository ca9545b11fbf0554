"""How files are named and replaced, local or remote: the extensions of each format, single-file
targets against folders of part files, part file names, and swapping a local folder in
atomically.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")

__all__ = [
    "FILE_EXTENSIONS",
    "is_single_file_target",
    "part_extension",
    "part_name",
    "staging_folder",
    "swap_in_folder",
]

FILE_EXTENSIONS: dict[str, tuple[str, ...]] = {
    "csv": (".csv", ".csv.gz", ".tsv", ".txt"),
    "parquet": (".parquet", ".pq"),
    "json": (".json", ".jsonl", ".ndjson", ".json.gz", ".jsonl.gz"),
}


def part_extension(fmt: str) -> str:
    """The extension of the part files written for ``fmt``."""
    return FILE_EXTENSIONS[fmt][0]


def is_single_file_target(uri: str, fmt: str) -> bool:
    """True when a write to ``uri`` produces one file rather than a folder of part files."""
    return uri.lower().endswith(FILE_EXTENSIONS[fmt])


@contextmanager
def staging_folder(uri: str) -> Iterator[str]:
    """A new hidden folder beside ``uri`` (readers skip it), removed when the block ends."""
    parent, name = os.path.split(os.path.abspath(uri).rstrip(os.sep))
    os.makedirs(parent, exist_ok=True)
    staging = os.path.join(parent, f".{name}.{uuid.uuid4().hex}.staging")
    os.makedirs(staging)
    try:
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def swap_in_folder(uri: str, fill: Callable[[str], T]) -> T:
    """Replace the folder ``uri`` atomically for readers: ``fill(staging)`` builds the new one
    beside it, then two renames swap it in (the old folder is put back if the second fails).
    Returns what ``fill`` returned."""
    with staging_folder(uri) as staging:
        result = fill(staging)
        retired = staging[:-len(".staging")] + ".old"
        had_target = os.path.exists(uri)
        if had_target:
            os.rename(uri, retired)
        try:
            os.rename(staging, uri)
        except OSError:
            if had_target:
                os.rename(retired, uri)  # put the old data back before failing
            raise
    shutil.rmtree(retired, ignore_errors=True)
    return result


def part_name(index: int, fmt: str, token: str | None = None) -> str:
    """A part file's name: ``part-<index>-[<batch token>-]<uuid>.<ext>``."""
    batch = f"{token}-" if token else ""
    return f"part-{index:05d}-{batch}{uuid.uuid4()}{part_extension(fmt)}"
