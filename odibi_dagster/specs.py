"""``build_odibi_specs``: the one pure translation every entry point shares.

``defs_from_project``, the CLI and (later) the Component all call it, so that what the UI shows
and what ``odibi run`` executes are the same assets.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import dagster as dg

from odibi_dagster.translator import OdibiTranslator

__all__ = ["OdibiSpecs", "build_odibi_specs"]


@dataclass(frozen=True)
class OdibiSpecs:
    """The asset spec of every enabled node, keyed by ``pipeline.node``, and the reverse map."""

    by_node: Mapping[str, dg.AssetSpec]
    node_by_key: Mapping[dg.AssetKey, str]
    disabled: frozenset[str]

    def key(self, node_key: str) -> dg.AssetKey:
        return self.by_node[node_key].key


def build_odibi_specs(project: Any, translator: OdibiTranslator | None = None) -> OdibiSpecs:
    """Translate every enabled node of ``project``; disabled nodes and their downstream are left out.

    Deps are re-pointed at the keys the translator actually produced, so a subclass that changes
    keys (``replace_attributes(key=...)``) keeps the graph intact.
    """
    translator = translator or OdibiTranslator()
    graph = project.graph
    disabled = frozenset(graph.disabled())
    raw = {key: translator.get_asset_spec(project, graph.node(key))
           for key in graph.topological_order() if key not in disabled}
    default_keys = {translator._key(*key.split(".", 1)): key for key in raw}  # noqa: SLF001
    by_node: dict[str, dg.AssetSpec] = {}
    for key, spec in raw.items():
        deps = []
        for dep in spec.deps:
            upstream = default_keys.get(dep.asset_key)
            deps.append(raw[upstream].key if upstream in raw else dep.asset_key)
        by_node[key] = spec.replace_attributes(deps=deps)
    node_by_key = {spec.key: key for key, spec in by_node.items()}
    if len(node_by_key) != len(by_node):
        raise ValueError("The translator gave two nodes the same asset key.")
    return OdibiSpecs(by_node=by_node, node_by_key=node_by_key, disabled=disabled)
