"""The story as Markdown (GitHub-flavoured), for reading in a repository, a PR or a terminal.

Layout: a run summary, a table of nodes, the run's ``extra`` entries, then one section per node
(error and fix first when it failed, then the retried attempts, write target, timings, schema,
sample rows, SQL and its ``extra`` entries). Text from the data is escaped so that it shows
literally: no value can open a table cell, a link or an HTML tag.
"""

from __future__ import annotations

import re
from typing import Any

from odibi_core.results import ErrorInfo, NodeResult
from odibi_core.story import _format as fmt
from odibi_core.story.dag import dag_mermaid
from odibi_core.story.model import RunStory

__all__ = ["render_markdown"]

# Markdown punctuation that could change how text renders. "_" only at a word edge (order_id stays
# readable); "&" only where it would start an entity.
_SPECIAL = re.compile(r"[\\`*|<\[\]~]|(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])|&(?=#?\w+;)")
# What turns a paragraph into a heading, quote, list or rule when it starts a line.
_BLOCK_START = re.compile(r"^(?:[#>+=-]|\d+(?=[.)]))")


def render_markdown(story: RunStory) -> str:
    """Render ``story`` as a Markdown document (ends with a newline)."""
    out: list[str] = [f"# Run story: {_text(story.project)} / {_text(story.pipeline)}", ""]
    out += _facts(fmt.summary_facts(story))
    if story.edges and (mermaid := dag_mermaid(story)):
        out += ["## Graph", ""] + _fence(mermaid, "mermaid")
    out += ["## Nodes", ""]
    if story.nodes:
        rows = tuple((node.node, *fmt.node_row(node)) for node in story.nodes)
        out += _table(fmt.Table(fmt.NODE_TABLE_COLUMNS, rows))
    else:
        out += ["No nodes ran.", ""]
    if story.extra:
        out += ["## Run details", ""]
        out += _extras(story.extra, level=3)
    for index, node in enumerate(story.nodes, 1):
        out += _node_section(index, node)
    return "\n".join(out).rstrip("\n") + "\n"


def _node_section(index: int, node: NodeResult) -> list[str]:
    out = [f"## {index}. {_code(node.node)} — {node.status}", ""]
    out += _facts(fmt.node_facts(node))
    if node.error:
        out += ["### Error", ""] + _error(node.error, fmt.error_kind(node))
    retries = fmt.retries_table(node)
    if retries is not None:
        out += ["### Retries", ""] + _table(retries)
    if node.write:
        out += ["### Write target", ""] + _facts(fmt.write_facts(node.write))
    for title, table in (
        ("Timings", fmt.timings_table(node)),
        ("Schema", fmt.schema_table(node)),
        ("Sample rows", fmt.sample_table(node)),
    ):
        if table is not None:
            out += [f"### {title}", ""] + _table(table)
    if node.sql_executed:
        out += ["### SQL", ""]
        for statement in node.sql_executed:
            out += _fence(statement, "sql")
    out += _extras(node.extra, level=3)
    return out


def _error(error: ErrorInfo, kind: str) -> list[str]:
    where = f" in phase {_code(error.phase)}" if error.phase else ""
    out = [f"{_code(error.type)}{where} ({kind})", ""]
    out += _fence(error.message, "text")
    if error.fix:
        out += [f"**Fix:** {_text(error.fix)}", ""]
    return out


def _extras(extra: dict[str, Any], *, level: int) -> list[str]:
    out: list[str] = []
    for key, value in extra.items():
        out += [f"{'#' * level} {_text(fmt.humanise(str(key)))}", ""]
        if key == "profile" and fmt.is_profile(value) and (drawn := _profile(value)) is not None:
            out += [drawn.rstrip("\n"), ""]
            continue
        block = fmt.block_of(value)
        if isinstance(block, fmt.Table):
            out += _table(block)
        elif isinstance(block, list):
            out += [f"- {_text(item)}" for item in block] + [""]
        else:
            out += [_paragraph(block), ""]
    return out


def _profile(profile: dict[str, Any]) -> str | None:
    """The profile as Markdown; None (render it generically) without the profiling module."""
    try:
        from odibi_core.profiling.render import profile_markdown
    except ImportError:
        return None
    return profile_markdown(profile)


def _facts(facts: list[tuple[str, str]]) -> list[str]:
    return [f"- **{label}:** {_text(value)}" for label, value in facts] + [""]


def _table(table: fmt.Table) -> list[str]:
    lines = [
        "| " + " | ".join(_text(col) for col in table.columns) + " |",
        "|" + "|".join(" --- " for _ in table.columns) + "|",
    ]
    lines += ["| " + " | ".join(_text(cell) for cell in row) + " |" for row in table.rows]
    return lines + [""]


def _text(value: str) -> str:
    """Escape ``value`` for inline Markdown; line breaks become ``<br>`` (valid inside cells)."""
    escaped = _SPECIAL.sub(lambda match: "\\" + match.group(0), value)
    return "<br>".join(escaped.splitlines())


def _paragraph(value: str) -> str:
    """Like :func:`_text`, for text that starts a line."""
    text = _text(value)
    match = _BLOCK_START.match(text)
    if match is None:
        return text
    if match.group(0).isdigit():  # "1." -> "1\." keeps the number, drops the list
        return text[: match.end()] + "\\" + text[match.end() :]
    return "\\" + text


def _code(value: str) -> str:
    """``value`` as a code span, whatever backticks it holds."""
    value = " ".join(value.splitlines())
    ticks = "`" * (_longest_run(value, "`") + 1)
    pad = " " if value.startswith("`") or value.endswith("`") else ""
    return f"{ticks}{pad}{value}{pad}{ticks}"


def _fence(content: str, language: str) -> list[str]:
    fence = "`" * max(3, _longest_run(content, "`") + 1)
    return [f"{fence}{language}", content.rstrip("\n"), fence, ""]


def _longest_run(text: str, char: str) -> int:
    runs = re.findall(f"{re.escape(char)}+", text)
    return max((len(run) for run in runs), default=0)
