"""The story file ``odibi story show`` reads: any of the files the story writer makes for a run
(``run_HHMMSS.json`` and its ``.html`` / ``.md`` siblings) means the ``.json``."""

from __future__ import annotations

from pathlib import Path

from odibi_core.errors import OdibiError
from odibi_core.story import RunStory, load_story

__all__ = ["read_story", "story_json"]

_FIX = ("Pass the story path `odibi run` prints (run_HHMMSS.json, .html or .md), or show the "
        "newest story with `odibi story last PROJECT`.")


def story_json(path: Path) -> Path:
    """The JSON story behind ``path``: the ``.json`` sibling of a ``.html`` or ``.md`` story."""
    if path.suffix.lower() in (".html", ".md"):
        return path.with_suffix(".json")
    return path


def read_story(path: Path, given: Path | None = None) -> RunStory:
    """Load the story at ``path`` (the JSON behind ``given``, the path the user typed); a
    missing or unreadable file is an :class:`OdibiError` naming it."""
    if not path.is_file():
        what = "is a folder, not a story file" if path.is_dir() else "does not exist"
        behind = f" (the story data behind {given})" if given and given != path else ""
        raise OdibiError(f"Story file {path}{behind} {what}.", fix=_FIX)
    try:
        return load_story(path)
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise OdibiError(f"Story file {path} cannot be read as a run story: {exc}",
                         fix=_FIX) from exc
