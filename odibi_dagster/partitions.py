"""A pipeline's ``partitions:`` block as a Dagster ``TimeWindowPartitionsDefinition``, built in
this one place, and the checks ``odibi run --partition`` makes before it starts a run.

Every asset of a partitioned pipeline carries the pipeline's definition; nodes of other pipelines
stay unpartitioned. ``end`` is exclusive, as in Dagster: ``start: 2026-01-01, end: 2026-02-01``
gives the 31 days of January. Without ``end`` the last partition is the last complete one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import dagster as dg

from odibi_core.errors import ConfigError, ConfigProblem

__all__ = ["PartitionWindow", "describe_partitions", "partition_keys_for_run",
           "partitioned_pipelines", "partitions_def_for", "selection_partitions_def"]

_DEFINITIONS: dict[str, type[dg.TimeWindowPartitionsDefinition]] = {
    "hourly": dg.HourlyPartitionsDefinition,
    "daily": dg.DailyPartitionsDefinition,
    "weekly": dg.WeeklyPartitionsDefinition,
    "monthly": dg.MonthlyPartitionsDefinition,
}

# A partition key as the user types it, for messages ("YYYY-MM-DD").
_FORMAT_WORDS = {"%Y": "YYYY", "%m": "MM", "%d": "DD", "%H": "HH", "%M": "mm"}


def _moment(value: dt.date | dt.datetime) -> dt.datetime:
    """A date as midnight; Dagster reads a naive datetime in the definition's timezone."""
    if isinstance(value, dt.datetime):
        return value
    return dt.datetime.combine(value, dt.time())


def partitions_def_for(pipeline: Any) -> dg.TimeWindowPartitionsDefinition | None:
    """The Dagster partitions of ``pipeline`` (a ``PipelineConfig``), or None when it has none."""
    config = pipeline.partitions
    if config is None:
        return None
    cls = _DEFINITIONS[config.type]
    return cls(start_date=_moment(config.start),
               end_date=_moment(config.end) if config.end is not None else None,
               timezone=config.timezone)


def partitioned_pipelines(project: Any, node_keys: Sequence[str]
                          ) -> dict[str, dg.TimeWindowPartitionsDefinition]:
    """The partitioned pipelines among ``node_keys`` (``pipeline.node``), in order of appearance."""
    found: dict[str, dg.TimeWindowPartitionsDefinition] = {}
    for key in node_keys:
        pipeline = key.split(".", 1)[0]
        if pipeline in found:
            continue
        definition = partitions_def_for(project.config.pipeline(pipeline))
        if definition is not None:
            found[pipeline] = definition
    return found


def describe_partitions(definition: dg.TimeWindowPartitionsDefinition) -> str:
    """``daily partitions 2026-01-01 ... 2026-01-31, keys like YYYY-MM-DD, timezone UTC``."""
    fmt = definition.fmt
    for code, word in _FORMAT_WORDS.items():
        fmt = fmt.replace(code, word)
    kind = _kind(definition)
    first = definition.get_first_partition_key()
    if first is None:
        start = definition.start.strftime(definition.fmt)
        return (f"{kind} partitions, none complete yet (the first starts at {start}), "
                f"keys like {fmt}, timezone {definition.timezone}")
    last = definition.get_last_partition_key()
    return (f"{kind} partitions {first} ... {last}, "
            f"keys like {fmt}, timezone {definition.timezone}")


def _kind(definition: dg.TimeWindowPartitionsDefinition) -> str:
    for name, cls in _DEFINITIONS.items():
        if isinstance(definition, cls):
            return name
    return "time-window"


def _pipeline_key_path(project: Any, pipeline: str) -> str:
    for index, config in enumerate(project.config.pipelines):
        if config.pipeline == pipeline:
            return f"pipelines[{index}].partitions"
    return "partitions"


def selection_partitions_def(project: Any, node_keys: Sequence[str]
                             ) -> dg.TimeWindowPartitionsDefinition | None:
    """The one partitions definition the partitioned pipelines of the selection share.

    Raises:
        ConfigError: two selected pipelines are partitioned differently (one Dagster run
            materializes one partition of one definition).
    """
    found = partitioned_pipelines(project, node_keys)
    distinct = {repr(d): d for d in found.values()}  # equal definitions share a repr
    if len(distinct) > 1:
        listing = "; ".join(f"{p}: {describe_partitions(d)}" for p, d in found.items())
        raise ConfigError(ConfigProblem(
            message=f"The selection spans pipelines with different partitions ({listing}); "
                    "one run materializes one partition.",
            file=project.file,
            fix="Run each partitioned pipeline on its own: --pipeline NAME --partition KEY."))
    return next(iter(found.values()), None)


def partition_keys_for_run(project: Any, node_keys: Sequence[str], *,
                           partition: str | None = None,
                           partition_range: str | None = None) -> list[str | None]:
    """The partition key of each run to start, in order: ``[None]`` for an unpartitioned
    selection, ``[key]`` for ``--partition``, every key of ``START...END`` (both included) for
    ``--partition-range``.

    Raises:
        ConfigError: a key outside the pipeline's partitions (the message gives the valid
            range), a partition for a selection without partitioned pipelines, or a partitioned
            selection without one.
    """
    definition = selection_partitions_def(project, node_keys)
    if partition is not None and partition_range is not None:
        raise ConfigError(ConfigProblem(
            message="--partition and --partition-range were both given.", file=project.file,
            fix="Give one: --partition KEY for one partition, --partition-range START...END "
                "for several."))
    wanted = partition if partition is not None else partition_range
    flag = "--partition" if partition is not None else "--partition-range"
    if definition is None:
        if wanted is None:
            return [None]
        raise ConfigError(ConfigProblem(
            message=f"{flag} {wanted} was given, but no pipeline of the selection is "
                    "partitioned.",
            file=project.file,
            fix=f"Drop {flag}, or give the pipeline a `partitions:` block "
                "(type, start, column)."))
    pipelines = list(partitioned_pipelines(project, node_keys))
    if wanted is None:
        raise ConfigError(ConfigProblem(
            message=f"{_label(pipelines)} partitioned, and a run materializes one partition "
                    f"({describe_partitions(definition)}).",
            file=project.file,
            key_path=_pipeline_key_path(project, pipelines[0]),
            fix=f"Name the partition: --partition {_example_key(definition)}, or "
                f"--partition-range {_example_range(definition)} for a backfill."))
    if partition is not None:
        return [_checked(project, pipelines, definition, partition)]
    start, sep, end = wanted.partition("...")
    if not sep or not start or not end:
        raise ConfigError(ConfigProblem(
            message=f"--partition-range {wanted!r} is not START...END.", file=project.file,
            fix=f"Write both keys with three dots between them, e.g. "
                f"{_example_range(definition)}."))
    start, end = (_checked(project, pipelines, definition, k.strip()) for k in (start, end))
    keys = definition.get_partition_keys_in_range(dg.PartitionKeyRange(start, end))
    if not keys:
        raise ConfigError(ConfigProblem(
            message=f"--partition-range {wanted} is empty: {end} comes before {start}.",
            file=project.file,
            fix=f"Put the earlier key first: {end}...{start}."))
    return list(keys)


def _label(pipelines: Sequence[str], *, of: bool = False) -> str:
    """``Pipeline sales is`` / ``Pipelines a, b are``; with ``of``: ``pipeline sales``."""
    names = ", ".join(pipelines)
    if of:
        return f"pipeline {names}" if len(pipelines) == 1 else f"pipelines {names}"
    return f"Pipeline {names} is" if len(pipelines) == 1 else f"Pipelines {names} are"


def _checked(project: Any, pipelines: Sequence[str],
             definition: dg.TimeWindowPartitionsDefinition, key: str) -> str:
    if definition.has_partition_key(key):
        return key
    raise ConfigError(ConfigProblem(
        message=f"{key!r} is not a partition of {_label(pipelines, of=True)} "
                f"({describe_partitions(definition)}).",
        file=project.file,
        key_path=_pipeline_key_path(project, pipelines[0]),
        fix=f"Pass a key from that range, in that format, e.g. "
            f"--partition {_example_key(definition)}."))


def _example_key(definition: dg.TimeWindowPartitionsDefinition) -> str:
    return definition.get_last_partition_key() or "KEY"


def _example_range(definition: dg.TimeWindowPartitionsDefinition) -> str:
    first, last = definition.get_first_partition_key(), definition.get_last_partition_key()
    return f"{first}...{last}" if first and last else "START...END"


@dataclass(frozen=True)
class PartitionWindow:
    """The partition a step runs for: its key and time window ``[start, end)``
    (timezone-aware)."""

    key: str
    start: dt.datetime
    end: dt.datetime
