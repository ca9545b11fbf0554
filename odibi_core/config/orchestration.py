"""When things run (SPEC §3, §11): schedules, sensors (file arrival, source change), tag-selection
jobs and declarative automation. Framework-free: ``odibi_dagster`` turns them into Dagster objects.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BeforeValidator, Field, model_validator

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

    cron: CronExpr
    timezone: TimezoneName = "UTC"
    default_status: DefaultStatus = "stopped"


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

    type: Literal["file_arrival"] = "file_arrival"
    connection: str
    path: str
    minimum_interval_seconds: Annotated[int, Field(ge=1)] = 30
    reads: Literal["new_files", "all_files"] = "new_files"
    max_files_per_run: Annotated[int, Field(ge=1, le=1000)] = 100
    default_status: DefaultStatus = "stopped"


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

    type: Literal["source_change"]
    nodes: list[Identifier] | None = None
    minimum_interval_seconds: Annotated[int, Field(ge=1)] | None = None
    default_status: DefaultStatus = "stopped"


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

    job: Identifier
    description: str | None = None
    tags: list[TagName] = Field(default_factory=list)
    pipelines: list[Identifier] = Field(default_factory=list)
    schedule: Schedule | None = None

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

    condition: Literal["eager", "on_missing", "on_cron"]
    cron: CronExpr | None = None
    timezone: TimezoneName = "UTC"

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
