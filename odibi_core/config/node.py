"""A node and its blocks: read, transform, privacy, schema_policy, write, retry (SPEC §3-§5,
§7)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag, model_validator

from odibi_core.config.base import (
    INPUT_REF_PATTERN,
    Duration,
    Identifier,
    InputRef,
    OdibiModel,
    TagName,
    config_error,
)
from odibi_core.config.api_options import check_api_options
from odibi_core.config.orchestration import Automation
from odibi_core.config.sql_options import check_sql_options
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


# --- read --------------------------------------------------------------------------------------


class TimeTravelConfig(OdibiModel):
    """Read a Delta table as of a version or a timestamp (exactly one)."""

    as_of_version: Annotated[int, Field(ge=0)] | None = None
    as_of_timestamp: datetime | None = None

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

    mode: Literal["stateful"]
    column: str
    watermark_lag: Duration | None = None


class RollingWindowIncrementalConfig(OdibiModel):
    """Read rows whose ``column`` falls in the last ``lookback`` ``unit``s; no state."""

    mode: Literal["rolling_window"]
    column: str
    lookback: Annotated[int, Field(ge=1)]
    unit: Literal["minute", "hour", "day", "week", "month", "year"] = "day"


IncrementalConfig = Annotated[
    StatefulIncrementalConfig | RollingWindowIncrementalConfig, Field(discriminator="mode")
]


class DeadLetterConfig(OdibiModel):
    """Where unparseable records go; above ``max_bad_fraction`` (when set) the node fails."""

    connection: str
    path: str | None = None
    table: str | None = None
    format: WriteFormat = "delta"
    max_bad_fraction: Fraction | None = None

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

    starting_version: Annotated[int, Field(ge=0)] | None = None
    starting_timestamp: datetime | None = None

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

    connection: str
    format: ReadFormat
    path: str | None = None
    table: str | None = None
    query: str | None = None
    options: dict[str, Any] = Field(default_factory=dict)
    time_travel: TimeTravelConfig | None = None
    incremental: IncrementalConfig | None = None
    dead_letter: DeadLetterConfig | None = None
    change_feed: ChangeFeedConfig | None = None
    # Spark Structured Streaming (SPEC-style ``read.streaming``): see ``odibi_core.streaming``.
    streaming: bool = False
    schema_ddl: str | None = None
    watermark_column: str | None = None
    watermark_delay: Duration | None = None

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

    sql: str

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, value: Any) -> Any:
        return {"sql": value} if isinstance(value, str) else value


class SqlFileStep(OdibiModel):
    """SQL kept in a file, relative to the project file."""

    sql_file: str


class FunctionStep(OdibiModel):
    """A registered transform (built-in or from ``transforms.py``), called with ``params``."""

    function: str
    params: dict[str, Any] = Field(default_factory=dict)


class OperationStep(OdibiModel):
    """A built-in operation, called with ``params``."""

    operation: str
    params: dict[str, Any] = Field(default_factory=dict)


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
    steps: Annotated[list[TransformStep], Field(min_length=1)]


# --- privacy, schema policy --------------------------------------------------------------------


class PrivacyConfig(OdibiModel):
    """Protect ``columns`` before validation and write: ``hash`` (salted SHA-256, identical on every
    engine), ``mask`` or ``redact``."""

    method: Literal["hash", "mask", "redact"]
    columns: Annotated[list[str], Field(min_length=1)]
    salt: str | None = None


class SchemaPolicyConfig(OdibiModel):
    """How the output's schema may differ from the target's.

    ``on_new_columns`` defaults to ``ignore`` under ``enforce`` and ``add_nullable`` under
    ``evolve``.
    """

    mode: Literal["enforce", "evolve"] = "enforce"
    on_new_columns: Literal["ignore", "fail", "add_nullable"] = "ignore"
    on_missing_columns: Literal["fill_null", "fail"] = "fill_null"

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

    available_now: Literal[True] | None = None
    processing_time: Duration | None = None

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

    output_mode: Literal["append", "update", "complete"] = "append"
    checkpoint_location: str | None = None
    trigger: StreamingTriggerConfig = Field(
        default_factory=lambda: StreamingTriggerConfig(available_now=True))


# write.mode each output mode takes: complete re-emits the whole result, update changed rows.
STREAMING_WRITE_MODES = {"append": ("append", "append_once", "upsert"),
                         "update": ("upsert",), "complete": ("overwrite",)}


class WriteConfig(OdibiModel):
    """Where a node's output goes (SPEC §7). ``upsert`` and ``append_once`` match rows on
    ``options.keys``. ``table_properties`` (Delta) are set on the table, e.g.
    ``{delta.enableChangeDataFeed: true}`` so that other nodes can read its change feed."""

    connection: str
    format: WriteFormat
    path: str | None = None
    table: str | None = None
    mode: Literal["overwrite", "append", "upsert", "append_once"] = "overwrite"
    options: dict[str, Any] = Field(default_factory=dict)
    partition_by: list[str] = Field(default_factory=list)
    merge_schema: bool = False
    skip_if_unchanged: bool = False
    table_properties: dict[str, str] = Field(default_factory=dict)
    streaming: StreamingWriteConfig | None = None

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

    enabled: bool | None = None
    max_attempts: Annotated[int, Field(ge=1)] | None = None
    backoff: Literal["exponential", "linear", "constant"] | None = None
    initial_delay: Annotated[float, Field(ge=0)] | None = None
    max_delay: Annotated[float, Field(ge=0)] | None = None
    jitter: Literal["none", "full", "plus_minus"] | None = None


# --- the node ----------------------------------------------------------------------------------


class NodeConfig(OdibiModel):
    """One step of a pipeline: read -> contracts -> transform -> privacy -> validation -> write.

    Without ``read`` the input is the output of the first ``depends_on`` node.
    """

    name: Identifier
    description: str | None = None
    tags: list[TagName] = Field(default_factory=list)
    depends_on: list[Identifier] = Field(default_factory=list)
    inputs: dict[Identifier, InputRef] = Field(default_factory=dict)
    enabled: bool = True
    read: ReadConfig | None = None
    contracts: list[TestConfig] = Field(default_factory=list)
    transformer: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    transform: TransformConfig | None = None
    privacy: PrivacyConfig | None = None
    validation: ValidationConfig | None = None
    schema_policy: SchemaPolicyConfig | None = None
    materialized: Literal["table", "view", "incremental"] = "table"
    write: WriteConfig | None = None
    retry: NodeRetryConfig | None = None
    cache: bool = False
    automation: Automation | None = None

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
