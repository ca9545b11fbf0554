"""The index page of one pipeline's stories: its recent runs, newest first, each linking to its HTML.

Written to ``<story root>/<pipeline>/index.html`` after every story (see ``write_story``); links are
relative, so the folder can be moved or served as it is.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

from odibi_core.story import _format as fmt
from odibi_core.story.model import RunStory
from odibi_core.story.render_html import CSS

__all__ = ["IndexRow", "index_row", "render_index", "render_index_rows"]

_COLUMNS = ("Started", "Status", "Duration", "Nodes", "Rows written", "Environment", "Run id")


@dataclass(frozen=True)
class IndexRow:
    """What the index page shows of one story: its table row, and its project and status."""

    project: str
    status: str
    html: str


def index_row(link: str, story: RunStory) -> IndexRow:
    """The index row of ``story``, linked as ``link``; a story file's row can be kept for as
    long as the file is unchanged (``write_index`` does), instead of loading it again."""
    return IndexRow(project=story.project, status=story.status, html=_row(link, story))


def render_index(pipeline: str, runs: Sequence[tuple[str, RunStory]], *, total: int | None = None) -> str:
    """The index page of ``pipeline``.

    Args:
        runs: (relative link to the run's HTML story, the story), newest first.
        total: how many stories there are, when ``runs`` shows only the newest of them.
    """
    return render_index_rows(pipeline, [index_row(link, story) for link, story in runs],
                             total=total)


def render_index_rows(pipeline: str, runs: Sequence[IndexRow], *, total: int | None = None) -> str:
    """:func:`render_index` from the stories' rows (newest first)."""
    project = runs[0].project if runs else ""
    latest = runs[0].status if runs else "unknown"
    rows = "".join(run.html for run in runs)
    shown = f"{len(runs)} runs" if total is None or total == len(runs) \
        else f"the newest {len(runs)} of {total} runs"
    table = (
        '<div class="scroll"><table><thead><tr>'
        + "".join(f"<th>{_e(col)}</th>" for col in _COLUMNS)
        + f"</tr></thead><tbody>{rows}</tbody></table></div>"
        if runs else "<p>No stories yet.</p>"
    )
    title = f"{project} / {pipeline}" if project else pipeline
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)} · odibi runs</title>",
        f"<style>{CSS}</style>",
        "</head>",
        "<body>",
        f'<header class="{_status(latest)}"><div class="wrap"><h1>{_e(title)}</h1>'
        f"<p>Recent runs · {_e(shown)} · latest {_e(latest)}</p></div></header>",
        '<main class="wrap">',
        "<h2>Runs</h2>",
        table,
        "<footer>odibi run stories · older stories are removed by <code>story.retention_days"
        "</code> and <code>story.retention_runs</code></footer>",
        "</main>",
        "</body>",
        "</html>",
    ]) + "\n"


def _row(link: str, story: RunStory) -> str:
    counts = story.status_counts
    nodes = f"{counts['success']} ok, {counts['failed']} failed, {counts['skipped']} skipped"
    status = story.status + (" (dry run)" if story.dry_run else "")
    cells = [
        f'<td><a href="{_e(link)}">{_e(fmt.format_timestamp(story.started_at))}</a></td>',
        f'<td><span class="badge {_status(story.status)}">{_e(status)}</span></td>',
        f'<td class="num">{_e(fmt.format_seconds(story.duration_seconds))}</td>',
        f"<td>{_e(nodes)}</td>",
        f'<td class="num">{_e(fmt.format_count(story.rows_written))}</td>',
        f"<td>{_e(story.environment or fmt.NONE)}</td>",
        f"<td><code>{_e(story.run_id)}</code></td>",
    ]
    return "<tr>" + "".join(cells) + "</tr>"


def _status(status: str) -> str:
    return status if status in ("success", "failed", "running") else "unknown"


def _e(text: str) -> str:
    return html.escape(text, quote=True)
