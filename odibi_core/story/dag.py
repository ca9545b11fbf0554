"""The pipeline's graph as a picture: a layered layout, inline SVG for HTML, Mermaid for Markdown.

Nodes are placed in columns by topological level (a node sits one column right of its deepest
upstream node) and, within a column, near the mean row of their upstream nodes. Upstream nodes of
other pipelines are drawn too, dashed, under their full key.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from odibi_core.results import NodeResult
from odibi_core.story import _format as fmt
from odibi_core.story.model import RunStory

__all__ = ["DagBox", "dag_mermaid", "dag_svg", "layout"]

BOX_W, BOX_H, COL_GAP, ROW_GAP, PAD = 190, 44, 64, 16, 12
_LABEL_LIMIT = 26
_COLOURS = {  # status -> (fill, stroke)
    "success": ("#dafbe1", "#1a7f37"),
    "failed": ("#ffebe9", "#cf222e"),
    "skipped": ("#f6f8fa", "#6e7781"),
    "running": ("#fff8c5", "#9a6700"),
    "outside": ("#ffffff", "#8c959f"),
}


@dataclass(frozen=True)
class DagBox:
    """One node of the picture; ``result`` is None for a node outside this run."""

    key: str
    label: str
    level: int
    row: int
    result: NodeResult | None
    index: int | None  # 1-based position in the story (the anchor of its details)

    @property
    def x(self) -> int:
        return PAD + self.level * (BOX_W + COL_GAP)

    @property
    def y(self) -> int:
        return PAD + self.row * (BOX_H + ROW_GAP)

    @property
    def status(self) -> str:
        return self.result.status if self.result is not None else "outside"


def layout(story: RunStory) -> tuple[list[DagBox], list[tuple[str, str]]]:
    """Boxes of the story's nodes and their graph neighbours, and the edges between them."""
    results = {story.node_key(node): (index, node) for index, node in enumerate(story.nodes, 1)}
    keys = list(results)
    edges = [(a, b) for a, b in dict.fromkeys(story.edges) if a in results or b in results]
    for a, b in edges:
        keys += [key for key in (a, b) if key not in keys]
    parents: dict[str, list[str]] = {key: [] for key in keys}
    for a, b in edges:
        parents[b].append(a)
    level = _levels(keys, parents)
    rows: dict[str, float] = {}
    columns: dict[int, list[str]] = {}
    for depth in sorted(set(level.values())):
        column = [key for key in keys if level[key] == depth]
        order = {key: position for position, key in enumerate(column)}
        column.sort(key=lambda key: (_mean([rows[p] for p in parents[key] if p in rows],
                                           default=order[key]), order[key]))
        for row, key in enumerate(column):
            rows[key] = row
        columns[depth] = column
    prefix = f"{story.pipeline}."
    boxes = [
        DagBox(key=key, label=key.removeprefix(prefix) if key in results else key,
               level=level[key], row=int(rows[key]), result=results[key][1] if key in results else None,
               index=results[key][0] if key in results else None)
        for key in keys
    ]
    return boxes, edges


def dag_svg(story: RunStory) -> str:
    """The graph as an inline ``<svg>``; empty when the story has no nodes."""
    boxes, edges = layout(story)
    if not boxes:
        return ""
    by_key = {box.key: box for box in boxes}
    width = PAD * 2 + (max(b.level for b in boxes) + 1) * (BOX_W + COL_GAP) - COL_GAP
    height = PAD * 2 + (max(b.row for b in boxes) + 1) * (BOX_H + ROW_GAP) - ROW_GAP
    parts = [
        f'<svg class="dag" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="pipeline graph">',
        '<defs><marker id="odibi-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#57606a"/>'
        "</marker></defs>",
    ]
    for a, b in edges:
        source, target = by_key[a], by_key[b]
        x1, y1 = source.x + BOX_W, source.y + BOX_H / 2
        x2, y2 = target.x - 2, target.y + BOX_H / 2
        bend = max(24.0, (x2 - x1) / 2)
        parts.append(f'<path class="edge" d="M{x1},{y1:g} C{x1 + bend:g},{y1:g} {x2 - bend:g},{y2:g} '
                     f'{x2},{y2:g}" fill="none" stroke="#57606a" stroke-width="1.3" '
                     'marker-end="url(#odibi-arrow)"/>')
    parts += [_box(box) for box in boxes]
    parts.append("</svg>")
    return "".join(parts)


def _box(box: DagBox) -> str:
    fill, stroke = _COLOURS.get(box.status, _COLOURS["outside"])
    dash = ' stroke-dasharray="4 3"' if box.result is None else ""
    node = box.result
    if node is None:
        detail = "not in this run"
    else:
        detail = f"{node.status} · {fmt.format_seconds(node.duration_seconds)}"
        if node.rows_written is not None:
            detail += f" · {fmt.format_count(node.rows_written)} rows"
    label = fmt.format_value(box.label, limit=_LABEL_LIMIT)
    body = (
        f"<title>{_e(box.key)}: {_e(detail)}</title>"
        f'<rect x="{box.x}" y="{box.y}" width="{BOX_W}" height="{BOX_H}" rx="6" fill="{fill}" '
        f'stroke="{stroke}" stroke-width="1.6"{dash}/>'
        f'<text x="{box.x + 10}" y="{box.y + 18}" font-size="13" font-weight="600" '
        f'fill="#1f2328">{_e(label)}</text>'
        f'<text x="{box.x + 10}" y="{box.y + 34}" font-size="11" fill="{stroke}">{_e(detail)}</text>'
    )
    css = f"dag-node {box.status}"
    if box.index is None:
        return f'<g class="{css}">{body}</g>'
    return f'<a href="#node-{box.index}"><g class="{css}">{body}</g></a>'


def dag_mermaid(story: RunStory) -> str:
    """The graph as a Mermaid ``flowchart LR`` (GitHub renders it); empty without nodes."""
    boxes, edges = layout(story)
    if not boxes:
        return ""
    ids = {box.key: f"n{position}" for position, box in enumerate(boxes)}
    lines = ["flowchart LR"]
    for box in boxes:
        text = _mermaid_text(box.label) + ("" if box.result is None else f"<br/>{box.status}")
        lines.append(f'    {ids[box.key]}["{text}"]:::{box.status}')
    lines += [f"    {ids[a]} --> {ids[b]}" for a, b in edges]
    lines += [f"    classDef {status} fill:{fill},stroke:{stroke}"
              for status, (fill, stroke) in _COLOURS.items()]
    return "\n".join(lines)


def _levels(keys: list[str], parents: dict[str, list[str]]) -> dict[str, int]:
    level = dict.fromkeys(keys, 0)
    for _ in range(len(keys)):  # longest path; bounded even if the edges held a cycle
        changed = False
        for key in keys:
            deepest = max((level[p] + 1 for p in parents[key]), default=0)
            if deepest > level[key]:
                level[key], changed = deepest, True
        if not changed:
            break
    return level


def _mean(values: list[float], *, default: float) -> float:
    return sum(values) / len(values) if values else default


def _mermaid_text(text: str) -> str:
    return re.sub(r'["<>]', lambda m: {'"': "#quot;", "<": "#lt;", ">": "#gt;"}[m.group(0)], text)


def _e(text: str) -> str:
    return html.escape(text, quote=True)
