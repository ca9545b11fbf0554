"""The five metric families of a run and one sample of them: what every metrics backend sends
(see :mod:`odibi_core.observability.metrics` for the families' labels)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["FAMILIES", "Kind", "Sample"]

Kind = Literal["duration", "counter"]

#: family name -> (kind, help text)
FAMILIES: dict[str, tuple[Kind, str]] = {
    "odibi_pipeline_duration_seconds": (
        "duration", "Wall time of a pipeline's part of a run, from its first node's start to "
                    "its last node's end."),
    "odibi_node_duration_seconds": ("duration", "Wall time of a node run."),
    "odibi_rows_processed_total": (
        "counter", "Rows of a node: read or received (stage=in), after transform and "
                   "validation (stage=out), written to the target (stage=written)."),
    "odibi_validation_failures_total": (
        "counter", "Failed contract and validation tests (1 per failed test, 0 per passed one)."),
    "odibi_quarantine_rows_total": (
        "counter", "Rows that failed an on_fail: quarantine test."),
}


@dataclass(frozen=True)
class Sample:
    """One value of a family, with its labels (in the documented order)."""

    family: str
    value: float
    labels: tuple[tuple[str, str], ...]

    @property
    def kind(self) -> Kind:
        return FAMILIES[self.family][0]
