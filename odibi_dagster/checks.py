"""Contracts and validation tests as Dagster asset checks.

Every contract and every ``validation.tests`` entry of a node is one ``AssetCheckSpec`` on the
node's asset. Contracts always block; a test blocks when its ``on_fail`` is ``fail``. ``warn``
tests report with WARN severity; ``quarantine`` tests do not block (the failing rows were moved
aside and the valid rows went on).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import dagster as dg

__all__ = ["NodeCheck", "build_check_results", "build_check_specs", "node_checks"]

CheckKind = Literal["contract", "validation"]


@dataclass(frozen=True)
class NodeCheck:
    """One declared test of a node and the asset check it becomes."""

    kind: CheckKind
    index: int  # position in its list (contracts or validation.tests)
    name: str  # the asset check's name
    test: Any  # the test's config model
    blocking: bool

    @property
    def severity(self) -> dg.AssetCheckSeverity:
        return dg.AssetCheckSeverity.ERROR if self.blocking else dg.AssetCheckSeverity.WARN


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]+", "_", text).strip("_").lower() or "test"


def node_checks(node: Any) -> list[NodeCheck]:
    """The checks of ``node`` (a NodeConfig) in declared order: contracts, then validation tests.

    Names are the test's ``name`` (or type), ``contract_``-prefixed for contracts, with ``_2``,
    ``_3``... when a name repeats (two ``not_null`` tests).
    """
    declared: list[tuple[CheckKind, int, Any]] = [
        ("contract", i, t) for i, t in enumerate(node.contracts or ())]
    if node.validation is not None:
        declared += [("validation", i, t) for i, t in enumerate(node.validation.tests)]
    seen: dict[str, int] = {}
    checks: list[NodeCheck] = []
    for kind, index, test in declared:
        base = _slug(test.display_name)
        base = f"contract_{base}" if kind == "contract" else base
        seen[base] = seen.get(base, 0) + 1
        name = base if seen[base] == 1 else f"{base}_{seen[base]}"
        # `validation.mode: warn` turns every `fail` into a warning (SPEC §6).
        fails = test.on_fail == "fail" and (kind == "contract" or node.validation.mode == "fail")
        blocking = kind == "contract" or fails
        checks.append(NodeCheck(kind, index, name, test, blocking))
    return checks


def build_check_specs(node: Any, asset_key: dg.AssetKey,
                      checks: Sequence[NodeCheck] | None = None) -> list[dg.AssetCheckSpec]:
    return [
        dg.AssetCheckSpec(
            check.name, asset=asset_key, blocking=check.blocking,
            description=_describe(check),
            metadata={"odibi/test_type": check.test.type, "odibi/check_kind": check.kind,
                      "odibi/on_fail": getattr(check.test, "on_fail", "fail")},
        )
        for check in (checks if checks is not None else node_checks(node))
    ]


def _describe(check: NodeCheck) -> str:
    fields = check.test.model_dump(exclude={"type", "name", "on_fail"}, exclude_none=True)
    where = "input contract" if check.kind == "contract" else "output test"
    detail = ", ".join(f"{k}={v}" for k, v in fields.items())
    return f"{check.test.type} ({where}{'; ' + detail if detail else ''})"


def build_check_results(node: Any, asset_key: dg.AssetKey, result: Any,
                        checks: Sequence[NodeCheck] | None = None) -> list[dg.AssetCheckResult]:
    """An ``AssetCheckResult`` for every check whose test was evaluated in ``result``.

    Tests ``fail_fast`` did not reach are reported as not passed with WARN severity (they were
    not evaluated, so they cannot be called passing).
    """
    evaluated: dict[tuple[str, int], Any] = {}
    for block in (result.contracts, result.validation):
        if block is not None:
            evaluated.update({(t.kind, t.index): t for t in block.tests})
    out: list[dg.AssetCheckResult] = []
    for check in (checks if checks is not None else node_checks(node)):
        test = evaluated.get((check.kind, check.index))
        if test is None:
            continue
        metadata: dict[str, Any] = {"total_rows": test.total_rows,
                                    "pass_rate": dg.MetadataValue.float(test.pass_rate),
                                    "on_fail": test.on_fail}
        if test.failing_rows is not None:
            metadata["failing_rows"] = test.failing_rows
            metadata["passing_rows"] = test.total_rows - test.failing_rows
        if test.sample:
            metadata["failing_values_sample"] = dg.MetadataValue.json(list(test.sample))
        if test.observed is not None:
            metadata["observed"] = dg.MetadataValue.json(test.observed) \
                if isinstance(test.observed, (dict, list)) else str(test.observed)
        if test.skipped:
            out.append(dg.AssetCheckResult(
                asset_key=asset_key, check_name=check.name, passed=False,
                severity=dg.AssetCheckSeverity.WARN, metadata=metadata,
                description="Not evaluated: fail_fast stopped at an earlier failing test."))
            continue
        out.append(dg.AssetCheckResult(
            asset_key=asset_key, check_name=check.name, passed=test.passed,
            severity=check.severity, metadata=metadata, description=test.message or None))
    return out
