"""A node and its blocks: read, transform, privacy, schema_policy, write, retry (SPEC §3-§5,
§7)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Discriminator, Field, Tag, model_validator

from odibi_core.config.base import (
    INPUT_REF_PATTERN,
    Duration,
    Identifier,
    InputRef,
    OdibiModel,
    TagName,
    config_error,
)
from odibi_core.config.api_options import ApiReadOptions, check_api_options
from odibi_core.config.orchestration import Automation
from odibi_core.config.sql_options import SqlReadOptions, check_sql_options
from odibi_core.config.validation import TestConfig, ValidationConfig

__all__ = [
    "ChangeFeedConfig",
    "DeadLetterConfig",
    "FunctionStep",
    "IncrementalConfig",
    "NodeConfig",
    "NodeRetryConfig",
    "OperationStep",
    "PrivacyConfig",
    "ReadConfig",
    "RollingWindowIncrementalConfig",
    "SchemaPolicyConfig",
    "SqlFileStep",
    "SqlStep",
    "StatefulIncrementalConfig",
    "StreamingTriggerConfig",
    "StreamingWriteConfig",
    "TimeTravelConfig",
    "TransformConfig",
    "TransformStep",
    "WriteConfig",
]

Fraction = Annotated[float, Field(ge=0, le=1)]
ReadFormat = Literal["csv", "parquet", "json", "delta", "avro", "sql", "api"]
WriteFormat = Literal["delta", "parquet", "csv", "json"]
STREAMING_READ_FORMATS = ("json", "csv", "parquet", "delta")
# The read formats whose options are a strict block of their own (checked at load time).
READ_OPTIONS_MODELS: dict[str, type[OdibiModel]] = {"sql": SqlReadOptions, "api": ApiReadOptions}


# --- read --------------------------------------------------------------------------------------


class TimeTravelConfig(OdibiModel):
    """Read a Delta table as of a version or a timestamp (exactly one)."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"as_of_version": 3},
        {"as_of_timestamp": "2026-01-01T00:00:00Z"},
    ]})

    as_of_version: Annotated[int, Field(ge=0)] | None = None
    """Read this Delta version."""
    as_of_timestamp: datetime | None = None
    """Read the version current at this time (quoted ISO timestamp)."""

    @model_validator(mode="after")
    def _exactly_one(self) -> TimeTravelConfig:
        if (self.as_of_version is None) == (self.as_of_timestamp is None):
            raise config_error(
                "time_travel needs exactly one of as_of_version or as_of_timestamp.",
                fix='Write {as_of_version: 3} or {as_of_timestamp: "2026-01-01T00:00:00Z"}.')
        return self


class StatefulIncrementalConfig(OdibiModel):
    """Read rows newer than the high-water mark of ``column`` kept in ``system``, minus
    ``watermark_lag`` to catch late rows."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"mode": "stateful", "column": "updated_at", "watermark_lag": "1h"},
    ]})

    mode: Literal["stateful"]
    """Read rows newer than the last successful run's high-water mark (kept in system)."""
    column: str
    """The column whose maximum is the high-water mark (a timestamp, date or number)."""
    watermark_lag: Duration | None = None
    """Read again the rows of this span before the mark, to catch late rows (needs a keyed write).
    """


class RollingWindowIncrementalConfig(OdibiModel):
    """Read rows whose ``column`` falls in the last ``lookback`` ``unit``s; no state."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"mode": "rolling_window", "column": "order_date", "lookback": 7, "unit": "day"},
    ]})

    mode: Literal["rolling_window"]
    """Read rows of the last lookback units; no state."""
    column: str
    """The date or timestamp column compared with now."""
    lookback: Annotated[int, Field(ge=1)]
    """How many units back the window starts."""
    unit: Literal["minute", "hour", "day", "week", "month", "year"] = "day"
    """The unit of lookback."""


IncrementalConfig = Annotated[
    StatefulIncrementalConfig | RollingWindowIncrementalConfig, Field(discriminator="mode")
]


class DeadLetterConfig(OdibiModel):
    """Where unparseable records go; above ``max_bad_fraction`` (when set) the node fails."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"connection": "lake", "path": "_dlq/orders", "max_bad_fraction": 0.05},
    ]})

    connection: str
    """The connection the dead letters are written to."""
    path: str | None = None
    """Where on it (files); or table."""
    table: str | None = None
    """A catalog table; or path."""
    format: WriteFormat = "delta"
    """The format the dead letters are written in."""
    max_bad_fraction: Fraction | None = None
    """Fail the node when more than this fraction of records cannot be parsed; null never fails."""

    @model_validator(mode="after")
    def _one_target(self) -> DeadLetterConfig:
        if (self.path is None) == (self.table is None):
            raise config_error("dead_letter needs exactly one of path or table.",
                               fix="Keep path: (files) or table: (a catalog table), not both.")
        return self


class ChangeFeedConfig(OdibiModel):
    """Read a Delta table's change data feed from ``starting_version`` or
    ``starting_timestamp`` (exactly one) on the first run; later runs start after the last
    version the node consumed (kept in ``system`` once the node's write committed)."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"starting_version": 0},
    ]})

    starting_version: Annotated[int, Field(ge=0)] | None = None
    """The first Delta version read on the first run."""
    starting_timestamp: datetime | None = None
    """Or the time the first run reads from (quoted ISO timestamp)."""

    @model_validator(mode="after")
    def _exactly_one(self) -> ChangeFeedConfig:
        if (self.starting_version is None) == (self.starting_timestamp is None):
            raise config_error(
                "change_feed needs exactly one of starting_version or starting_timestamp.",
                fix='Write {starting_version: 0} (the whole feed) or {starting_timestamp: '
                    '"2026-01-01T00:00:00Z"}.')
        return self


class ReadConfig(OdibiModel):
    """Where a node's input comes from (SPEC §4).

    Files and Delta take exactly one of ``path`` or ``table``; ``sql`` reads take ``query`` or
    ``table``; ``api`` reads take an optional ``path`` below the connection's ``base_url``.
    """

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"connection": "landing",
         "format": "csv",
         "path": "orders/*.csv",
         "options": {"header": True},
         "incremental": {"mode": "stateful", "column": "updated_at"}},
    ]})

    connection: str
    """The connection to read from."""
    format: ReadFormat
    """The source's format; sql reads a database, api a JSON API."""
    path: str | None = None
    """A file, folder or glob below the connection (files and Delta), or the endpoint below
    base_url (api)."""
    table: str | None = None
    """A catalog table (delta connection) or a database table (sql); instead of path."""
    query: str | None = None
    """A SELECT to run (format: sql only)."""
    options: dict[str, Any] = Field(default_factory=dict)
    """Options of the reader: csv header and delimiter, declared column types (schema), sql and api
    settings (see docs/connections.md)."""
    time_travel: TimeTravelConfig | None = None
    """Read an earlier version of a Delta table."""
    incremental: IncrementalConfig | None = None
    """Read only new rows, by mode: stateful (a high-water mark) or rolling_window."""
    dead_letter: DeadLetterConfig | None = None
    """Where records that cannot be parsed go, instead of failing the node."""
    change_feed: ChangeFeedConfig | None = None
    """Read the Delta table's change data feed (inserts, updates, deletes) since the last version
    consumed."""
    # Spark Structured Streaming (SPEC-style ``read.streaming``): see ``odibi_core.streaming``.
    streaming: bool = False
    """Run the node as a Spark Structured Streaming query (spark engine; json, csv, parquet or
    delta)."""
    schema_ddl: str | None = None
    """The stream's schema as Spark DDL ("id BIGINT, ts TIMESTAMP"); needed for streaming file
    reads."""
    watermark_column: str | None = None
    """The event-time column of the stream's watermark."""
    watermark_delay: Duration | None = None
    """How late events may arrive ("10 minutes")."""

    @model_validator(mode="after")
    def _target(self) -> ReadConfig:
        given = [key for key in ("path", "table", "query") if getattr(self, key) is not None]
        if self.format == "sql":
            if "path" in given:
                raise config_error("A sql read takes query or table, not path.",
                                   fix="Replace path: with query: (SQL) or table:.", key="path")
            if len(given) != 1:
                raise config_error("A sql read needs exactly one of query or table.",
                                   fix="Keep query: (a SELECT) or table: (a table name), not both.")
            check_sql_options(self.options, target="query" if self.query is not None else "table")
        elif self.format == "api":
            if "table" in given or "query" in given:
                extra = "table" if "table" in given else "query"
                raise config_error(f"An api read takes path, not {extra}.",
                                   fix="Put the endpoint below the connection's base_url in path:; "
                                   "query parameters go in options.", key=extra)
            check_api_options(self.options)
        else:
            if "query" in given:
                raise config_error(f"A {self.format} read takes path or table, not query.",
                                   fix="Use format: sql to run a query, or read a path or table.",
                                   key="query")
            if len(given) != 1:
                raise config_error(f"A {self.format} read needs exactly one of path or table.",
                                   fix="Keep path: (files) or table: (a catalog table), not both.")
        if self.time_travel is not None and self.format != "delta":
            raise config_error(f"time_travel only works with format: delta, not {self.format}.",
                               fix="Remove time_travel or read a Delta table.", key="time_travel")
        self._check_change_feed()
        self._check_streaming()
        return self

    def _check_change_feed(self) -> None:
        if self.change_feed is None:
            return
        if self.format != "delta":
            raise config_error(f"change_feed reads a Delta table's changes, not {self.format}.",
                               fix="Use format: delta, or remove change_feed.",
                               key="change_feed")
        for other in ("time_travel", "incremental"):
            if getattr(self, other) is not None:
                raise config_error(
                    f"change_feed and {other} both choose which rows to read.",
                    fix=f"Remove {other}: a change feed keeps its own state (the last version "
                        "consumed).", key=other)

    def _check_streaming(self) -> None:
        stream_keys = [key for key in ("schema_ddl", "watermark_column", "watermark_delay")
                       if getattr(self, key) is not None]
        if not self.streaming:
            if stream_keys:
                raise config_error(f"{stream_keys[0]} is for streaming reads.",
                                   fix="Add streaming: true (Spark), or remove "
                                       f"{stream_keys[0]}.", key=stream_keys[0])
            return
        if self.format not in STREAMING_READ_FORMATS:
            raise config_error(f"A streaming read takes format json, csv, parquet or delta, not "
                               f"{self.format}.", fix="Change the format, or remove streaming.",
                               key="format")
        for other in ("time_travel", "incremental", "dead_letter", "change_feed"):
            if getattr(self, other) is not None:
                raise config_error(
                    f"A streaming read cannot use {other}.",
                    fix=f"Remove {other}: the stream's checkpoint remembers what was read.",
                    key=other)
        if self.format != "delta" and self.schema_ddl is None:
            raise config_error(
                f"A streaming {self.format} read needs its schema up front: Spark does not "
                "infer the schema of a stream of files.",
                fix='Add schema_ddl: "order_id BIGINT, amount DOUBLE, event_time TIMESTAMP".',
                key="schema_ddl")
        if (self.watermark_column is None) != (self.watermark_delay is None):
            missing = "watermark_delay" if self.watermark_delay is None else "watermark_column"
            raise config_error("A watermark needs both watermark_column and watermark_delay.",
                               fix=f'Add {missing} (e.g. watermark_delay: "10 minutes").',
                               key=missing)


# --- transform ---------------------------------------------------------------------------------


class SqlStep(OdibiModel):
    """SQL over ``df`` (the current frame), earlier nodes of the pipeline and ``inputs`` aliases.
    A plain string step is read as this."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"sql": "SELECT * FROM df WHERE amount > 0"},
    ]})

    sql: str
    """SQL over df (the current frame), earlier nodes of the pipeline and inputs aliases."""

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, value: Any) -> Any:
        return {"sql": value} if isinstance(value, str) else value


class SqlFileStep(OdibiModel):
    """SQL kept in a file, relative to the project file."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"sql_file": "sql/clean_orders.sql"},
    ]})

    sql_file: str
    """A file of SQL, relative to the project file."""


class FunctionStep(OdibiModel):
    """A registered transform (built-in or from ``transforms.py``), called with ``params``."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"function": "add_tax", "params": {"rate": 0.2}},
    ]})

    function: str
    """A registered transform: a built-in or a @transform function of transforms.py."""
    params: dict[str, Any] = Field(default_factory=dict)
    """Its keyword arguments."""


class OperationStep(OdibiModel):
    """A built-in operation, called with ``params``."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"operation": "deduplicate",
         "params": {"keys": ["order_id"], "order_by": "updated_at DESC"}},
    ]})

    operation: str
    """A built-in operation (see docs/transforms.md)."""
    params: dict[str, Any] = Field(default_factory=dict)
    """Its keyword arguments."""


_STEP_KEYS = ("sql", "sql_file", "function", "operation")


def _step_kind(value: Any) -> str | None:
    if isinstance(value, str):
        return "sql"
    if isinstance(value, dict):
        kinds = [key for key in _STEP_KEYS if key in value]
        return kinds[0] if len(kinds) == 1 else None
    if isinstance(value, OdibiModel):
        return next((key for key in _STEP_KEYS if hasattr(value, key)), None)
    return None


TransformStep = Annotated[
    Annotated[SqlStep, Tag("sql")]
    | Annotated[SqlFileStep, Tag("sql_file")]
    | Annotated[FunctionStep, Tag("function")]
    | Annotated[OperationStep, Tag("operation")],
    Discriminator(
        _step_kind,
        custom_error_type="transform_step",
        custom_error_message="A step must be a SQL string or a map with exactly one of sql, "
        "sql_file, function, operation.",
    ),
]


class TransformConfig(OdibiModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"steps": ["SELECT * FROM df WHERE amount > 0",
                   {"operation": "deduplicate",
                    "params": {"keys": ["order_id"], "order_by": "updated_at DESC"}},
                   {"function": "add_tax", "params": {"rate": 0.2}}]},
    ]})

    steps: Annotated[list[TransformStep], Field(min_length=1)]
    """The steps, run in order; each is a SQL string or a map with one of sql, sql_file, function,
    operation."""


# --- privacy, schema policy --------------------------------------------------------------------


class PrivacyConfig(OdibiModel):
    """Protect ``columns`` before validation and write: ``hash`` (salted SHA-256, identical on every
    engine), ``mask`` or ``redact``."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"method": "hash", "columns": ["email"], "salt": "${PII_SALT}"},
    ]})

    method: Literal["hash", "mask", "redact"]
    """hash (salted SHA-256, the same on every engine), mask (keep the last 4 characters) or
    redact."""
    columns: Annotated[list[str], Field(min_length=1)]
    """The columns to protect."""
    salt: str | None = None
    """The salt of hash; write it as ${ENV_VAR}."""


class SchemaPolicyConfig(OdibiModel):
    """How the output's schema may differ from the target's.

    ``on_new_columns`` defaults to ``ignore`` under ``enforce`` and ``add_nullable`` under
    ``evolve``.
    """

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"mode": "evolve", "on_missing_columns": "fill_null"},
    ]})

    mode: Literal["enforce", "evolve"] = "enforce"
    """enforce keeps the target's schema; evolve may add columns to it."""
    on_new_columns: Literal["ignore", "fail", "add_nullable"] = "ignore"
    """Output columns the target lacks: ignore (drop them), fail, or add_nullable (evolve only; the
    default there)."""
    on_missing_columns: Literal["fill_null", "fail"] = "fill_null"
    """Target columns the output lacks: fill_null or fail."""

    @model_validator(mode="before")
    @classmethod
    def _mode_default(cls, value: Any) -> Any:
        evolving = isinstance(value, dict) and value.get("mode") == "evolve"
        if evolving and "on_new_columns" not in value:
            return {**value, "on_new_columns": "add_nullable"}
        return value

    @model_validator(mode="after")
    def _consistent(self) -> SchemaPolicyConfig:
        if self.mode == "enforce" and self.on_new_columns == "add_nullable":
            raise config_error("on_new_columns: add_nullable changes the target's schema, which "
                               "mode: enforce forbids.",
                               fix="Use mode: evolve, or on_new_columns: ignore | fail.",
                               key="on_new_columns")
        return self


# --- write, retry ------------------------------------------------------------------------------


class StreamingTriggerConfig(OdibiModel):
    """When a streaming query looks for new data: ``available_now`` (process what has arrived,
    then stop) or every ``processing_time``.

    A materialization is always bounded: it runs the query with ``availableNow``.
    ``processing_time`` sets how often the pipeline's ``source_change`` sensor looks for new
    data to start the next one.
    """

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"processing_time": "1 minute"},
    ]})

    available_now: Literal[True] | None = None
    """Process what has arrived, then stop."""
    processing_time: Duration | None = None
    """How often the source_change sensor looks for new data ("1 minute")."""

    @model_validator(mode="after")
    def _exactly_one(self) -> StreamingTriggerConfig:
        if (self.available_now is None) == (self.processing_time is None):
            raise config_error("trigger needs exactly one of available_now or processing_time.",
                               fix='Write {available_now: true} or {processing_time: "1 '
                                   'minute"}.')
        return self


class StreamingWriteConfig(OdibiModel):
    """The write of a streaming node: Spark's ``output_mode``, the query's checkpoint (relative
    to the write connection; by default ``<system>/checkpoints/<pipeline>/<node>``) and its
    trigger."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"output_mode": "append", "trigger": {"available_now": True}},
    ]})

    output_mode: Literal["append", "update", "complete"] = "append"
    """Spark's output mode: append (new rows), update (changed rows, with mode: upsert) or complete
    (the whole result, with mode: overwrite)."""
    checkpoint_location: str | None = None
    """The query's checkpoint, relative to the write connection; default
    <system>/checkpoints/<pipeline>/<node>."""
    trigger: StreamingTriggerConfig = Field(
        default_factory=lambda: StreamingTriggerConfig(available_now=True))
    """When the query looks for new data."""


# write.mode each output mode takes: complete re-emits the whole result, update changed rows.
STREAMING_WRITE_MODES = {"append": ("append", "append_once", "upsert"),
                         "update": ("upsert",), "complete": ("overwrite",)}


class WriteConfig(OdibiModel):
    """Where a node's output goes (SPEC §7). ``upsert`` and ``append_once`` match rows on
    ``options.keys``. ``table_properties`` (Delta) are set on the table, e.g.
    ``{delta.enableChangeDataFeed: true}`` so that other nodes can read its change feed."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"connection": "lake",
         "format": "delta",
         "path": "silver/orders",
         "mode": "upsert",
         "options": {"keys": ["order_id"]},
         "partition_by": ["order_date"]},
    ]})

    connection: str
    """The connection to write to."""
    format: WriteFormat
    """The target's format."""
    path: str | None = None
    """The target below the connection (files); or table."""
    table: str | None = None
    """A catalog table (delta connection); or path."""
    mode: Literal["overwrite", "append", "upsert", "append_once"] = "overwrite"
    """overwrite replaces the target, append adds the batch (exactly once), upsert merges on
    options.keys, append_once adds only rows with new keys."""
    options: dict[str, Any] = Field(default_factory=dict)
    """Options of the writer; keys: [columns] identifies a row for upsert and append_once."""
    partition_by: list[str] = Field(default_factory=list)
    """Columns the target is partitioned by."""
    merge_schema: bool = False
    """Let the write add new columns to the target's schema."""
    skip_if_unchanged: bool = False
    """Skip an overwrite whose input has not changed since the last one."""
    table_properties: dict[str, str] = Field(  # true and 7 are written as "true" and "7"
        default_factory=dict,
        json_schema_extra={"additionalProperties": {"type": ["string", "number", "boolean"]}})
    """Delta table properties set on the table ({delta.enableChangeDataFeed: true}); values are
    written as text."""
    streaming: StreamingWriteConfig | None = None
    """The write of a streaming node (read.streaming: true)."""

    @model_validator(mode="before")
    @classmethod
    def _properties_as_text(cls, value: Any) -> Any:
        """Delta table properties are text: ``true`` and ``7`` in YAML become "true", "7"."""
        props = value.get("table_properties") if isinstance(value, dict) else None
        if isinstance(props, dict):
            value = {**value, "table_properties": {
                key: (str(item).lower() if isinstance(item, bool) else str(item))
                if isinstance(item, (bool, int, float, str)) else item
                for key, item in props.items()}}
        return value

    @model_validator(mode="after")
    def _consistent(self) -> WriteConfig:
        if (self.path is None) == (self.table is None):
            raise config_error("write needs exactly one of path or table.",
                               fix="Keep path: (files) or table: (a catalog table), not both.")
        if self.table_properties and self.format != "delta":
            raise config_error(f"table_properties are Delta table properties; this write is "
                               f"{self.format}.", fix="Use format: delta, or remove "
                               "table_properties.", key="table_properties")
        if self.streaming is not None:
            if self.format != "delta":
                raise config_error(
                    f"A streaming write goes to Delta (its commits make the stream "
                    f"exactly-once), not {self.format}.", fix="Use format: delta.", key="format")
            allowed = STREAMING_WRITE_MODES[self.streaming.output_mode]
            if "mode" in self.model_fields_set and self.mode not in allowed:
                raise config_error(
                    f"output_mode: {self.streaming.output_mode} emits "
                    + {"append": "only new rows", "update": "the rows that changed",
                       "complete": "the whole result"}[self.streaming.output_mode]
                    + f" every micro-batch, which write.mode: {self.mode} would get wrong.",
                    fix=f"Use mode: {' or '.join(allowed)}, or remove mode (it follows "
                        "output_mode).", key="mode")
        if self.effective_mode in ("upsert", "append_once"):
            keys = self.options.get("keys")
            if not (isinstance(keys, list) and keys and all(isinstance(key, str) for key in keys)):
                raise config_error(f"mode: {self.effective_mode} needs the key columns in "
                                   "options.keys.",
                                   fix="Add options: {keys: [id_column, ...]}.",
                                   key="options.keys" if "keys" in self.options else "options")
        return self

    @property
    def effective_mode(self) -> str:
        """``mode``, or for a streaming write without one the mode its output mode implies."""
        if self.streaming is not None and "mode" not in self.model_fields_set:
            return STREAMING_WRITE_MODES[self.streaming.output_mode][0]
        return self.mode

    @property
    def keys(self) -> list[str]:
        """``options.keys``: the columns that identify a row (upsert, append_once, incremental)."""
        keys = self.options.get("keys")
        return list(keys) if isinstance(keys, list) else []


class NodeRetryConfig(OdibiModel):
    """A node's override of the project ``retry`` block; unset keys inherit it."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"max_attempts": 5, "backoff": "linear"},
    ]})

    enabled: bool | None = None
    """Overrides retry.enabled."""
    max_attempts: Annotated[int, Field(ge=1)] | None = None
    """Overrides retry.max_attempts."""
    backoff: Literal["exponential", "linear", "constant"] | None = None
    """Overrides retry.backoff."""
    initial_delay: Annotated[float, Field(ge=0)] | None = None
    """Overrides retry.initial_delay (seconds)."""
    max_delay: Annotated[float, Field(ge=0)] | None = None
    """Overrides retry.max_delay (seconds)."""
    jitter: Literal["none", "full", "plus_minus"] | None = None
    """Overrides retry.jitter."""


# --- the node ----------------------------------------------------------------------------------


class NodeConfig(OdibiModel):
    """One step of a pipeline: read -> contracts -> transform -> privacy -> validation -> write.

    Without ``read`` the input is the output of the first ``depends_on`` node.
    """

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"name": "clean_orders",
         "tags": ["daily"],
         "depends_on": ["raw_orders"],
         "transformer": "deduplicate",
         "params": {"keys": ["order_id"], "order_by": "updated_at DESC"},
         "validation": {"tests": [{"type": "unique", "columns": ["order_id"]}]},
         "write": {"connection": "lake", "format": "delta", "path": "silver/orders"}},
    ]})

    name: Identifier
    """The node's name, unique in its pipeline; its asset key is [pipeline, name]."""
    description: str | None = None
    """What the node does, shown in Dagster."""
    tags: list[TagName] = Field(default_factory=list)
    """Tags, which become Dagster asset tags (select with --tag or tag:NAME)."""
    depends_on: list[Identifier] = Field(default_factory=list)
    """Nodes of the same pipeline that run first; without read, the input is the first one's
    output."""
    inputs: dict[Identifier, InputRef] = Field(default_factory=dict)
    """alias -> $pipeline.node: another node's output, a table named alias in SQL."""
    enabled: bool = True
    """false skips the node and everything downstream of it."""
    read: ReadConfig | None = None
    """Where the input comes from; absent, the output of the first depends_on node."""
    contracts: list[TestConfig] = Field(default_factory=list)
    """Tests on the input, before the transform; a failure always fails the node."""
    transformer: str | None = None
    """One built-in or registered transform run before the steps."""
    params: dict[str, Any] = Field(default_factory=dict)
    """The keyword arguments of transformer."""
    transform: TransformConfig | None = None
    """SQL, functions and operations run in order."""
    privacy: PrivacyConfig | None = None
    """Hash, mask or redact columns before validation and write."""
    validation: ValidationConfig | None = None
    """Tests on the output, after the transform."""
    schema_policy: SchemaPolicyConfig | None = None
    """How the output's schema may differ from the target's."""
    materialized: Literal["table", "view", "incremental"] = "table"
    """table writes the output; view registers a view computed on read (no write); incremental
    writes only rows newer than the target's."""
    write: WriteConfig | None = None
    """Where the output goes; absent, nothing is written."""
    retry: NodeRetryConfig | None = None
    """Overrides of the project's retry block for this node."""
    cache: bool = False
    """Keep the output computed once for the nodes that read it (Spark persists it)."""
    automation: Automation | None = None
    """Dagster declarative automation: eager, on_missing, or a block with on_cron."""

    @model_validator(mode="after")
    def _consistent(self) -> NodeConfig:
        if self.params and self.transformer is None:
            raise config_error("params is given without a transformer.",
                               fix="Add transformer: NAME, or move the params into a transform "
                               "step ({function: NAME, params: {...}}).", key="params")
        if self.materialized == "view" and self.write is not None:
            raise config_error(
                "materialized: view registers a view computed on read, so the node cannot also "
                "have a write block.",
                fix="Remove write:, or use materialized: table to store the output.",
                key="materialized")
        if self.materialized == "incremental":
            if self.write is None:
                raise config_error("materialized: incremental needs a write target.",
                                   fix="Add a write: block.", key="materialized")
            if self.read is not None and self.read.incremental is None:
                raise config_error(
                    "materialized: incremental writes only rows newer than the target's, by the "
                    "column of read.incremental, and this node's read has no incremental block.",
                    fix="Add incremental: {mode: stateful, column: updated_at} to read:, or use "
                        "materialized: table.", key="materialized")
            if "mode" in self.write.model_fields_set and self.write.mode == "overwrite":
                raise config_error(
                    "materialized: incremental adds rows; write.mode: overwrite would replace "
                    "the target with them.",
                    fix="Remove write.mode (append, or upsert on options.keys), or use "
                        "materialized: table.", key="write.mode")
        self._check_streaming()
        if self.schema_policy is not None and self.write is None:
            raise config_error("schema_policy shapes the output like its write target, and this "
                               "node has no write.",
                               fix="Add a write: block, or remove schema_policy.",
                               key="schema_policy")
        for index, test in enumerate(self.contracts):
            if test.on_fail != "fail":
                raise config_error(
                    f"Contract '{test.display_name}' has on_fail: {test.on_fail}, but contracts "
                    "always block the node.",
                    fix="Remove on_fail from the contract, or move the test to validation.tests.",
                    key=f"contracts[{index}].on_fail")
        return self

    def _check_streaming(self) -> None:
        streaming_read = self.read is not None and self.read.streaming
        if self.write is not None and self.write.streaming is not None and not streaming_read:
            raise config_error("write.streaming needs a streaming read on the same node.",
                               fix="Add streaming: true to read:, or remove write.streaming.",
                               key="write.streaming")
        if not streaming_read:
            return
        if self.write is None or self.write.format != "delta":
            raise config_error("A streaming node writes a Delta table: its query keeps that "
                               "table current.",
                               fix="Add write: {connection: ..., format: delta, path: ...}.",
                               key="write" if self.write is None else "write.format")
        if self.contracts:
            raise config_error("Contracts check a whole input before the transform; a "
                               "streaming node's input never ends.",
                               fix="Move the tests to validation.tests: they check every "
                                   "micro-batch.", key="contracts")
        if self.materialized != "table" or self.cache:
            key = "cache" if self.cache else "materialized"
            raise config_error(f"A streaming node cannot use {key}: its query writes each "
                               "micro-batch as it comes.", fix=f"Remove {key}.", key=key)

    @property
    def is_streaming(self) -> bool:
        """The node runs a Spark Structured Streaming query (``read.streaming``)."""
        return self.read is not None and self.read.streaming

    @property
    def input_refs(self) -> dict[str, str]:
        """``inputs`` as alias -> ``"pipeline.node"`` (without the ``$``)."""
        refs: dict[str, str] = {}
        for alias, ref in self.inputs.items():
            match = INPUT_REF_PATTERN.match(ref)
            if match:
                refs[alias] = f"{match.group(1)}.{match.group(2)}"
        return refs

    @property
    def steps(self) -> list[SqlStep | SqlFileStep | FunctionStep | OperationStep]:
        """The transform steps, or ``[]``."""
        return list(self.transform.steps) if self.transform else []
