"""When things run (SPEC §3, §11): schedules, sensors (file arrival, source change), tag-selection
jobs and declarative automation. Framework-free: ``odibi_dagster`` turns them into Dagster objects.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field, model_validator

from odibi_core.config.base import Identifier, OdibiModel, TagName, config_error

__all__ = ["Automation", "AutomationConfig", "CronExpr", "FileArrivalSensorConfig", "JobConfig",
           "Schedule", "ScheduleConfig", "Sensor", "SensorConfig", "SourceChangeSensorConfig",
           "TimezoneName"]

_CRON_FIELD = re.compile(r"^[0-9A-Za-z*/,?#LW-]+$")
_CRON_ALIASES = {"@hourly", "@daily", "@weekly", "@monthly", "@yearly", "@annually", "@midnight"}


def _check_cron(value: str) -> str:
    fields = value.split()
    if len(fields) == 5 and all(_CRON_FIELD.match(field) for field in fields):
        return value
    if value.strip() in _CRON_ALIASES:
        return value.strip()
    raise config_error(f"'{value}' is not a cron schedule.",
                       fix='Write five cron fields, quoted: "0 6 * * *" (06:00 daily), or '
                       "@daily / @hourly.")


def _check_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise config_error(f"'{value}' is not a time zone.",
                           fix="Use an IANA name such as UTC, Europe/Berlin or America/New_York."
                           ) from None
    return value


CronExpr = Annotated[str, AfterValidator(_check_cron)]
TimezoneName = Annotated[str, AfterValidator(_check_timezone)]
DefaultStatus = Literal["running", "stopped"]


def _cron_shorthand(value: Any) -> Any:
    """``schedule: "0 6 * * *"`` is short for ``schedule: {cron: "0 6 * * *"}``."""
    return {"cron": value} if isinstance(value, str) else value


class ScheduleConfig(OdibiModel):
    """A Dagster schedule: ``cron`` in ``timezone``.

    Like every Dagster schedule it starts ``stopped`` (turn it on in the UI, or set
    ``default_status: running`` to have it on as soon as the code is deployed). On a
    partitioned pipeline each tick runs the latest complete partition.
    """

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"cron": "0 6 * * *", "timezone": "Europe/Berlin", "default_status": "running"},
    ]})

    cron: CronExpr
    """When to run: five cron fields, quoted, or @daily / @hourly / ...."""
    timezone: TimezoneName = "UTC"
    """The time zone the cron is read in."""
    default_status: DefaultStatus = "stopped"
    """Whether the schedule is on (running) or off (stopped) when the code is deployed."""


Schedule = Annotated[ScheduleConfig, BeforeValidator(
    _cron_shorthand, json_schema_input_type=str | ScheduleConfig)]


class FileArrivalSensorConfig(OdibiModel):
    """Start the pipeline when files matching ``path`` (a glob) arrive on ``connection``.

    One run per set of new files, never twice for the same file (a file counts as new again
    only when it changes: its size or modification time). ``reads: new_files`` (the default)
    narrows every node that reads this connection and path to the run's new files, so an
    append adds just them; ``all_files`` reads the whole glob each run (for overwrites).
    More than ``max_files_per_run`` new files become several runs.
    """

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"type": "file_arrival",
         "connection": "landing",
         "path": "orders/*.csv",
         "minimum_interval_seconds": 60},
    ]})

    type: Literal["file_arrival"] = "file_arrival"
    """Start a run when new files arrive (the default when type is not written)."""
    connection: str
    """The connection the files arrive on."""
    path: str
    """A glob of the files to watch, relative to the connection."""
    minimum_interval_seconds: Annotated[int, Field(ge=1)] = 30
    """Seconds between two looks for new files."""
    reads: Literal["new_files", "all_files"] = "new_files"
    """new_files narrows the nodes reading this path to the run's new files; all_files reads the
    whole glob each run."""
    max_files_per_run: Annotated[int, Field(ge=1, le=1000)] = 100
    """New files beyond this many go into further runs."""
    default_status: DefaultStatus = "stopped"
    """Whether the sensor is on (running) or off (stopped) when the code is deployed."""


SensorConfig = FileArrivalSensorConfig
"""The file-arrival sensor (its name before ``source_change`` sensors existed)."""


class SourceChangeSensorConfig(OdibiModel):
    """Materialize streaming and change-feed nodes when their source changed.

    Each tick looks at the source of every watched node: a Delta table's latest version, or the
    files under a streaming read's path (size and modification time). The nodes whose source
    changed, and everything downstream of them in the pipeline, are materialized in one run.
    ``nodes`` defaults to every enabled streaming or change-feed node of the pipeline;
    ``minimum_interval_seconds`` to the shortest ``write.streaming.trigger.processing_time`` of
    the watched nodes, else 30.
    """

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"type": "source_change", "nodes": ["orders_stream"]},
    ]})

    type: Literal["source_change"]
    """Start a run when the source of a streaming or change-feed node changed."""
    nodes: list[Identifier] | None = None
    """The nodes to watch; absent, every enabled streaming or change-feed node of the pipeline."""
    minimum_interval_seconds: Annotated[int, Field(ge=1)] | None = None
    """Seconds between two looks; absent, the shortest write.streaming.trigger.processing_time of
    the watched nodes, else 30."""
    default_status: DefaultStatus = "stopped"
    """Whether the sensor is on (running) or off (stopped) when the code is deployed."""


def _file_arrival_by_default(value: Any) -> Any:
    """A sensor block without ``type`` is a file-arrival sensor (as before there were others)."""
    return {"type": "file_arrival", **value} if isinstance(value, dict) else value


Sensor = Annotated[
    FileArrivalSensorConfig | SourceChangeSensorConfig,
    Field(discriminator="type"),
    BeforeValidator(_file_arrival_by_default),
]
"""A pipeline's ``sensor:`` block, by ``type`` (``file_arrival`` when not written)."""


class JobConfig(OdibiModel):
    """A Dagster job over a selection of nodes: those carrying any of ``tags`` (every node
    when no tags are given), within ``pipelines`` (every pipeline when none are given).
    """

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"job": "finance_daily",
         "tags": ["finance"],
         "pipelines": ["sales"],
         "schedule": "0 7 * * *"},
    ]})

    job: Identifier
    """The job's name in Dagster."""
    description: str | None = None
    """What the job is for, shown in Dagster."""
    tags: list[TagName] = Field(default_factory=list)
    """Select the nodes carrying any of these tags (every node when empty)."""
    pipelines: list[Identifier] = Field(default_factory=list)
    """Select only nodes of these pipelines (every pipeline when empty)."""
    schedule: Schedule | None = None
    """Run the job on a schedule: a cron string or a schedule block."""

    @model_validator(mode="after")
    def _selects(self) -> JobConfig:
        if not self.tags and not self.pipelines:
            raise config_error(f"Job '{self.job}' selects nothing: it has neither tags nor "
                               "pipelines.",
                               fix="Add tags: [daily] (nodes with any of these tags) and/or "
                               "pipelines: [sales].", key="tags")
        return self


def _automation_shorthand(value: Any) -> Any:
    """``automation: eager`` is short for ``automation: {condition: eager}``."""
    return {"condition": value} if isinstance(value, str) else value


class AutomationConfig(OdibiModel):
    """Dagster declarative automation for one node (opt-in).

    ``eager``: materialize when an upstream asset was updated (and after it goes missing);
    ``on_missing``: materialize once when the asset is missing (partitions added later);
    ``on_cron``: materialize after each ``cron`` tick once its upstream has been updated.
    """

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"condition": "on_cron", "cron": "0 * * * *"},
    ]})

    condition: Literal["eager", "on_missing", "on_cron"]
    """eager: after an upstream update; on_missing: once when missing; on_cron: after each cron
    tick once upstream was updated."""
    cron: CronExpr | None = None
    """The cron of on_cron (only there)."""
    timezone: TimezoneName = "UTC"
    """The time zone the cron is read in."""

    @model_validator(mode="after")
    def _cron_when_needed(self) -> AutomationConfig:
        if self.condition == "on_cron" and self.cron is None:
            raise config_error("automation on_cron needs a cron expression.",
                               fix='Add cron: "0 * * * *" (hourly), or use condition: eager.',
                               key="cron")
        if self.condition != "on_cron" and self.cron is not None:
            raise config_error(f"cron is only for condition: on_cron, not {self.condition}.",
                               fix="Remove cron:, or use condition: on_cron.", key="cron")
        return self


Automation = Annotated[AutomationConfig, BeforeValidator(
    _automation_shorthand, json_schema_input_type=Literal["eager", "on_missing"] | AutomationConfig)]
