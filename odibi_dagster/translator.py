"""How an odibi node becomes a Dagster asset: one class, one main override point."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import dagster as dg

from odibi_core.config.node_plan import plan_write

from odibi_dagster import metadata as md
from odibi_dagster.automation import automation_condition_for

__all__ = ["OdibiTranslator", "OdibiTranslatorSettings"]


@dataclass(frozen=True)
class OdibiTranslatorSettings:
    """Switches for the default translation.

    Args:
        key_prefix: parts put in front of every asset key (``["odibi"]`` gives ``odibi/sales/x``).
        tags_from_node_tags: turn the node's ``tags: [daily]`` into asset tags ``{"daily": ""}``,
            so ``--select tag:daily`` works.
    """

    key_prefix: tuple[str, ...] = ()
    tags_from_node_tags: bool = True


class OdibiTranslator:
    """Maps a node of a loaded project to an :class:`dagster.AssetSpec`.

    Subclass it and override :meth:`get_asset_spec`, starting from ``super()``'s spec:

    Example:
        .. code-block:: python

            class TeamTranslator(OdibiTranslator):
                def get_asset_spec(self, project, node):
                    spec = super().get_asset_spec(project, node)
                    return spec.replace_attributes(owners=["team:data-eng"])

            defs = defs_from_project("odibi.yaml", translator=TeamTranslator())
    """

    def __init__(self, settings: OdibiTranslatorSettings | None = None) -> None:
        self.settings = settings or OdibiTranslatorSettings()

    def get_asset_spec(self, project: Any, node: Any) -> dg.AssetSpec:
        """The asset for ``node`` (a :class:`odibi_core.graph.NodeRef`).

        Key ``[*key_prefix, pipeline, node]``, group = pipeline, deps from ``depends_on``,
        ``inputs`` and SQL references, tags from the node's tags, kinds = engine and write format.
        """
        config = node.config
        pipeline = project.config.pipeline(node.pipeline)
        return dg.AssetSpec(
            key=self._key(node.pipeline, node.name),
            deps=[self._key(*up.key.split(".", 1)) for up in project.graph.upstream(node.key)],
            description=config.description or pipeline.description,
            group_name=node.pipeline,
            tags=self._tags(config),
            kinds=self._kinds(project, config),
            metadata=self._metadata(project, node, pipeline),
            automation_condition=self.get_automation_condition(project, node),
        )

    def get_asset_check_specs(self, project: Any, node: Any, asset_key: dg.AssetKey
                              ) -> list[dg.AssetCheckSpec]:
        """One asset check per contract and validation test of ``node``, on ``asset_key``.

        Contracts always block downstream assets; tests block when ``on_fail: fail``.

        Example:
            .. code-block:: python

                class NoChecks(OdibiTranslator):
                    def get_asset_check_specs(self, project, node, asset_key):
                        return []  # tests still run; they just are not asset checks
        """
        from odibi_dagster.checks import build_check_specs

        return build_check_specs(node.config, asset_key)

    def get_retry_policy(self, project: Any, node: Any) -> dg.RetryPolicy | None:
        """Dagster retries for ``node`` from the project ``retry`` block and the node's override.

        Only errors odibi marks transient are retried; the asset body opts permanent ones out.
        """
        from odibi_dagster.retry import build_retry_policy

        return build_retry_policy(project.config.retry_for(node.config))

    def get_automation_condition(self, project: Any, node: Any
                                 ) -> dg.AutomationCondition | None:
        """The node's declarative automation (its ``automation:`` block), or None (the default:
        the node runs when a job, schedule or sensor runs it)."""
        return automation_condition_for(node.config.automation)

    # ---- private helpers -------------------------------------------------------------------
    def _key(self, pipeline: str, node: str) -> dg.AssetKey:
        return dg.AssetKey([*self.settings.key_prefix, pipeline, node])

    def _tags(self, config: Any) -> dict[str, str]:
        if not self.settings.tags_from_node_tags:
            return {}
        return {tag: "" for tag in config.tags or ()}

    @staticmethod
    def _kinds(project: Any, config: Any) -> set[str]:
        kinds = {project.config.engine}
        if config.write is not None:
            kinds.add(config.write.format)
        return kinds

    @staticmethod
    def _metadata(project: Any, node: Any, pipeline: Any) -> dict[str, Any]:
        config = node.config
        meta: dict[str, Any] = {md.PIPELINE: node.pipeline, md.NODE: node.name,
                                md.ENGINE: project.config.engine}
        if pipeline.layer:
            meta[md.LAYER] = pipeline.layer
        if config.write is not None:
            write = plan_write(config)
            assert write is not None
            meta[md.TARGET] = write.display_target
            meta[md.FORMAT] = write.format
            meta[md.WRITE_MODE] = write.mode
        return meta
