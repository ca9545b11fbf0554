"""Text shared by the Markdown and HTML renderers: formatted values and the shape of each block.

Both renderers show the same facts; this module decides *what* they say, each renderer only
decides how to mark it up (and how to escape it).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from odibi_core.results import ColumnSchema, NodeResult, WriteResult
from odibi_core.story.model import RunStory, parse_timestamp

NONE = "—"
CELL_LIMIT = 200  # characters of one sample value shown in a table cell


@dataclass(frozen=True)
class Table:
    """Rows of already formatted text, one cell per column."""

    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


Block = str | Table | list[str]  # a paragraph, a table, or a bullet list


def format_seconds(seconds: float | None) -> str:
    if seconds is None:
        return NONE
    if seconds == 0:
        return "0 s"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms" if seconds >= 0.0005 else "<1 ms"
    if seconds < 60:
        return f"{seconds:.2f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def format_count(count: int | None) -> str:
    return NONE if count is None else f"{count:,}"


def format_timestamp(value: str | None) -> str:
    if not value:
        return NONE
    try:
        return parse_timestamp(value).strftime("%Y-%m-%d %H:%M:%S UTC")
    except ValueError:
        return value


def format_value(value: Any, *, limit: int | None = None) -> str:
    """One value as text: JSON spelling for null/booleans, compact JSON for nested data."""
    if value is None:
        text = "null"
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, float):
        text = repr(value)
    elif isinstance(value, (dict, list, tuple)):
        text = json.dumps(value, ensure_ascii=False, default=str)
    else:
        text = str(value)
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


def humanise(key: str) -> str:
    """``dead_letter`` -> ``Dead letter``."""
    text = key.replace("_", " ").strip()
    return text[:1].upper() + text[1:] if text else key


def union_keys(rows: Iterable[dict[str, Any]]) -> tuple[str, ...]:
    keys: dict[str, None] = {}
    for row in rows:
        keys.update(dict.fromkeys(str(key) for key in row))
    return tuple(keys)


def records_table(rows: Sequence[dict[str, Any]], *, limit: int | None = None) -> Table:
    columns = union_keys(rows)
    return Table(columns, tuple(_record_cells(row, columns, limit) for row in rows))


def _record_cells(row: dict[str, Any], columns: tuple[str, ...], limit: int | None) -> tuple[str, ...]:
    return tuple(format_value(row[col], limit=limit) if col in row else "" for col in columns)


def block_of(value: Any) -> Block:
    """Pick a shape for an ``extra`` value, so new features render without renderer changes.

    A scalar is a paragraph; a dict of dicts is a table with a ``name`` column; any other dict is a
    key/value table; a list of dicts is a table; any other list is a bullet list. Deeper nesting is
    shown as compact JSON inside a cell.
    """
    if isinstance(value, (dict, list, tuple)) and not value:
        return "(none)"
    if isinstance(value, dict):
        if all(isinstance(item, dict) for item in value.values()):
            columns = union_keys(value.values())
            rows = tuple((str(name), *_record_cells(item, columns, None)) for name, item in value.items())
            return Table(("name", *columns), rows)
        return Table(("key", "value"), tuple((str(k), format_value(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        if all(isinstance(item, dict) for item in value):
            return records_table(value)
        return [format_value(item) for item in value]
    return format_value(value)


SUMMARY_CARDS = ("Status", "Duration", "Nodes", "Rows written")  # the HTML shows these as cards


def summary_facts(story: RunStory) -> list[tuple[str, str]]:
    counts = story.status_counts
    facts = [
        ("Project", story.project),
        ("Pipeline", story.pipeline),
        ("Run id", story.run_id),
    ]
    if story.parent_run_id:
        facts.append(("Parent run", story.parent_run_id))
    facts += [
        ("Environment", story.environment or NONE),
        ("Engine", story.engine),
        ("Status", story.status + (" (dry run)" if story.dry_run else "")),
        ("Started", format_timestamp(story.started_at)),
        ("Finished", format_timestamp(story.finished_at)),
        ("Duration", format_seconds(story.duration_seconds)),
        ("Nodes", f"{counts['success']} ok, {counts['failed']} failed, {counts['skipped']} skipped"),
        ("Rows written", format_count(story.rows_written)),
    ]
    retried = [(node.node, len(node.retries)) for node in story.nodes if node.retries]
    if retried:
        total = sum(count for _, count in retried)
        facts.append(("Retries", f"{total} ({', '.join(f'{n} ×{c}' for n, c in retried)})"))
    return facts


NODE_TABLE_COLUMNS = ("Node", "Status", "Duration", "Rows in", "Rows out", "Rows written", "Tests",
                      "Quarantined", "Dead letters", "Retries", "Delta version")


def node_row(node: NodeResult) -> tuple[str, ...]:
    """The cells of ``node`` in the node table, after its name (see NODE_TABLE_COLUMNS)."""
    return (
        node.status,
        format_seconds(node.duration_seconds),
        format_count(node.rows_in),
        format_count(node.rows_out),
        format_count(node.rows_written),
        tests_text(node),
        format_count(quarantined_rows(node)),
        format_count(dead_letter_rows(node)),
        str(len(node.retries)) if node.retries else NONE,
        NONE if node.delta_version is None else str(node.delta_version),
    )


def quarantined_rows(node: NodeResult) -> int | None:
    """Rows that failed a quarantine test; None when the node has no quarantine."""
    return node.quarantine.rows if node.quarantine is not None else None


def dead_letter_rows(node: NodeResult) -> int | None:
    """Records the node's read set aside as dead letters; None when it has no dead letters."""
    summary = node.extra.get("dead_letters")
    bad = summary.get("bad_records") if isinstance(summary, dict) else None
    return bad if isinstance(bad, int) else None


def tests_text(node: NodeResult) -> str:
    """Contracts and validation tests together: ``4 passed`` or ``3 of 4 passed`` (a test that
    failed with ``on_fail: warn`` or ``quarantine`` did not fail the node)."""
    tests = [test for result in (node.contracts, node.validation) if result is not None
             for test in result.tests if not test.skipped]
    if not tests:
        return NONE
    passed = sum(1 for test in tests if not test.failed)
    return f"{len(tests)} passed" if passed == len(tests) else f"{passed} of {len(tests)} passed"


def node_facts(node: NodeResult) -> list[tuple[str, str]]:
    facts = [
        ("Status", node.status + (" (dry run)" if node.dry_run else "")),
        ("Started", format_timestamp(node.started_at)),
        ("Duration", format_seconds(node.duration_seconds)),
        ("Engine", node.engine),
    ]
    counts = (("Rows in", node.rows_in), ("Rows out", node.rows_out), ("Rows written", node.rows_written),
              ("Quarantined rows", quarantined_rows(node)), ("Dead letters", dead_letter_rows(node)))
    facts += [(label, format_count(count)) for label, count in counts if count is not None]
    if node.delta_version is not None:
        facts.append(("Delta version", str(node.delta_version)))
    if (tests := tests_text(node)) != NONE:
        facts.append(("Tests", tests))
    if node.skipped_reason:
        facts.append(("Skipped because", node.skipped_reason))
    attempt = attempt_text(node)
    if attempt is not None:
        facts.append(("Attempt", attempt.removeprefix("attempt ")))
    return facts


def attempt_text(node: NodeResult) -> str | None:
    """``attempt 3 of 3 (2 retries)``; None for a first attempt nothing retried or will retry."""
    retries = len(node.retries)
    if node.attempt <= 1 and not retries and not (node.status == "failed"
                                                   and node.max_attempts > 1):
        return None
    text = f"attempt {node.attempt} of {node.max_attempts}"
    if retries:
        text += f" ({retries} {'retry' if retries == 1 else 'retries'})"
    return text


def error_kind(node: NodeResult) -> str:
    """Whether the node's error is transient and what became of that: retried, or not."""
    error = node.error
    if error is not None and error.internal:
        return "internal error: most likely a bug in odibi"
    if error is None or not error.transient:
        return "not transient"
    if node.max_attempts <= 1:
        return "transient, not retried: retries are off"
    if node.attempt < node.max_attempts:
        return f"transient, will be retried (attempt {node.attempt} of {node.max_attempts})"
    return f"transient, gave up after {node.attempt} attempts"


RETRY_COLUMNS = ("Attempt", "Failed at", "Error kind", "Error", "Retried after")


def retries_table(node: NodeResult) -> Table | None:
    """One row per attempt of the node that failed transiently and was retried."""
    if not node.retries:
        return None
    rows = tuple((
        f"{r.attempt} of {node.max_attempts}",
        format_timestamp(r.failed_at),
        r.category,
        format_value(f"{r.error_type}: {' '.join(r.error.split())}", limit=CELL_LIMIT),
        format_seconds(r.delay_seconds),
    ) for r in node.retries)
    return Table(RETRY_COLUMNS, rows)


def write_facts(write: WriteResult) -> list[tuple[str, str]]:
    facts = [
        ("Connection", write.connection),
        ("Location", write.location),
        ("Format", write.format),
        ("Mode", write.mode),
        ("Rows written", format_count(write.rows_written)),
    ]
    if write.delta_version is not None:
        facts.append(("Delta version", str(write.delta_version)))
    if write.files_written is not None:
        facts.append(("Files written", format_count(write.files_written)))
    if write.batch_id is not None:
        facts.append(("Batch", write.batch_id))
    if write.skipped == "duplicate_batch":
        facts.append(("Skipped", "duplicate batch: it was committed before, nothing appended"))
    elif write.skipped == "unchanged":
        facts.append(("Skipped", "input and node unchanged (skip_if_unchanged)"))
    elif write.skipped == "no_rows_unknown_types":
        facts.append(("Skipped", "no rows, and the column types are unknown (e.g. a csv file "
                                  "with a header only): the table was not created; the first "
                                  "write with rows creates it with their types"))
    elif write.skipped == "no_rows":
        facts.append(("Skipped", "no rows to append: nothing committed, the target is as it was"))
    if write.transaction is not None:
        facts.append(("Delta transaction", write.transaction))
    return facts


def schema_table(node: NodeResult) -> Table | None:
    """Input and output schema side by side: one row per column, output order first."""
    if not node.schema_in and not node.schema_out:
        return None
    before = {col.name: col for col in node.schema_in}
    after = {col.name: col for col in node.schema_out}
    names = list(after) + [name for name in before if name not in after]
    rows = tuple((name, _type_of(before.get(name)), _type_of(after.get(name))) for name in names)
    return Table(("Column", "Type in", "Type out"), rows)


def _type_of(column: ColumnSchema | None) -> str:
    if column is None:
        return NONE
    return column.type if column.nullable else f"{column.type} not null"


def timings_table(node: NodeResult) -> Table | None:
    if not node.timings:
        return None
    return Table(("Phase", "Duration"), tuple((t.phase, format_seconds(t.seconds)) for t in node.timings))


def sample_table(node: NodeResult) -> Table | None:
    return records_table(node.sample_rows, limit=CELL_LIMIT) if node.sample_rows else None


def is_profile(value: Any) -> bool:
    """True for a profile as ``odibi_core.profiling`` stores it (its columns, or its error)."""
    return isinstance(value, dict) and (isinstance(value.get("columns"), list) or "error" in value)
