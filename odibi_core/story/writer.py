"""Where stories live on disk, and writing, finding and loading them.

Layout: ``<root>/<pipeline>/<YYYY-MM-DD>/run_<HHMMSS>.{json,html,md}``, date and time in UTC from
the run's ``started_at``.

Two runs of one pipeline that start in the same second: the first keeps ``run_<HHMMSS>``; when
:func:`write_story` finds that name held by a story of another run, it writes
``run_<HHMMSS>_<first 8 characters of the run id>`` instead. Writing the same run again (a
``running`` story replaced by the final one) overwrites its own files.

After each story, :func:`write_story` applies retention to the pipeline's stories (by age and by
count; never the story just written) and rewrites ``<root>/<pipeline>/index.html``.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from odibi_core.story.model import RunStory, parse_timestamp
from odibi_core.story.render_html import render_html
from odibi_core.story.render_index import IndexRow, index_row, render_index_rows
from odibi_core.story.render_json import render_json
from odibi_core.story.render_md import render_markdown

__all__ = ["StoryPaths", "apply_retention", "find_stories", "load_story", "story_paths",
           "write_index", "write_story"]

INDEX_NAME = "index.html"
INDEX_LIMIT = 100  # runs listed on a pipeline's index page

_DATE_DIR = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_STORY_NAME = re.compile(r"^run_(\d{6})(?:_[A-Za-z0-9-]+)?\.json$")
_SUFFIX = re.compile(r"^[A-Za-z0-9-]+$")
_OLDEST = datetime.min.replace(tzinfo=timezone.utc)


@dataclass(frozen=True)
class StoryPaths:
    """The three files of one story, side by side in one folder."""

    json: Path
    html: Path
    md: Path

    @property
    def folder(self) -> Path:
        return self.json.parent


def story_paths(root: Path, pipeline: str, started_at: str, *, suffix: str | None = None) -> StoryPaths:
    """Paths of the story of a run of ``pipeline`` that started at ``started_at``.

    Args:
        root: the story folder (the project's ``story`` path).
        pipeline: pipeline name; one folder name, so no path separators.
        started_at: ISO-8601 start time; converted to UTC (no offset means UTC).
        suffix: appended as ``run_<HHMMSS>_<suffix>`` to tell apart runs started in the same second.

    Raises:
        ValueError: ``pipeline`` holds a path separator, ``suffix`` anything but letters, digits and
            ``-``, or ``started_at`` is not ISO-8601.

    Example:
        >>> story_paths(Path("stories"), "sales", "2024-05-01T06:00:09Z").json.as_posix()
        'stories/sales/2024-05-01/run_060009.json'
    """
    _check_name("pipeline", pipeline)
    if suffix is not None and not _SUFFIX.match(suffix):
        raise ValueError(f"story suffix {suffix!r} may only hold letters, digits and '-'")
    started = parse_timestamp(started_at)
    stem = f"run_{started:%H%M%S}" + (f"_{suffix}" if suffix else "")
    folder = Path(root) / pipeline / f"{started:%Y-%m-%d}"
    return StoryPaths(json=folder / f"{stem}.json", html=folder / f"{stem}.html", md=folder / f"{stem}.md")


def write_story(story: RunStory, root: Path, *, retention_days: int | None = None,
                retention_runs: int | None = None, now: datetime | None = None) -> StoryPaths:
    """Render ``story`` to JSON, HTML and Markdown, write each file atomically, then apply
    retention and rewrite the pipeline's index page.

    Each file is written to a hidden temporary file in the target folder and moved into place with
    ``os.replace``, so a reader never sees half a story. The JSON goes last: its presence means the
    other two are complete.

    Args:
        retention_days: remove the pipeline's stories that started more than this many days
            before ``now`` (default: the current time); None keeps them.
        retention_runs: keep only this many of the pipeline's newest stories; None keeps all.

    Returns:
        Where the story was written.
    """
    paths = story_paths(root, story.pipeline, story.started_at)
    if _held_by_other_run(paths.json, story.run_id):
        paths = story_paths(root, story.pipeline, story.started_at, suffix=_safe_suffix(story.run_id))
    paths.folder.mkdir(parents=True, exist_ok=True)
    _write_atomic(paths.md, render_markdown(story))
    _write_atomic(paths.html, render_html(story))
    _write_atomic(paths.json, render_json(story))
    apply_retention(root, story.pipeline, days=retention_days, runs=retention_runs, keep=paths,
                    now=now)
    write_index(root, story.pipeline)
    return paths


def apply_retention(root: Path, pipeline: str, *, days: int | None, runs: int | None,
                    keep: StoryPaths | None = None, now: datetime | None = None) -> list[Path]:
    """Delete the stories of ``pipeline`` older than ``days`` or beyond the ``runs`` newest.

    A story's age is its start time (from its path). ``keep`` is never deleted. A date folder left
    empty is removed, unless it is of today or yesterday (a starting run may be writing to it).

    Returns:
        The JSON paths of the stories deleted (with their HTML and Markdown siblings).
    """
    if days is None and runs is None:
        return []
    now = now or datetime.now(timezone.utc)
    cutoff = now - timedelta(days=days) if days is not None else None
    doomed = [
        path for position, path in enumerate(find_stories(root, pipeline))
        if (keep is None or path != keep.json)
        and ((runs is not None and position >= runs)
             or (cutoff is not None and _started_from_path(path) < cutoff))
    ]
    for path in doomed:
        for sibling in (path, path.with_suffix(".html"), path.with_suffix(".md")):
            sibling.unlink(missing_ok=True)  # the JSON first: no half story is ever listed
    recent = f"{now - timedelta(days=1):%Y-%m-%d}"  # a run may be writing its first story there
    for folder in {path.parent for path in doomed}:
        if folder.name >= recent:
            continue
        try:
            folder.rmdir()
        except OSError:  # not empty
            pass
    return doomed


def write_index(root: Path, pipeline: str) -> Path:
    """(Re)write ``<root>/<pipeline>/index.html``: the newest stories of ``pipeline``, linked."""
    folder = Path(root) / pipeline
    found = find_stories(root, pipeline)
    runs = [row for row in (_index_row(path, folder) for path in found[:INDEX_LIMIT])
            if row is not None]
    index = folder / INDEX_NAME
    folder.mkdir(parents=True, exist_ok=True)
    _write_atomic(index, render_index_rows(pipeline, runs, total=len(found)))
    return index


# A story file (path, inode, mtime, size) -> its index row. Every story write rewrites the index
# from up to INDEX_LIMIT stories; loading each of them every time made a run's story writes
# grow with the pipeline's history. Story files are replaced (os.replace), never edited in place,
# so a changed file has another key.
_INDEX_ROWS: dict[tuple[str, int, int, int], IndexRow] = {}
_INDEX_ROWS_KEPT = 4 * INDEX_LIMIT


def _index_row(path: Path, folder: Path) -> IndexRow | None:
    """The index row of the story at ``path``; None when it cannot be read."""
    try:
        stat = path.stat()
    except OSError:
        return None  # removed meanwhile
    key = (str(path), stat.st_ino, stat.st_mtime_ns, stat.st_size)
    row = _INDEX_ROWS.get(key)
    if row is not None:
        return row
    try:
        story = load_story(path)
    except (OSError, ValueError, TypeError, KeyError):
        return None  # being replaced, or written by a newer odibi: leave it out
    row = index_row(path.relative_to(folder).with_suffix(".html").as_posix(), story)
    if len(_INDEX_ROWS) >= _INDEX_ROWS_KEPT:
        _INDEX_ROWS.pop(next(iter(_INDEX_ROWS)))
    _INDEX_ROWS[key] = row
    return row


def find_stories(root: Path, pipeline: str | None = None) -> list[Path]:
    """JSON story files under ``root`` (of one pipeline, or all), newest first.

    Order is by the start date and second in the path, then by the precise ``started_at`` in the
    files that share a second. A missing ``root`` gives an empty list.
    """
    root = Path(root)
    if pipeline is not None:
        _check_name("pipeline", pipeline)
        pipeline_dirs = [root / pipeline]
    else:
        pipeline_dirs = [path for path in root.iterdir() if path.is_dir()] if root.is_dir() else []
    found = [
        path
        for folder in pipeline_dirs
        if folder.is_dir()
        for date_dir in folder.iterdir()
        if date_dir.is_dir() and _DATE_DIR.match(date_dir.name)
        for path in date_dir.iterdir()
        if _STORY_NAME.match(path.name) and path.is_file()
    ]
    found.sort(key=_second_of, reverse=True)
    ordered: list[Path] = []
    for _, group in itertools.groupby(found, key=_second_of):
        same_second = list(group)
        if len(same_second) > 1:
            same_second.sort(key=_started_in_file, reverse=True)
        ordered += same_second
    return ordered


def load_story(path: Path) -> RunStory:
    """Read a JSON story written by :func:`write_story`.

    Raises:
        ValueError: the file is not a story JSON this version can read.
        OSError: the file cannot be read.
    """
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path} is not a run story: expected a JSON object")
    return RunStory.from_dict(data)


def _write_atomic(path: Path, text: str) -> None:
    temp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        with open(temp, "x", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def _held_by_other_run(path: Path, run_id: str) -> bool:
    if not path.exists():
        return False
    try:
        return json.loads(path.read_text(encoding="utf-8")).get("run_id") != run_id
    except (OSError, ValueError, AttributeError):
        return True  # unreadable: never overwrite what we cannot identify


def _safe_suffix(run_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9-]", "-", run_id[:8]) or "run"


def _check_name(what: str, name: str) -> None:
    if not name or name in (".", "..") or "/" in name or "\\" in name or "\0" in name:
        raise ValueError(f"story {what} {name!r} must be a plain name, without path separators")


def _second_of(path: Path) -> tuple[str, str]:
    match = _STORY_NAME.match(path.name)
    return (path.parent.name, match.group(1) if match else "")


def _started_from_path(path: Path) -> datetime:
    match = _STORY_NAME.match(path.name)
    try:
        return datetime.strptime(f"{path.parent.name} {match.group(1) if match else ''}",
                                 "%Y-%m-%d %H%M%S").replace(tzinfo=timezone.utc)
    except ValueError:
        return _OLDEST


def _started_in_file(path: Path) -> tuple[datetime, str]:
    try:
        started = parse_timestamp(json.loads(path.read_text(encoding="utf-8"))["started_at"])
    except (OSError, ValueError, KeyError, TypeError):
        started = _OLDEST
    return (started, path.name)
