"""Checks of write modes against how a node gets its rows, before anything runs: layouts that
would add the same rows to a target on every run.

- A stateful ``read.incremental`` with ``watermark_lag`` reads again, every run, the rows of the
  lag before its mark, which were written already (a ``rolling_window`` read, the rows of its
  window); ``write.mode: append`` would add them a second time. A keyed merge (``upsert`` or
  ``append_once`` on ``options.keys``) writes each key once, as dbt's incremental models with a
  ``unique_key`` and a lookback do.
- A node without a read takes its input from its first ``depends_on`` node, read back whole
  from that node's target. When that target only grows (its write appends), the whole history
  comes back every run, and a plain ``append`` downstream adds it again. ``materialized:
  incremental`` (only rows newer than the node's own target), a keyed write, or reading the
  upstream table's change feed add each row once.
"""

from __future__ import annotations

from collections.abc import Iterator

from odibi_core.config.node import NodeConfig
from odibi_core.config.project import ProjectConfig
from odibi_core.config.yaml_source import KeyPath, SourceMap
from odibi_core.errors import ConfigProblem
from odibi_core.config.node_plan import plan_write

__all__ = ["effective_write_mode", "write_mode_problems"]


def effective_write_mode(node: NodeConfig) -> str | None:
    """The mode node ``node`` writes with (None: no write): ``write.mode``, or for
    ``materialized: incremental`` without one, ``upsert`` on keys and ``append`` without."""
    plan = plan_write(node)
    return plan.mode if plan is not None else None


def write_mode_problems(config: ProjectConfig, source: SourceMap) -> list[ConfigProblem]:
    """Every layout of ``config`` that would append rows twice (see the module)."""
    return [*_lag_problems(config, source), *_append_chain_problems(config, source)]


def _plain_append(node: NodeConfig) -> bool:
    return node.materialized != "incremental" and effective_write_mode(node) == "append"


def _mode_path(at: KeyPath, node: NodeConfig) -> KeyPath:
    assert node.write is not None
    return at + ("write", "mode") if "mode" in node.write.model_fields_set else at + ("write",)


def _lag_problems(config: ProjectConfig, source: SourceMap) -> Iterator[ConfigProblem]:
    for i, pipeline in enumerate(config.pipelines):
        for j, node in enumerate(pipeline.nodes):
            incremental = node.read.incremental if node.read is not None else None
            if incremental is None or not _plain_append(node):
                continue
            if incremental.mode == "stateful" and incremental.watermark_lag is not None:
                what = ("read.incremental.watermark_lag reads the rows of the lag before the "
                        "high-water mark again on every run")
                remedy = "; or remove watermark_lag."
            elif incremental.mode == "rolling_window":
                what = (f"read.incremental reads the last {incremental.lookback} "
                        f"{incremental.unit}(s) on every run, so each run reads rows an "
                        "earlier run read")
                remedy = ("; or use mode: stateful (a high-water mark) or materialized: "
                          "incremental.")
            else:
                continue
            yield source.problem(
                _mode_path(("pipelines", i, "nodes", j), node),
                f"[{pipeline.pipeline}.{node.name}] {what}, and they were written already: "
                "write.mode: append would add them to the target a second time.",
                fix="Write with mode: upsert (a late row replaces the row with its key) or "
                    "mode: append_once (only keys not yet in the target are added), with "
                    "options: {keys: [...]} naming the columns that identify a row" + remedy)


def _append_chain_problems(config: ProjectConfig, source: SourceMap
                           ) -> Iterator[ConfigProblem]:
    nodes = {f"{p.pipeline}.{n.name}": n for p in config.pipelines for n in p.nodes}
    for i, pipeline in enumerate(config.pipelines):
        for j, node in enumerate(pipeline.nodes):
            if node.read is not None or not node.depends_on or not _plain_append(node):
                continue
            upstream_key = f"{pipeline.pipeline}.{node.depends_on[0]}"
            upstream = nodes.get(upstream_key)  # (an unknown name is reported elsewhere)
            if upstream is None or effective_write_mode(upstream) != "append":
                continue
            if _reads_one_partition(config, pipeline.pipeline):
                continue
            yield source.problem(
                _mode_path(("pipelines", i, "nodes", j), node),
                f"[{pipeline.pipeline}.{node.name}] takes its input from {upstream_key}, which "
                "is read back whole from its target, and that target is appended to: every run "
                "would append all of its rows again with write.mode: append.",
                fix="Add materialized: incremental to this node (it appends only rows newer "
                    "than its own target's maximum of the incremental column), or write with "
                    "mode: append_once or upsert on options: {keys: [...]}, or read "
                    f"{upstream_key}'s table with read.change_feed (its write needs "
                    "table_properties: {delta.enableChangeDataFeed: true}).")


def _reads_one_partition(config: ProjectConfig, pipeline: str) -> bool:
    """A partitioned node reads only its partition's rows of an upstream target of the same
    pipeline, by ``partitions.column`` (and its batch is the partition)."""
    partitions = config.pipeline(pipeline).partitions
    return partitions is not None and partitions.column is not None
