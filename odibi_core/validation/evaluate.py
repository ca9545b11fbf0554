"""Every test of a node evaluated in one pass over the data -> :class:`ValidationResult`.

Row-level tests become one boolean flag column each, all computed by ONE engine call
(:meth:`~odibi_core.engines.base.Engine.add_row_flags`: one DuckDB query on pandas); counts and
samples are read from the flags. Aggregate tests share one aggregate query. ``fail_fast`` is
applied afterwards, in declared order: tests after the first failing one are reported as skipped
and not acted on (no quarantine, no failure), so it changes what is reported, not the work done.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from difflib import get_close_matches
from typing import Any

from odibi_core.engines.base import Engine
from odibi_core.errors import DataError, OdibiError
from odibi_core.results import CheckKind, TestResult, ValidationResult
from odibi_core.storage.requests import Frame
from odibi_core.validation.checks import AggregateCheck, AggregateFacts, Check, RowCheck, Verdict
from odibi_core.validation.checks import build_check
from odibi_core.validation.history import RunHistory

__all__ = ["Evaluation", "EvaluationContext", "SAMPLE_SIZE", "effective_on_fail",
           "evaluate_tests", "failure_error"]

SAMPLE_SIZE = 5  # failing values kept per test
_FLAG_PREFIX = "__odibi_t"


@dataclass(frozen=True)
class EvaluationContext:
    """Where the tests run: the node (for messages), which tests, the clock, the history."""

    node: str  # pipeline.node
    kind: CheckKind = "validation"
    now: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc))
    history: RunHistory | None = None


@dataclass
class Evaluation:
    """What evaluating a node's tests produced.

    ``flagged`` is the frame plus one boolean column per row-level test (True = passes), or None
    when there is no row-level test; ``flags`` maps each acted-on row-level test's index to its
    flag column.
    """

    result: ValidationResult
    frame: Frame
    flagged: Frame | None
    checks: list[Check]
    flags: dict[int, str]

    @property
    def all_flags(self) -> list[str]:
        """Every flag column of the flagged frame (acted on or not)."""
        return [f"{_FLAG_PREFIX}{i}" for i, c in enumerate(self.checks) if c.row_level]

    def flags_for(self, on_fail: str | None = None) -> list[str]:
        """Flags of the acted-on row-level tests (with this effective ``on_fail``)."""
        tests = self.result.tests
        return [flag for i, flag in self.flags.items()
                if on_fail is None or tests[i].on_fail == on_fail]

    def row_checks(self) -> list[tuple[str, RowCheck]]:
        """(flag, check) of the acted-on row-level tests, in declared order."""
        return [(flag, self.checks[i]) for i, flag in self.flags.items()]  # type: ignore[misc]


def evaluate_tests(engine: Engine, frame: Frame, tests: Sequence[Any],
                   context: EvaluationContext, *, mode: str = "fail", fail_fast: bool = False,
                   cache: bool = False) -> Evaluation:
    """Evaluate ``tests`` (config models) on ``frame`` in one pass.

    Args:
        engine: the engine that owns ``frame``.
        frame: the node's input (contracts) or output (validation).
        tests: the test models, in declared order.
        context: node, kind, clock and history.
        mode: ``warn`` turns every ``on_fail: fail`` into ``warn`` (validation.mode).
        fail_fast: stop at the first failing test in declared order.
        cache: cache the frame before the passes (matters on Spark; a no-op on eager engines).

    Raises:
        DataError: a test names a column the frame lacks, or its SQL does not run.
    """
    checks = [build_check(test) for test in tests]
    _check_columns(engine, frame, checks, context)
    if cache:
        frame = engine.cache(frame)
    row = {i: c for i, c in enumerate(checks) if isinstance(c, RowCheck)}
    flagged, summary = None, None
    if row:
        predicates = [c.predicate(f"{_FLAG_PREFIX}{i}", engine) for i, c in row.items()]
        flagged = _flag(engine, frame, predicates, checks, context)
        summary = engine.summarize_flags(
            flagged, {f"{_FLAG_PREFIX}{i}": c.sample_columns() for i, c in row.items()},
            sample_size=SAMPLE_SIZE * 4)
        total = summary.rows
    else:
        total = engine.count(frame)
    facts: AggregateFacts | None = None
    results: list[TestResult] = []
    stopped: str | None = None
    for index, check in enumerate(checks):
        on_fail = effective_on_fail(check.test.on_fail, mode)
        if stopped is not None:
            results.append(TestResult(
                name=check.name, type=check.type, kind=context.kind, index=index,
                on_fail=on_fail, passed=False, skipped=True, total_rows=total,
                failing_rows=None, pass_rate=0.0,
                message=f"not evaluated: fail_fast stopped at '{stopped}'"))
            continue
        if isinstance(check, RowCheck):
            flag = f"{_FLAG_PREFIX}{index}"
            failing = summary.failing[flag]  # type: ignore[union-attr]
            verdict = check.judge(failing, total)
            results.append(TestResult(
                name=check.name, type=check.type, kind=context.kind, index=index,
                on_fail=on_fail, passed=verdict.passed, total_rows=total, failing_rows=failing,
                pass_rate=(total - failing) / total if total else 1.0,
                sample=_distinct(summary.samples[flag]),  # type: ignore[union-attr]
                message=verdict.message))
        else:
            if facts is None:
                facts = _aggregate_facts(engine, frame, total, checks, context)
            verdict = _judge_aggregate(check, index, facts, context)  # type: ignore[arg-type]
            results.append(TestResult(
                name=check.name, type=check.type, kind=context.kind, index=index,
                on_fail=on_fail, passed=verdict.passed, total_rows=total, failing_rows=None,
                pass_rate=1.0 if verdict.passed else 0.0, message=verdict.message,
                observed=verdict.observed))
        if fail_fast and not results[-1].passed:
            stopped = check.name
    acted = {i: f"{_FLAG_PREFIX}{i}" for i in row if not results[i].skipped}
    if not acted:
        passing = total
    elif summary is not None and summary.passing is not None and len(acted) == len(row):
        passing = summary.passing  # counted with the flags, in the same pass
    else:
        passing = engine.count_rows(flagged, all_true=list(acted.values()))
    result = ValidationResult(kind=context.kind, total_rows=total, tests=tuple(results),
                              rows_passing=passing, stopped_at=stopped)
    return Evaluation(result=result, frame=frame, flagged=flagged, checks=checks, flags=acted)


def failure_error(result: ValidationResult, *, node: str,
                  tests: Sequence[TestResult] | None = None) -> DataError:
    """The error for failing tests: each with its location, failing rows and sample values.

    Args:
        result: the evaluated tests.
        node: ``pipeline.node``.
        tests: the failures to report (default: every failed test of ``result``).
    """
    failed = list(tests if tests is not None else result.failed_tests)
    lines = "\n".join(f"  - {_describe(t)}" for t in failed)
    count = f"{len(failed)} {'test' if len(failed) == 1 else 'tests'}"
    if result.kind == "contract":
        return DataError(
            f"The input of {node} breaks {count.replace('test', 'contract')} "
            f"({result.total_rows} rows checked):\n{lines}",
            fix="Contracts check the input before the transform and always block: fix the "
                "source data upstream, or relax the contract.",
            node=node)
    return DataError(
        f"Validation of {node} failed: {count} with on_fail: fail did not pass "
        f"({result.total_rows} rows checked); nothing was written:\n{lines}",
        fix="Fix the data (or the transform) so these rows pass; or set on_fail: warn to only "
            "record the failure, or on_fail: quarantine to move the failing rows aside.",
        node=node)


# --- helpers -----------------------------------------------------------------------------------


def effective_on_fail(on_fail: str, mode: str) -> str:
    """A test's action under ``validation.mode``: ``warn`` turns failing tests into warnings."""
    return "warn" if mode == "warn" and on_fail == "fail" else on_fail


def _check_columns(engine: Engine, frame: Frame, checks: list[Check],
                   context: EvaluationContext) -> None:
    available = engine.columns(frame)
    problems = []
    for index, check in enumerate(checks):
        for column in check.columns():
            if column not in available:
                close = get_close_matches(column, available, n=1)
                hint = f" Did you mean '{close[0]}'?" if close else ""
                problems.append(f"test '{check.name}' ({_where(context.kind, index)}) names "
                                f"column '{column}', which the {_frame_name(context)} does not "
                                f"have.{hint}")
    if problems:
        raise DataError(
            "; ".join(problems) + f" Available columns: {', '.join(available)}.",
            fix="Name existing columns in the tests (columns are case-sensitive).",
            node=context.node)


def _flag(engine: Engine, frame: Frame, predicates: list[Any], checks: list[Check],
          context: EvaluationContext) -> Frame:
    try:
        return engine.add_row_flags(frame, predicates)
    except OdibiError as exc:
        # All tests ran in one query: find the one whose SQL does not run, on no rows.
        empty = engine.head(frame, 0)
        for predicate in predicates:
            index = int(predicate.flag[len(_FLAG_PREFIX):])
            try:
                engine.add_row_flags(empty, [predicate])
            except OdibiError as inner:
                check = checks[index]
                raise DataError(
                    f"Test '{check.name}' ({_where(context.kind, index)}) cannot be evaluated "
                    f"on the {_frame_name(context)}: {_first_line(inner)}\n"
                    f"  SQL: {predicate.sql}",
                    fix=_sql_fix(check), node=context.node) from exc
        raise DataError(exc.message, fix=exc.fix, node=context.node) from exc


def _aggregate_facts(engine: Engine, frame: Frame, total: int, checks: list[Check],
                     context: EvaluationContext) -> AggregateFacts:
    expressions = {f"m{i}_{name}": sql for i, c in enumerate(checks)
                   if isinstance(c, AggregateCheck) for name, sql in c.metrics().items()}
    try:
        metrics = engine.aggregate(frame, expressions)
    except Exception as exc:  # noqa: BLE001 - find the test whose aggregate does not run
        for i, check in enumerate(checks):
            if not isinstance(check, AggregateCheck) or not check.metrics():
                continue
            try:
                engine.aggregate(frame, {f"m{i}_{n}": s for n, s in check.metrics().items()})
            except Exception as inner:  # noqa: BLE001
                raise DataError(
                    f"Test '{check.name}' ({_where(context.kind, i)}) cannot be computed on "
                    f"the {_frame_name(context)}: {_first_line(inner)}",
                    fix=_sql_fix(check), node=context.node) from exc
        raise
    return AggregateFacts(rows=total, columns=engine.columns(frame), metrics=metrics,
                          now=context.now, kind=context.kind, history=context.history)


def _judge_aggregate(check: AggregateCheck, index: int, facts: AggregateFacts,
                     context: EvaluationContext) -> Verdict:
    own = {name: facts.metrics[f"m{index}_{name}"] for name in check.metrics()}
    try:
        return check.judge(facts, own)
    except DataError as exc:
        raise DataError(f"Test '{check.name}' ({_where(context.kind, index)}): {exc.message}",
                        fix=exc.fix, node=context.node) from exc


def _first_line(exc: BaseException) -> str:
    """The gist of an engine error: its first line (DuckDB appends candidate lists)."""
    text = (exc.message if isinstance(exc, OdibiError) else str(exc)).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _distinct(rows: list[dict[str, Any]]) -> tuple[Any, ...]:
    """Up to SAMPLE_SIZE distinct failing values: a scalar for one column, else a dict."""
    seen: list[Any] = []
    keys: set[str] = set()
    for row in rows:
        value = next(iter(row.values())) if len(row) == 1 else row
        key = json.dumps(value, sort_keys=True, default=str)
        if key not in keys:
            keys.add(key)
            seen.append(value)
        if len(seen) == SAMPLE_SIZE:
            break
    return tuple(seen)


def _describe(test: TestResult) -> str:
    text = f"'{test.name}' ({test.type}, {test.location}): {test.message}"
    if test.sample:
        text += f"; sample failing values: {json.dumps(list(test.sample), default=str)}"
    return text


def _where(kind: str, index: int) -> str:
    return f"contracts[{index}]" if kind == "contract" else f"validation.tests[{index}]"


def _frame_name(context: EvaluationContext) -> str:
    return "input" if context.kind == "contract" else "output"


def _sql_fix(check: Check) -> str:
    if check.type == "custom_sql":
        return "Fix the condition: it is SQL over the frame's columns, TRUE for a good row."
    if check.type == "regex_match":
        return ("Use a pattern the engine's regex dialect accepts (RE2 on pandas: no "
                "look-arounds or back-references).")
    return "Check the column's type against the test (numbers for range/distribution, dates " \
        "or timestamps for freshness)."
