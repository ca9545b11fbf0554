"""What an engine is asked to do with a location: read it, write to it, and the batch a write
carries so that it is committed once.

``Frame`` names the engine's native frame (``pandas.DataFrame``, ``polars.LazyFrame``, a pyspark
``DataFrame``) in signatures that do not care which.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from odibi_core.storage.locations import ResolvedLocation

__all__ = [
    "BatchMarker",
    "BatchReplace",
    "ChangeFeedRead",
    "FileFormat",
    "Frame",
    "LowerBound",
    "ReadRequest",
    "WriteMode",
    "WriteRequest",
]

Frame = Any  # the engine's native frame: pandas.DataFrame, polars.LazyFrame, pyspark DataFrame
FileFormat = Literal["csv", "parquet", "json", "delta", "avro", "sql", "api"]
WriteMode = Literal["overwrite", "append", "upsert", "append_once"]


@dataclass(frozen=True)
class LowerBound:
    """Rows whose ``column`` is above ``value`` are wanted (a stateful incremental read's
    high-water mark, lag applied): a source that can filter at the origin pushes it down."""

    column: str
    value: Any


@dataclass(frozen=True)
class ChangeFeedRead:
    """Read a Delta table's change data feed from ``starting_version`` (inclusive) or, when it is
    None, from the first version committed at or after ``starting_timestamp`` (ISO-8601).

    The frame holds the table's columns plus ``_change_type`` (``insert``, ``update_preimage``,
    ``update_postimage``, ``delete``), ``_commit_version`` (bigint) and ``_commit_timestamp``
    (timestamp, UTC); it is empty when the start is past the table's latest version.
    ``ending_version`` (inclusive; None: the latest) pins the last version read, so that the
    versions read are exactly those the node's batch identity names.
    """

    starting_version: int | None = None
    starting_timestamp: str | None = None
    ending_version: int | None = None


@dataclass(frozen=True)
class ReadRequest:
    location: ResolvedLocation
    format: FileFormat
    options: Mapping[str, Any] = field(default_factory=dict)
    as_of_version: int | None = None
    as_of_timestamp: str | None = None
    node: str | None = None  # pipeline.node, for messages
    # A stateful incremental read's mark: an engine that reads eagerly may skip the rows at or
    # below it while reading (the node filters them out anyway).
    lower_bound: LowerBound | None = None
    change_feed: ChangeFeedRead | None = None  # read the table's changes instead of its rows


@dataclass(frozen=True)
class BatchReplace:
    """The rows of one batch: those whose ``column`` equals ``value``."""

    column: str
    value: str


@dataclass(frozen=True)
class BatchMarker:
    """The batch a write carries, so that the same batch is never committed twice.

    On Delta, ``(app_id, version)`` is committed as the transaction identifier of the write's
    own commit (delta-rs ``CommitProperties(app_transactions=...)``, delta-spark
    ``txnAppId``/``txnVersion``) and ``batch_id`` as commit metadata (``odibi.batch_id``). On
    a folder of part files every part file's name contains ``-<token>-``, so the parts of one
    batch can be found (and a half-published batch removed). ``version`` is the batch's
    generation: 0, then one more after each rollback that freed the batch.
    """

    batch_id: str
    app_id: str
    version: int = 0

    @property
    def token(self) -> str:
        return "b" + hashlib.sha256(f"{self.app_id}@{self.version}".encode()).hexdigest()[:15]


@dataclass(frozen=True)
class WriteRequest:
    """What to write where.

    ``replace_batch`` (with ``mode: append``) makes the write replace the rows of that batch
    instead of adding to them, so that writing the same batch twice leaves one copy: on Delta one
    atomic overwrite of the rows matching ``column = value`` (new columns merged into the
    table's schema); on a folder of part files the batch's own part file.

    ``marker`` (see :class:`BatchMarker`) travels with the data in the same commit.
    ``replace_where`` (Delta, ``mode: overwrite``) is a SQL predicate: the commit replaces only
    the rows matching it (delta-rs ``predicate``, Spark ``replaceWhere``), e.g. one Dagster
    partition's days; every written row must match it.
    """

    location: ResolvedLocation
    format: FileFormat
    mode: WriteMode = "overwrite"
    options: Mapping[str, Any] = field(default_factory=dict)
    partition_by: Sequence[str] = ()
    merge_schema: bool = False
    node: str | None = None
    replace_batch: BatchReplace | None = None
    marker: BatchMarker | None = None
    replace_where: str | None = None
    # Delta table properties to set on the table (at creation, or changed on an existing one).
    table_properties: Mapping[str, str] = field(default_factory=dict)
