"""The story as one self-contained HTML5 page: inline CSS and SVG, no scripts, no external assets.

Same content as the Markdown story: a header coloured by status, summary cards, run facts, the
pipeline's graph (inline SVG, see :mod:`odibi_core.story.dag`), the node table, the run's ``extra``
entries and one ``<details>`` per node (failed nodes open). A node's ``profile`` is drawn by
``odibi_core.profiling.render`` when that module is there. Every piece of text from the story is
HTML-escaped.
"""

from __future__ import annotations

import html
import re
from typing import Any

from odibi_core.results import ErrorInfo, NodeResult
from odibi_core.story import _format as fmt
from odibi_core.story.dag import dag_svg
from odibi_core.story.model import RunStory

__all__ = ["CSS", "render_html"]

_NUMERIC = re.compile(r"^-?[\d,]+(\.\d+)?( s)?$")

CSS = """
:root{--ok:#1a7f37;--failed:#cf222e;--skipped:#6e7781;--running:#9a6700;--line:#d0d7de;
--muted:#57606a;--soft:#f6f8fa;--ink:#1f2328}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--ink)}
.wrap{max-width:1240px;margin:0 auto;padding:0 20px}
header{color:#fff;padding:18px 0 14px;background:var(--skipped)}
header.success{background:var(--ok)}header.failed{background:var(--failed)}
header.running{background:var(--running)}
header h1{margin:0 0 4px;font-size:22px;font-weight:600}
header p{margin:0;opacity:.92}
header code{background:rgba(255,255,255,.18);color:#fff}
h2{font-size:17px;margin:26px 0 8px;padding-bottom:4px;border-bottom:1px solid var(--line)}
h3{font-size:14px;margin:16px 0 6px}
h4{font-size:13px;margin:14px 0 6px;color:var(--muted);text-transform:uppercase;letter-spacing:.03em}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(130px,1fr));gap:10px;margin:18px 0 0}
.card{border:1px solid var(--line);border-radius:6px;padding:8px 12px}
.card .label{display:block;color:var(--muted);font-size:12px}
.card .value{display:block;font-size:19px;font-weight:600;font-variant-numeric:tabular-nums}
.card.failed .value{color:var(--failed)}.card.success .value{color:var(--ok)}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px;margin:6px 0 10px}
dl.facts dt{color:var(--muted)}dl.facts dd{margin:0;overflow-wrap:anywhere}
table{border-collapse:collapse;margin:4px 0 12px;font-size:13px;max-width:100%}
.scroll{overflow-x:auto}
th,td{border:1px solid var(--line);padding:3px 8px;text-align:left;vertical-align:top}
th{background:var(--soft);font-weight:600;white-space:nowrap}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.badge{display:inline-block;min-width:64px;text-align:center;padding:0 8px;border-radius:10px;
color:#fff;font-size:12px;background:var(--skipped)}
.badge.success{background:var(--ok)}.badge.failed{background:var(--failed)}
.badge.running{background:var(--running)}
details{border:1px solid var(--line);border-radius:6px;margin:8px 0}
summary{cursor:pointer;padding:7px 12px;background:var(--soft);border-radius:6px}
summary .meta{color:var(--muted);margin-left:8px}
details>.body{padding:2px 14px 10px}
code,pre{font:12.5px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
code{background:var(--soft);padding:0 3px;border-radius:3px}
pre{background:var(--soft);padding:8px 10px;border-radius:4px;overflow:auto;white-space:pre-wrap}
.error{border-left:4px solid var(--failed);background:#fff5f5;padding:6px 12px;margin:8px 0}
.error pre{background:#fff}
.fix{border-left:4px solid var(--ok);background:#f0fff4;padding:6px 12px;margin:8px 0 0}
.bar{height:8px;background:#8fb8e8;border-radius:2px;min-width:1px}
td.bar-cell{width:180px}
footer{color:var(--muted);font-size:12px;margin:28px 0 20px}
.graph{border:1px solid var(--line);border-radius:6px;padding:6px;background:#fff}
svg.dag{display:block;font-family:inherit}svg.dag a:hover rect{stroke-width:2.6}
.legend{color:var(--muted);font-size:12px;margin:4px 0 0}
.legend i{display:inline-block;width:10px;height:10px;border-radius:2px;margin:0 4px 0 10px;
vertical-align:-1px;border:1px solid}
"""


def render_html(story: RunStory) -> str:
    """Render ``story`` as a complete HTML5 document (ends with a newline)."""
    title = f"{story.project} / {story.pipeline}"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)} · {_e(story.status)} · odibi run story</title>",
        f"<style>{CSS}</style>",
        "</head>",
        "<body>",
        _header(story),
        '<main class="wrap">',
        _cards(story),
        "<h2>Run</h2>",
        _facts([fact for fact in fmt.summary_facts(story) if fact[0] not in fmt.SUMMARY_CARDS]),
        _graph(story),
        "<h2>Nodes</h2>",
        _node_table(story),
    ]
    if story.extra:
        parts += ["<h2>Run details</h2>", _extras(story.extra, tag="h3")]
    if story.nodes:
        parts.append("<h2>Node details</h2>")
        parts += [_node_details(index, node) for index, node in enumerate(story.nodes, 1)]
    parts += [
        f"<footer>odibi run story · schema version {story.schema_version}"
        f" · run {_e(story.run_id)}</footer>",
        "</main>",
        "</body>",
        "</html>",
    ]
    return "\n".join(parts) + "\n"


def _header(story: RunStory) -> str:
    env = f" · {_e(story.environment)}" if story.environment else ""
    dry = " · dry run" if story.dry_run else ""
    return (
        f'<header class="{_status_class(story.status)}"><div class="wrap">'
        f"<h1>{_e(story.project)} / {_e(story.pipeline)}</h1>"
        f"<p>{_e(story.status.upper())}{dry} · run <code>{_e(story.run_id)}</code>{env} · "
        f"{_e(story.engine)} · {_e(fmt.format_timestamp(story.started_at))}</p>"
        "</div></header>"
    )


def _cards(story: RunStory) -> str:
    counts = story.status_counts
    cards = [
        ("Status", story.status, _status_class(story.status)),
        ("Duration", fmt.format_seconds(story.duration_seconds), ""),
        ("Nodes ok", str(counts["success"]), "success" if counts["success"] else ""),
        ("Nodes failed", str(counts["failed"]), "failed" if counts["failed"] else ""),
        ("Nodes skipped", str(counts["skipped"]), ""),
        ("Rows written", fmt.format_count(story.rows_written), ""),
    ]
    items = "".join(
        f'<div class="{f"card {css}".rstrip()}"><span class="label">{_e(label)}</span>'
        f'<span class="value">{_e(value)}</span></div>'
        for label, value, css in cards
    )
    return f'<section class="cards">{items}</section>'


def _graph(story: RunStory) -> str:
    svg = dag_svg(story)
    if not svg:
        return ""
    legend = "".join(
        f'<i style="background:{fill};border-color:{stroke}"></i>{label}'
        for label, fill, stroke in (("success", "#dafbe1", "#1a7f37"), ("failed", "#ffebe9", "#cf222e"),
                                    ("skipped", "#f6f8fa", "#6e7781"),
                                    ("not in this run", "#ffffff", "#8c959f"))
    )
    return f'<h2>Graph</h2><div class="scroll graph">{svg}</div><p class="legend">{legend}</p>'


def _node_table(story: RunStory) -> str:
    if not story.nodes:
        return "<p>No nodes ran.</p>"
    rows = []
    for index, node in enumerate(story.nodes, 1):
        status, *numbers = fmt.node_row(node)
        cells = "".join(f'<td class="num">{_e(value)}</td>' for value in numbers)
        rows.append(
            f'<tr><td><a href="#node-{index}">{_e(node.node)}</a></td>'
            f"<td>{_badge(status)}</td>{cells}</tr>"
        )
    return _table_markup(fmt.NODE_TABLE_COLUMNS, "".join(rows))


def _node_details(index: int, node: NodeResult) -> str:
    parts = [_facts(fmt.node_facts(node))]
    if node.error:
        parts += ["<h4>Error</h4>", _error(node.error, fmt.error_kind(node))]
    retries = fmt.retries_table(node)
    if retries is not None:
        parts += ["<h4>Retries</h4>", _table(retries)]
    if node.write:
        parts += ["<h4>Write target</h4>", _facts(fmt.write_facts(node.write))]
    if node.timings:
        parts += ["<h4>Timings</h4>", _timings(node)]
    for title, table in (("Schema", fmt.schema_table(node)), ("Sample rows", fmt.sample_table(node))):
        if table is not None:
            parts += [f"<h4>{title}</h4>", _table(table)]
    if node.sql_executed:
        parts.append("<h4>SQL</h4>")
        parts += [f'<pre><code class="language-sql">{_e(sql)}</code></pre>' for sql in node.sql_executed]
    if node.extra:
        parts.append(_extras(node.extra, tag="h4"))
    is_open = " open" if node.status == "failed" else ""
    written = "" if node.rows_written is None else f" · {fmt.format_count(node.rows_written)} rows written"
    summary = (
        f"<summary>{_badge(node.status)} <strong>{_e(node.node)}</strong>"
        f'<span class="meta">{_e(fmt.format_seconds(node.duration_seconds))}'
        f"{_e(written)}"
        f"{_e(' · ' + attempt) if (attempt := fmt.attempt_text(node)) else ''}</span></summary>"
    )
    return f'<details id="node-{index}"{is_open}>{summary}<div class="body">{"".join(parts)}</div></details>'


def _error(error: ErrorInfo, kind: str) -> str:
    where = f" in phase <code>{_e(error.phase)}</code>" if error.phase else ""
    fix = f'<p class="fix"><strong>Fix:</strong> {_e(error.fix)}</p>' if error.fix else ""
    return (
        f'<div class="error"><p><strong>{_e(error.type)}</strong>{where} ({kind})</p>'
        f"<pre>{_e(error.message)}</pre>{fix}</div>"
    )


def _timings(node: NodeResult) -> str:
    longest = max((t.seconds for t in node.timings), default=0.0) or 1.0
    rows = "".join(
        f"<tr><td>{_e(t.phase)}</td><td class=\"num\">{_e(fmt.format_seconds(t.seconds))}</td>"
        f'<td class="bar-cell"><div class="bar" style="width:{max(0.0, t.seconds) / longest * 100:.0f}%">'
        "</div></td></tr>"
        for t in node.timings
    )
    return _table_markup(("Phase", "Duration", ""), rows)


def _extras(extra: dict[str, Any], *, tag: str) -> str:
    parts = []
    for key, value in extra.items():
        parts.append(f"<{tag}>{_e(fmt.humanise(str(key)))}</{tag}>")
        if key == "profile" and fmt.is_profile(value) and (drawn := _profile(value)) is not None:
            parts.append(drawn)
            continue
        block = fmt.block_of(value)
        if isinstance(block, fmt.Table):
            parts.append(_table(block))
        elif isinstance(block, list):
            parts.append("<ul>" + "".join(f"<li>{_e(item)}</li>" for item in block) + "</ul>")
        else:
            parts.append(f"<p>{_e(block)}</p>")
    return "".join(parts)


def _profile(profile: dict[str, Any]) -> str | None:
    """The profile with its charts; None (render it generically) without the profiling module."""
    try:
        from odibi_core.profiling.render import profile_html
    except ImportError:
        return None
    return profile_html(profile)


def _table(table: fmt.Table) -> str:
    body = "".join("<tr>" + "".join(_cell(cell) for cell in row) + "</tr>" for row in table.rows)
    return _table_markup(table.columns, body)


def _table_markup(columns: tuple[str, ...], body: str) -> str:
    head = "".join(f"<th>{_e(col)}</th>" for col in columns)
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def _cell(text: str) -> str:
    css = ' class="num"' if _NUMERIC.match(text) else ""
    return f"<td{css}>{_e(text)}</td>"


def _facts(facts: list[tuple[str, str]]) -> str:
    items = "".join(f"<dt>{_e(label)}</dt><dd>{_e(value)}</dd>" for label, value in facts)
    return f'<dl class="facts">{items}</dl>'


def _badge(status: str) -> str:
    return f'<span class="badge {_status_class(status)}">{_e(status)}</span>'


def _status_class(status: str) -> str:
    return status if status in ("success", "failed", "skipped", "running") else "unknown"


def _e(text: str) -> str:
    return html.escape(text, quote=True)
