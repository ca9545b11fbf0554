"""The run story: what one pipeline run did, as JSON, HTML and Markdown files.

Framework-free: importing this package loads no Dagster and no engine library.
"""

from odibi_core.story.model import SCHEMA_VERSION, RunStatus, RunStory, parse_timestamp, status_from_nodes
from odibi_core.story.render_html import render_html
from odibi_core.story.render_json import render_json
from odibi_core.story.render_md import render_markdown
from odibi_core.story.writer import StoryPaths, find_stories, load_story, story_paths, write_story

__all__ = [
    "SCHEMA_VERSION",
    "RunStatus",
    "RunStory",
    "StoryPaths",
    "find_stories",
    "load_story",
    "parse_timestamp",
    "render_html",
    "render_json",
    "render_markdown",
    "status_from_nodes",
    "story_paths",
    "write_story",
]
