"""The dead-letter destination: write a read's dead letters, list them, mark them replayed.

One row per dead letter (see :data:`DEAD_LETTER_COLUMNS`). A Delta destination (the default)
replaces the rows of a batch in one commit (``write_deltalake(mode="overwrite",
predicate="_batch_id = '...'")``), so reading the same files again never duplicates dead
letters. A parquet, csv or json destination is a folder holding one file per batch
(``<batch_id>.parquet``), each replaced atomically.

Engine-free: dead letters are few, so they go through pyarrow and delta-rs directly.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from odibi_core.dead_letters.model import DeadLetter, DeadLetterBatch
from odibi_core.errors import DataError
from odibi_core.storage.locations import ResolvedLocation

if TYPE_CHECKING:
    import pyarrow as pa

    from odibi_core.config.node import DeadLetterConfig
    from odibi_core.connections.base import Connection

__all__ = [
    "BatchStatus",
    "BatchSummary",
    "DEAD_LETTER_COLUMNS",
    "DeadLetterListing",
    "DeadLetterStore",
    "dead_letter_schema",
    "list_dead_letters",
]

BatchStatus = Literal["loaded", "failed"]
BatchKey = tuple[str | None, str]  # (node, batch_id)
StoreFormat = Literal["delta", "parquet", "csv", "json"]

#: The columns of a dead-letter destination, in order.
DEAD_LETTER_COLUMNS = (
    "_batch_id",          # the read that produced it (fingerprint of the source files)
    "node",               # pipeline.node
    "source_file",        # relative to the read's connection
    "line",               # 1-based physical line; a CSV header is line 1
    "raw",                # the record's text (undecodable bytes as U+FFFD)
    "error",              # what was wrong (the latest error after a failed replay)
    "header",             # CSV: the header line the record belongs to
    "format",             # csv | json
    "_batch_status",      # loaded: the batch's valid records went on; failed: the read failed
    "_dead_lettered_at",  # when the read set it aside (UTC)
    "_replayed_at",       # when a replay loaded it; null while pending
)
_EXTENSIONS = {"parquet": ".parquet", "csv": ".csv", "json": ".jsonl"}


def dead_letter_schema() -> pa.Schema:
    """The Arrow schema of a dead-letter destination."""
    import pyarrow as pa

    stamp = pa.timestamp("us", tz="UTC")
    return pa.schema([
        ("_batch_id", pa.string()), ("node", pa.string()), ("source_file", pa.string()),
        ("line", pa.int64()), ("raw", pa.string()), ("error", pa.string()),
        ("header", pa.string()), ("format", pa.string()), ("_batch_status", pa.string()),
        ("_dead_lettered_at", stamp), ("_replayed_at", stamp),
    ])


@dataclass(frozen=True)
class DeadLetterStore:
    """A dead-letter destination (``read.dead_letter``).

    Example:
        >>> from odibi_core.connections import LocalConnection
        >>> lake = LocalConnection("lake", "/srv/lake", "/srv")
        >>> DeadLetterStore(lake.resolve("_dlq/orders")).display
        'lake:_dlq/orders'
    """

    location: ResolvedLocation
    format: StoreFormat = "delta"

    @classmethod
    def from_config(cls, config: DeadLetterConfig, connection: Connection) -> DeadLetterStore:
        """The destination a ``read.dead_letter`` block names, on its resolved connection."""
        location = connection.resolve(config.path, table=config.table)
        return cls(location, config.format)

    @property
    def display(self) -> str:
        """Where the dead letters are, safe to print."""
        return self.location.display

    # ---- writing -------------------------------------------------------------------------
    def write_batch(self, batch: DeadLetterBatch, *, status: BatchStatus = "loaded",
                    at: dt.datetime | None = None) -> int:
        """Replace the dead letters of ``batch.batch_id`` with those of ``batch``; returns the
        rows written. A batch without dead letters removes earlier ones of the same id."""
        rows = batch_rows(batch, status=status, at=at)
        self.replace_batches([(batch.node, batch.batch_id)], rows)
        return rows.num_rows

    def replace_batches(self, batches: Sequence[BatchKey], rows: pa.Table) -> None:
        """Make ``rows`` the whole content of ``batches`` (``(node, batch_id)`` pairs), in one
        commit on Delta."""
        rows = rows.select(list(DEAD_LETTER_COLUMNS)).cast(dead_letter_schema())
        if self.format == "delta":
            self._replace_delta(batches, rows)
        else:
            self._replace_files(batches, rows)

    # ---- reading -------------------------------------------------------------------------
    def read(self, *, batch_id: str | None = None, node: str | None = None) -> pa.Table:
        """Every dead letter (of one batch, of one node), oldest first; empty when the
        destination does not exist yet."""
        import pyarrow.compute as pc

        table = self._read_delta() if self.format == "delta" else self._read_files()
        if batch_id is not None:
            table = table.filter(pc.equal(table["_batch_id"], batch_id))
        if node is not None:
            table = table.filter(pc.equal(table["node"], node))
        return table.sort_by([(column, "ascending") for column in (
            "_dead_lettered_at", "node", "_batch_id", "source_file", "line")])

    # ---- Delta ---------------------------------------------------------------------------
    def _storage_options(self) -> dict[str, str] | None:
        return dict(self.location.storage_options) or None

    def _replace_delta(self, batches: Sequence[BatchKey], rows: pa.Table) -> None:
        from deltalake import DeltaTable, write_deltalake

        options = self._storage_options()
        uri = self.location.uri
        if not DeltaTable.is_deltatable(uri, storage_options=options):
            if rows.num_rows:
                write_deltalake(uri, rows, mode="append", storage_options=options)
            return
        table = DeltaTable(uri, storage_options=options)
        predicate = " OR ".join(_batch_predicate(node, batch_id) for node, batch_id in batches)
        try:
            if rows.num_rows:
                write_deltalake(table, rows, mode="overwrite", predicate=predicate,
                                storage_options=options)
            else:
                table.delete(predicate)  # commits nothing when no row matches
        except Exception as exc:
            if type(exc).__name__ == "SchemaMismatchError":
                raise DataError(
                    f"The dead-letter table {self.display} does not have the dead-letter "
                    f"columns ({', '.join(DEAD_LETTER_COLUMNS)}): {exc}",
                    fix="Point read.dead_letter at a new path, or at a table odibi created.",
                ) from exc
            raise

    def _read_delta(self) -> pa.Table:
        from deltalake import DeltaTable

        options = self._storage_options()
        if not DeltaTable.is_deltatable(self.location.uri, storage_options=options):
            return dead_letter_schema().empty_table()
        return DeltaTable(self.location.uri, storage_options=options).to_pyarrow_table()

    # ---- one file per batch --------------------------------------------------------------
    def _batch_file(self, node: str | None, batch_id: str) -> str:
        name = f"{node}~{batch_id}" if node else batch_id
        return os.path.join(self.location.uri, name + _EXTENSIONS[self.format])

    def _replace_files(self, batches: Sequence[BatchKey], rows: pa.Table) -> None:
        import pyarrow.compute as pc

        _require_local(self.location)
        os.makedirs(self.location.uri, exist_ok=True)
        for node, batch_id in batches:
            path = self._batch_file(node, batch_id)
            same_node = pc.is_null(rows["node"]) if node is None \
                else pc.equal(rows["node"], node)
            part = rows.filter(pc.and_(pc.equal(rows["_batch_id"], batch_id),
                                       pc.fill_null(same_node, False)))
            if part.num_rows == 0:
                if os.path.exists(path):
                    os.remove(path)
                continue
            temp = os.path.join(self.location.uri, f".tmp-{os.getpid()}-{os.path.basename(path)}")
            try:
                _write_file(self.format, part, temp)
                os.replace(temp, path)
            finally:
                if os.path.exists(temp):
                    os.remove(temp)

    def _read_files(self) -> pa.Table:
        import pyarrow as pa

        _require_local(self.location)
        folder = self.location.uri
        if not os.path.isdir(folder):
            return dead_letter_schema().empty_table()
        extension = _EXTENSIONS[self.format]
        tables = [_read_file(self.format, os.path.join(folder, name))
                  for name in sorted(os.listdir(folder))
                  if name.endswith(extension) and not name.startswith((".", "_"))]
        if not tables:
            return dead_letter_schema().empty_table()
        return pa.concat_tables(tables)


def batch_rows(batch: DeadLetterBatch, *, status: BatchStatus = "loaded",
               at: dt.datetime | None = None) -> pa.Table:
    """The destination rows of ``batch``'s dead letters."""
    import pyarrow as pa

    stamp = at or dt.datetime.now(dt.timezone.utc)
    rows = [_row(letter, batch, status, stamp) for letter in batch.dead_letters]
    return pa.Table.from_pylist(rows, schema=dead_letter_schema())


def _row(letter: DeadLetter, batch: DeadLetterBatch, status: str,
         stamp: dt.datetime) -> dict[str, Any]:
    return {"_batch_id": batch.batch_id, "node": batch.node, "source_file": letter.source_file,
            "line": letter.line, "raw": letter.raw, "error": letter.error,
            "header": letter.header, "format": letter.format, "_batch_status": status,
            "_dead_lettered_at": stamp, "_replayed_at": None}


def _write_file(fmt: str, table: pa.Table, path: str) -> None:
    if fmt == "parquet":
        import pyarrow.parquet as pq

        pq.write_table(table, path)
    elif fmt == "csv":
        import pyarrow.csv as pacsv

        pacsv.write_csv(table, path, write_options=pacsv.WriteOptions(quoting_style="all_valid"))
    else:
        with open(path, "w", encoding="utf-8") as handle:
            for row in table.to_pylist():
                handle.write(json.dumps(
                    {k: v.isoformat() if isinstance(v, dt.datetime) else v
                     for k, v in row.items()}, ensure_ascii=False) + "\n")


def _read_file(fmt: str, path: str) -> pa.Table:
    import pyarrow as pa

    schema = dead_letter_schema()
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return pq.read_table(path).cast(schema)
    if fmt == "csv":
        import pyarrow.csv as pacsv

        return pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(
            column_types=schema, strings_can_be_null=True, quoted_strings_can_be_null=False))
    rows = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                row = json.loads(line)
                for key in ("_dead_lettered_at", "_replayed_at"):
                    if row.get(key):
                        row[key] = dt.datetime.fromisoformat(row[key])
                rows.append(row)
    return pa.Table.from_pylist(rows, schema=schema)


def _require_local(location: ResolvedLocation) -> None:
    if not location.is_local:
        raise DataError(f"A parquet, csv or json dead-letter destination must be on a local "
                        f"connection; {location.display} is not.",
                        fix="Use `format: delta` (the default) for read.dead_letter.")


def _batch_predicate(node: str | None, batch_id: str) -> str:
    same_node = "node IS NULL" if node is None else f"node = {_sql_string(node)}"
    return f"(_batch_id = {_sql_string(batch_id)} AND {same_node})"


def _sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


# ---- listing -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class BatchSummary:
    """The dead letters of one batch."""

    batch_id: str
    node: str | None
    status: str
    dead_letters: int
    pending: int
    dead_lettered_at: str  # ISO-8601 UTC


@dataclass(frozen=True)
class DeadLetterListing:
    """What :func:`list_dead_letters` found: counts, one summary per batch, and up to ``limit``
    rows (JSON-safe: timestamps as ISO strings)."""

    destination: str
    total: int
    pending: int
    replayed: int
    batches: tuple[BatchSummary, ...]
    rows: tuple[dict[str, Any], ...]

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self)


def list_dead_letters(store: DeadLetterStore, *, node: str | None = None,
                      batch_id: str | None = None, include_replayed: bool = False,
                      limit: int | None = 100) -> DeadLetterListing:
    """The dead letters at ``store``: counts, batches and the rows themselves.

    ``pending`` counts dead letters a replay would try: not replayed, from a batch whose read
    went on (``_batch_status = 'loaded'``). Rows are the pending ones (all of them with
    ``include_replayed``), oldest first, at most ``limit`` (None: all).

    Example:
        >>> listing = list_dead_letters(store, node="sales.orders", limit=20)  # doctest: +SKIP
        >>> listing.pending, [r["error"] for r in listing.rows]                # doctest: +SKIP
    """
    table = store.read(batch_id=batch_id, node=node)
    rows = table.to_pylist()
    pending_rows = [r for r in rows if _pending(r)]
    batches: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        batches.setdefault(row["_batch_id"], []).append(row)
    summaries = tuple(
        BatchSummary(batch_id=key, node=group[0]["node"], status=group[0]["_batch_status"],
                     dead_letters=len(group), pending=sum(1 for r in group if _pending(r)),
                     dead_lettered_at=_iso(group[0]["_dead_lettered_at"]))
        for key, group in batches.items())
    shown = rows if include_replayed else pending_rows
    if limit is not None:
        shown = shown[:max(limit, 0)]
    return DeadLetterListing(
        destination=store.display, total=len(rows), pending=len(pending_rows),
        replayed=sum(1 for r in rows if r["_replayed_at"] is not None), batches=summaries,
        rows=tuple({k: _iso(v) if isinstance(v, dt.datetime) else v for k, v in r.items()}
                   for r in shown))


def _pending(row: dict[str, Any]) -> bool:
    return row["_replayed_at"] is None and row["_batch_status"] == "loaded"


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
