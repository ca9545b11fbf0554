"""The engine interface every engine (pandas, polars, spark) implements.

The public methods are template methods: they time, redact and translate foreign exceptions into
odibi errors around the subclass's ``_read`` / ``_write`` / ``_sql``. Engines state what they can do
in class-level flags instead of callers branching on the engine's name.
"""

from __future__ import annotations

import inspect
import os
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from odibi_core.engine_capabilities import EngineCapabilities, capabilities_of
from odibi_core.engines.target_types import check_delta_write
from odibi_core.error_taxonomy import is_transient
from odibi_core.errors import ConfigError, ConfigProblem, DataError, OdibiError, TransientError
from odibi_core.results import ColumnSchema, WriteResult
from odibi_core.storage.locations import ResolvedLocation
from odibi_core.storage.requests import Frame, ReadRequest, WriteRequest

if TYPE_CHECKING:
    from odibi_core.dead_letters.model import DeadLetter, DeadLetterBatch

__all__ = ["Engine", "FlagSummary", "RowPredicate", "timed"]


@dataclass(frozen=True)
class RowPredicate:
    """A row-level test compiled for an engine.

    ``sql`` is a SQL boolean expression over the frame's columns that is TRUE for a passing row
    and never NULL (the compiler already decided how NULLs count). It may use window functions
    (``count(*) OVER (PARTITION BY ...)``). ``test_type`` and ``params`` describe the same test
    for engines that compile it to native expressions instead of SQL.
    """

    flag: str  # the boolean column :meth:`Engine.add_row_flags` adds
    sql: str
    test_type: str = "custom_sql"
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FlagSummary:
    """Counts and samples of failing rows per flag column (see :meth:`Engine.summarize_flags`)."""

    rows: int
    failing: Mapping[str, int]
    samples: Mapping[str, list[dict[str, Any]]]
    passing: int | None = None  # rows passing every flag, when the engine counted them too


class Engine(ABC):
    """One engine: how frames are read, transformed with SQL, described and written.

    Subclasses implement the ``_``-prefixed methods; callers use the public ones.
    """

    name: ClassVar[str]
    is_lazy: ClassVar[bool] = False

    @property
    def capabilities(self) -> EngineCapabilities:
        """What this engine can do (:mod:`odibi_core.engine_capabilities`)."""
        return capabilities_of(self.name)

    @property
    def supports_streaming(self) -> bool:
        """``read_stream`` / ``run_stream`` work (Structured Streaming)."""
        return self.capabilities.streaming

    # ---- I/O -------------------------------------------------------------------------------
    def read(self, request: ReadRequest) -> Frame:
        """Read ``request`` into a native frame; errors name the node, the location and the fix."""
        return self._guard("read", request.node, request.location, lambda: self._read(request))

    def read_with_dead_letters(self, request: ReadRequest, *,
                               batch_id: str | None = None) -> tuple[Frame, DeadLetterBatch]:
        """Read ``request``, setting malformed records aside instead of failing on them.

        Malformed CSV rows, invalid JSON lines, undecodable bytes and values that do not fit
        ``options.schema`` become dead letters (file, line, raw text, error); every other
        record is read exactly as :meth:`read` reads it. Nothing is written here (see
        ``odibi_core.dead_letters.read_with_dead_letter_queue``).

        Args:
            request: a csv or json read.
            batch_id: the batch's id; by default a fingerprint of the node and of the source
                files' paths, sizes and mtimes.

        Raises:
            ConfigError: the format has no records to set aside (parquet, delta, ...).
            DataError: a problem that is not one record's (a missing file, a bad header).
        """
        return self._guard("read", request.node, request.location,
                           lambda: self._read_with_dead_letters(request, batch_id=batch_id))

    def reparse_dead_letters(self, letters: Sequence[DeadLetter], *, format: str,
                             options: Mapping[str, Any]) -> tuple[Frame, dict[int, str]]:
        """Parse the (possibly corrected) raw text of ``letters`` with the read's rules.

        Returns:
            The records that now parse, as a frame typed as the read would type them, and the
            error of each letter that still fails, by its index in ``letters``.
        """
        raise NotImplementedError(f"The {self.name} engine does not replay dead letters.")

    def write(self, frame: Frame, request: WriteRequest) -> WriteResult:
        """Write ``frame`` to ``request.location``; returns what was written (rows, Delta version).

        A Delta table keeps its column types: see ``odibi_core.engines.target_types`` (a type
        that does not fit is a DataError; no rows of unknown types create no table)."""
        if request.replace_where is not None and request.format != "delta":
            raise ConfigError(ConfigProblem(
                message=f"Replacing the rows of a range (replace_where) needs a Delta target; "
                        f"{request.location.display} is written as {request.format}.",
                key_path="write", fix="Write with `format: delta`, or mode append."))
        return self._guard("write", request.node, request.location,
                           lambda: self._checked_write(frame, request))

    def _checked_write(self, frame: Frame, request: WriteRequest) -> WriteResult:
        """``_write`` once the column types fit a Delta target (``target_types``)."""
        skipped = check_delta_write(self, frame, request)
        return skipped if skipped is not None else self._write(frame, request)

    def sql(self, query: str, tables: Mapping[str, Frame], *, node: str | None = None) -> Frame:
        """Run ``query`` with each entry of ``tables`` addressable by its name."""
        try:
            return self._sql(query, tables)
        except DataError as exc:
            if exc.node is None and node is not None:
                raise DataError(exc.message, fix=exc.fix, node=node) from exc
            raise
        except OdibiError:
            raise
        except Exception as exc:  # noqa: BLE001 - foreign SQL errors become DataErrors
            raise DataError(
                f"SQL step failed: {exc}\n  Query: {query.strip()}",
                fix="Check the column and table names; tables available here: "
                + ", ".join(sorted(tables)),
                node=node,
            ) from exc

    # ---- frames ----------------------------------------------------------------------------
    @abstractmethod
    def count(self, frame: Frame) -> int: ...

    @abstractmethod
    def schema(self, frame: Frame) -> tuple[ColumnSchema, ...]: ...

    @abstractmethod
    def sample(self, frame: Frame, n: int) -> list[dict[str, Any]]:
        """Up to ``n`` rows as JSON-safe dicts (dates as ISO strings, NaN as None)."""

    def collect(self, frame: Frame) -> Frame:
        """Materialise a lazy frame; eager engines return it unchanged."""
        return frame

    def columns(self, frame: Frame) -> list[str]:
        return [c.name for c in self.schema(frame)]

    def from_rows(self, rows: Sequence[Mapping[str, Any]],
                  schema: Mapping[str, str] | None = None) -> Frame:
        """Build a native frame from ``rows`` (tests, small lookups).

        ``schema`` maps column names to logical type names (``int64``, ``date``, ...); columns it
        does not name are inferred from the values.
        """
        raise NotImplementedError(f"The {self.name} engine does not build frames from rows.")

    def from_arrow(self, table: Any) -> Frame:
        """A native frame holding ``table`` (a ``pyarrow.Table``): how sources that are not files
        (``format: api``, ``format: sql``) hand their rows to the engine, types kept."""
        raise NotImplementedError(f"The {self.name} engine does not build frames from Arrow.")

    def to_rows(self, frame: Frame) -> list[dict[str, Any]]:
        """Every row of ``frame`` as JSON-safe dicts, in the frame's order."""
        return self.sample(frame, self.count(frame))

    # ---- transforms ------------------------------------------------------------------------
    def call_function(self, fn: Callable[..., Frame], frame: Frame, params: Mapping[str, Any],
                      tables: Mapping[str, Frame]) -> Frame:
        """Call a registered transform: ``fn(frame, **params)``; ``tables`` passed when asked for."""
        kwargs = dict(params)
        sig = inspect.signature(fn)
        if "tables" in sig.parameters and "tables" not in kwargs:
            kwargs["tables"] = tables
        if "engine" in sig.parameters and "engine" not in kwargs:
            kwargs["engine"] = self
        return fn(frame, **kwargs)

    # ---- row predicates and data quality ---------------------------------------------------
    # Validation evaluates every row-level test of a node in one pass: add_row_flags adds one
    # boolean column per test (True = the row passes); the other methods read those flags.
    def add_row_flags(self, frame: Frame, predicates: Sequence[RowPredicate]) -> Frame:
        """``frame`` plus one boolean column per predicate, all evaluated in ONE pass.

        Rows keep their order. Eager engines evaluate now; lazy engines add the expressions.

        Raises:
            DataError: a predicate does not compile or names a missing column.
        """
        raise NotImplementedError(f"The {self.name} engine does not evaluate row predicates.")

    def summarize_flags(self, frame: Frame, flags: Mapping[str, Sequence[str]], *,
                        sample_size: int) -> FlagSummary:
        """Per flag column: the number of rows where it is False, and the first ``sample_size``
        such rows restricted to the listed columns (no columns: every column but the flags),
        as JSON-safe dicts."""
        raise NotImplementedError(f"The {self.name} engine does not summarize flags.")

    def count_rows(self, frame: Frame, *, all_true: Sequence[str] = (),
                   any_false: Sequence[str] = ()) -> int:
        """Rows where every ``all_true`` flag is True and (if given) some ``any_false`` flag is
        False."""
        return self.count(self.filter_rows(frame, all_true=all_true, any_false=any_false))

    def filter_rows(self, frame: Frame, *, all_true: Sequence[str] = (),
                    any_false: Sequence[str] = ()) -> Frame:
        """The rows :meth:`count_rows` counts, in order."""
        raise NotImplementedError(f"The {self.name} engine does not filter on flags.")

    def add_columns(self, frame: Frame, expressions: Mapping[str, str]) -> Frame:
        """``frame`` plus one column per SQL expression (row-wise, no window functions)."""
        raise NotImplementedError(f"The {self.name} engine does not add SQL columns.")

    def with_constants(self, frame: Frame, values: Mapping[str, Any]) -> Frame:
        """``frame`` plus one column per constant (``str``, ``int``, ``float``, ``bool``, or an
        aware ``datetime``, stored as a UTC ``timestamp``)."""
        raise NotImplementedError(f"The {self.name} engine does not add constant columns.")

    def drop_columns(self, frame: Frame, names: Sequence[str]) -> Frame:
        """``frame`` without the columns ``names`` (those it has)."""
        raise NotImplementedError(f"The {self.name} engine does not drop columns.")

    def head(self, frame: Frame, n: int) -> Frame:
        """The first ``n`` rows."""
        raise NotImplementedError(f"The {self.name} engine does not take the first rows.")

    def sample_fraction(self, frame: Frame, fraction: float, *, seed: int) -> Frame:
        """A random ``fraction`` of the rows (deterministic for a ``seed``), in frame order."""
        raise NotImplementedError(f"The {self.name} engine does not sample rows.")

    def aggregate(self, frame: Frame, expressions: Mapping[str, str]) -> dict[str, Any]:
        """One SQL aggregate per name, computed in one pass; Python values (datetimes stay
        datetimes)."""
        raise NotImplementedError(f"The {self.name} engine does not compute aggregates.")

    def profile(self, frame: Frame, columns: Sequence[ColumnSchema], *,
                include: Collection[str], exact_limit: int, bins: int) -> dict[str, Any]:
        """Statistics of ``columns`` of ``frame`` in at most two aggregate passes, as
        ``odibi_core.profiling.compute.profile_passes`` returns them (the plan is shared; an
        engine supplies its native expressions). ``include`` names the metrics; unique counts
        are exact up to ``exact_limit`` rows, approximate beyond; histograms have ``bins``
        equal-width bins."""
        raise NotImplementedError(f"The {self.name} engine does not profile frames.")

    def fingerprint(self, frame: Frame) -> str:
        """A deterministic digest of the frame's content and schema, independent of row order:
        the same data gives the same text in every process."""
        raise NotImplementedError(f"The {self.name} engine does not fingerprint frames.")

    def cache(self, frame: Frame) -> Frame:
        """Keep ``frame`` computed for several passes (Spark ``cache``); eager engines return it
        unchanged."""
        return frame

    def rows_after(self, frame: Frame, column: str, value: Any) -> Frame:
        """The rows whose ``column`` is greater than ``value`` (a Python scalar of the column's
        type: int, float, str, ``date`` or ``datetime``); nulls are dropped. Incremental loads
        use it to keep only rows newer than a high-water mark."""
        raise NotImplementedError(f"The {self.name} engine does not filter on a watermark.")

    def rows_between(self, frame: Frame, column: str, start: Any, end: Any) -> Frame:
        """The rows with ``start <= column < end`` (Python ``date``/``datetime`` bounds of the
        column's type); nulls are dropped. A Dagster partition's rows are selected with it."""
        raise NotImplementedError(f"The {self.name} engine does not filter on a range.")

    # ---- schema policy, privacy, views (SPEC §3, §7) ---------------------------------------
    def read_schema(self, request: ReadRequest) -> tuple[ColumnSchema, ...] | None:
        """The schema of what ``request`` would read, or None when nothing is there yet.

        Engines override this to read only metadata (a Delta log, a parquet footer); the
        default reads the data.
        """
        try:
            return self.schema(self.read(request))
        except DataError:
            if _exists(request.location):
                raise
            return None

    def conform(self, frame: Frame, columns: Sequence[ColumnSchema]) -> Frame:
        """``frame`` with exactly ``columns``, in that order.

        A column the frame has is cast to the listed logical type (a value that does not
        convert is a :class:`DataError` naming the column); a column it lacks is added as
        nulls of that type; a column not listed is dropped. Used by ``schema_policy`` to shape
        an output like its target table.
        """
        raise NotImplementedError(f"The {self.name} engine does not conform schemas.")

    def anonymize(self, frame: Frame, columns: Sequence[str],
                  method: Literal["hash", "mask", "redact"], salt: str | None = None) -> Frame:
        """``frame`` with each of ``columns`` protected; every result column is a string and
        nulls stay null. The result is the same on every engine:

        - ``hash``: lowercase hex SHA-256 of ``(salt or "") + text``;
        - ``mask``: ``text`` with every character but the last 4 replaced by ``*`` (a value of
          4 characters or fewer becomes all ``*``, keeping its length);
        - ``redact``: the string ``[REDACTED]``.

        ``text`` is the value's canonical text: strings as they are, integers in decimal,
        booleans ``true``/``false``, dates ``YYYY-MM-DD``. Callers check the column types first
        (``odibi_core.privacy``); other types are not given to this method.
        """
        raise NotImplementedError(f"The {self.name} engine does not anonymize columns.")

    def create_view(self, name: str, frame: Frame) -> Frame:
        """Register ``frame`` as the view ``name`` in the engine's catalog and return a frame
        that reads it.

        A view is a definition, computed when read, never a stored table: a Spark temporary
        view, a view in the engine's DuckDB catalog (pandas), a lazy frame registered in the
        engine's SQL context (polars). Later :meth:`sql` calls may name it.
        """
        raise NotImplementedError(f"The {self.name} engine does not create views.")

    def view_names(self) -> list[str]:
        """Names of the views :meth:`create_view` registered on this engine, sorted."""
        return []

    def sql_regex_match(self, column_sql: str, pattern: str) -> str:
        """SQL that is TRUE when ``column_sql`` (a string) contains a match of ``pattern``
        (search semantics; anchor with ``^...$`` to match the whole value)."""
        literal = "'" + pattern.replace("'", "''") + "'"
        return f"regexp_like({column_sql}, {literal})"

    # ---- intermediate storage for nodes without a write ------------------------------------
    @abstractmethod
    def write_intermediate(self, frame: Frame, path: str) -> None:
        """Persist ``frame`` as a parquet file at ``path`` (a local path), for the next step."""

    @abstractmethod
    def read_intermediate(self, path: str) -> Frame: ...

    # ---- subclass hooks --------------------------------------------------------------------
    @abstractmethod
    def _read(self, request: ReadRequest) -> Frame: ...

    def _read_with_dead_letters(self, request: ReadRequest, *,
                                batch_id: str | None) -> tuple[Frame, DeadLetterBatch]:
        raise ConfigError(ConfigProblem(
            message=f"read.dead_letter is not available on the {self.name} engine yet.",
            key_path="read.dead_letter",
            fix="Remove read.dead_letter, or run the node on the pandas engine.",
        ))

    @abstractmethod
    def _write(self, frame: Frame, request: WriteRequest) -> WriteResult: ...

    @abstractmethod
    def _sql(self, query: str, tables: Mapping[str, Frame]) -> Frame: ...

    # ---- helpers ---------------------------------------------------------------------------
    def _guard(self, action: str, node: str | None, location: ResolvedLocation,
               call: Callable[[], Any]) -> Any:
        try:
            return call()
        except (DataError, TransientError) as exc:
            if exc.node is None and node is not None:
                raise type(exc)(location.redact(exc.message), fix=exc.fix, node=node) from exc
            raise
        except OdibiError:
            raise
        except FileNotFoundError as exc:
            raise DataError(
                location.redact(
                    f"Cannot {action} {location.display}: not found ({exc.filename or exc})."),
                fix=f"Check `path` and the base path of connection '{location.connection}'.",
                node=node,
            ) from exc
        except Exception as exc:  # noqa: BLE001 - translated, never swallowed
            if is_transient(exc):
                raise TransientError(
                    location.redact(
                        f"Transient failure during {action} of {location.display}: {exc}"),
                    fix="This is retried automatically when retries are enabled.",
                    node=node,
                ) from exc
            raise DataError(
                location.redact(
                    f"Cannot {action} {location.display} as {type(exc).__name__}: {exc}"),
                fix=f"Check the format and options of the {action} block.",
                node=node,
            ) from exc


def _exists(location: ResolvedLocation) -> bool:
    """Whether a local location exists (remote ones are assumed to)."""
    return not location.is_local or os.path.exists(location.uri)


def timed(call: Callable[[], Any]) -> tuple[Any, float]:
    """Run ``call`` and return its value with the seconds it took."""
    start = time.perf_counter()
    value = call()
    return value, time.perf_counter() - start
