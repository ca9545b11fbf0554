"""A profile (the JSON of :meth:`Profile.to_json`) as Markdown and as an HTML fragment.

Both take the plain dict kept in ``NodeResult.extra["profile"]``, so stories and Dagster render
a profile without an engine. The HTML is self-contained: a table and an inline SVG bar chart per
histogram, no scripts or style sheets; every text is escaped.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

__all__ = ["profile_html", "profile_markdown", "sparkline"]

_BARS = "▁▂▃▄▅▆▇█"
_MAX_TEXT = 40
_HEADERS = ("column", "type", "nulls", "null %", "unique", "min", "max", "histogram")


def profile_markdown(profile: Mapping[str, Any]) -> str:
    """A Markdown table with one row per column; ``~`` marks an approximate unique count and the
    histogram is a sparkline of its bin counts."""
    if "error" in profile:
        return f"_Profiling failed: {_md(str(profile['error']))}_"
    lines = [_intro(profile), "", "| " + " | ".join(_HEADERS) + " |",
             "|" + "---|" * len(_HEADERS)]
    for column in profile.get("columns", ()):
        histogram = column.get("histogram")
        cells = [column["name"], column["type"], _number(column.get("null_count")),
                 _percent(column.get("null_percentage")), _unique(column),
                 _text(column.get("min")), _text(column.get("max")),
                 sparkline(histogram["counts"]) if histogram else ""]
        lines.append("| " + " | ".join(_md(c) for c in cells) + " |")
    return "\n".join(lines)


def profile_html(profile: Mapping[str, Any]) -> str:
    """An HTML fragment: the same table as :func:`profile_markdown`, each histogram drawn as an
    inline SVG bar chart (a ``<title>`` per bar gives its range and count)."""
    if "error" in profile:
        return (f'<p class="odibi-profile-error">Profiling failed: '
                f"{html.escape(str(profile['error']))}</p>")
    head = "".join(f"<th>{html.escape(h)}</th>" for h in _HEADERS)
    rows = []
    for column in profile.get("columns", ()):
        histogram = column.get("histogram")
        cells = [column["name"], column["type"], _number(column.get("null_count")),
                 _percent(column.get("null_percentage")), _unique(column),
                 _text(column.get("min")), _text(column.get("max"))]
        tds = "".join(f"<td>{html.escape(c)}</td>" for c in cells)
        chart = _svg(column["name"], histogram) if histogram else ""
        rows.append(f"<tr>{tds}<td>{chart}</td></tr>")
    return (f'<div class="odibi-profile"><p>{html.escape(_intro(profile))}</p>'
            f'<table><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table></div>')


def sparkline(counts: list[int]) -> str:
    """Bin counts as block characters: the tallest bin a full block, an empty bin the lowest."""
    top = max(counts, default=0)
    levels = len(_BARS) - 1  # the lowest bar is an empty bin
    return "".join(_BARS[0] if c <= 0 else _BARS[1 + min(levels - 1, (c * levels - 1) // top)]
                   for c in counts)


def _intro(profile: Mapping[str, Any]) -> str:
    rows = int(profile.get("rows", 0))
    sample = profile.get("sample_rows")
    text = f"Profile of {rows:,} row(s)"
    if sample is not None:
        text += f" (at most the first {int(sample):,} rows are profiled)"
    text += "."
    if any(c.get("approximate") for c in profile.get("columns", ())):
        text += (f" Unique counts marked ~ are approximate (more than "
                 f"{int(profile.get('exact_unique_limit', 0)):,} rows).")
    return text


def _svg(name: str, histogram: Mapping[str, Any], width: int = 160, height: int = 40) -> str:
    counts, edges = list(histogram["counts"]), list(histogram["edges"])
    top = max(counts, default=0) or 1
    bar = width / max(len(counts), 1)
    rects = []
    for i, count in enumerate(counts):
        h = round(height * count / top, 2)
        title = f"[{_text(edges[i])}, {_text(edges[i + 1])}{']' if i == len(counts) - 1 else ')'}" \
                f": {count:,}"
        rects.append(f'<rect x="{round(i * bar, 2)}" y="{round(height - h, 2)}" '
                     f'width="{round(max(bar - 1, 1), 2)}" height="{h}" fill="#4c78a8">'
                     f"<title>{html.escape(title)}</title></rect>")
    label = html.escape(f"Histogram of {name}", quote=True)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img" aria-label="{label}">'
            f'{"".join(rects)}</svg>')


def _unique(column: Mapping[str, Any]) -> str:
    value = column.get("unique_count")
    if value is None:
        return ""
    return ("~" if column.get("approximate") else "") + f"{int(value):,}"


def _number(value: Any) -> str:
    return "" if value is None else f"{int(value):,}"


def _percent(value: Any) -> str:
    return "" if value is None else f"{float(value):.2f}%"


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        text = f"{value:.6g}"
    else:
        text = str(value).lower() if isinstance(value, bool) else str(value)
    return text if len(text) <= _MAX_TEXT else text[:_MAX_TEXT - 1] + "…"


def _md(text: str) -> str:
    """``text`` safe in a Markdown table cell."""
    return (html.escape(text, quote=False).replace("|", "\\|").replace("\n", " ")
            .replace("\r", " "))
