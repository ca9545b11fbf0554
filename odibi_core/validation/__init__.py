"""Data quality (SPEC §6): contracts and validation tests evaluated in one pass, quarantine, gate.

- :mod:`~odibi_core.validation.checks`: one class per test ``type``;
- :mod:`~odibi_core.validation.evaluate`: every test of a node in one pass -> ``ValidationResult``;
- :mod:`~odibi_core.validation.quarantine`: split, annotate and write failing rows;
- :mod:`~odibi_core.validation.gate`: the pass-rate gate;
- :mod:`~odibi_core.validation.history`: earlier runs (volume_drop, schema) from ``system``.

Everything goes through the :class:`~odibi_core.engines.base.Engine` interface; no module here
knows which engine it runs on.
"""

from odibi_core.validation.checks import build_check
from odibi_core.validation.evaluate import (
    Evaluation,
    EvaluationContext,
    evaluate_tests,
    failure_error,
)
from odibi_core.validation.gate import decide_gate, gate_error
from odibi_core.validation.history import RunHistory
from odibi_core.validation.quarantine import (
    QUARANTINE_COLUMNS,
    Split,
    batch_id_for,
    split_rows,
    write_quarantine,
)

__all__ = [
    "QUARANTINE_COLUMNS",
    "Evaluation",
    "EvaluationContext",
    "RunHistory",
    "Split",
    "batch_id_for",
    "build_check",
    "decide_gate",
    "evaluate_tests",
    "failure_error",
    "gate_error",
    "split_rows",
    "write_quarantine",
]
