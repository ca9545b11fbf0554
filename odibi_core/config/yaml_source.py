"""YAML with line marks: plain data plus, for every key and list item, the file and line it came
from.

PyYAML composes a node tree that keeps positions; we build the plain data from it ourselves so that
we can record where each value was written and refuse duplicate keys (PyYAML keeps the last one
silently).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from odibi_core.errors import ConfigProblem

__all__ = [
    "KeyPath",
    "Mark",
    "SourceMap",
    "YamlDocument",
    "format_key_path",
    "parse_key_path",
    "read_yaml",
]

KeyPath = tuple[str | int, ...]
"""A position in the data: ``("pipelines", 0, "nodes", 2, "read", "format")``."""

_MERGE_TAG = "tag:yaml.org,2002:merge"
_PLAIN_KEY = re.compile(r"^[A-Za-z0-9_$-]+$")


@dataclass(frozen=True)
class Mark:
    """Where a key or list item was written (``line`` is 1-based)."""

    file: Path
    line: int


def format_key_path(path: KeyPath) -> str:
    """``("pipelines", 0, "nodes", 2, "read")`` -> ``"pipelines[0].nodes[2].read"``.

    Keys that are not plain words are quoted: ``connections["my lake"]``.
    """
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif _PLAIN_KEY.match(part):
            text += f".{part}" if text else part
        else:
            text += '["' + part.replace('"', '\\"') + '"]'
    return text


_PATH_TOKEN = re.compile(r'\[(\d+)\]|\["((?:[^"\\]|\\.)*)"\]|\.?([^.\[\]]+)')


def parse_key_path(text: str) -> KeyPath:
    """The inverse of :func:`format_key_path`."""
    parts: list[str | int] = []
    for index, quoted, plain in _PATH_TOKEN.findall(text):
        if index:
            parts.append(int(index))
        elif quoted:
            parts.append(quoted.replace('\\"', '"'))
        elif plain:
            parts.append(plain)
    return tuple(parts)


class SourceMap:
    """Line marks of a (possibly merged) document, and problems located with them."""

    def __init__(self, marks: Mapping[KeyPath, Mark], default_file: Path) -> None:
        self.marks: dict[KeyPath, Mark] = dict(marks)
        self.default_file = default_file

    def locate(self, path: KeyPath) -> tuple[Path, int | None]:
        """The file and line of ``path``, or of its nearest marked parent (a missing key is
        reported where its block starts)."""
        for end in range(len(path), -1, -1):
            mark = self.marks.get(path[:end])
            if mark is not None:
                return mark.file, mark.line
        return self.default_file, None

    def problem(self, path: KeyPath, message: str, *, fix: str | None = None) -> ConfigProblem:
        file, line = self.locate(path)
        return ConfigProblem(message=message, file=file, line=line,
                             key_path=format_key_path(path), fix=fix)


@dataclass
class YamlDocument:
    """One YAML file's data and marks (paths relative to the document's root)."""

    file: Path
    data: Any
    marks: dict[KeyPath, Mark] = field(default_factory=dict)


def read_yaml(file: Path) -> tuple[YamlDocument | None, list[ConfigProblem]]:
    """Read ``file``. YAML syntax errors and duplicate keys come back as problems with their line;
    an empty file gives ``data=None``."""
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None, [ConfigProblem(f"File not found: {file}.", file=file,
                                    fix="Check the path, relative to the file that names it.")]
    except (OSError, UnicodeDecodeError) as exc:
        return None, [ConfigProblem(f"Cannot read the file: {exc}.", file=file,
                                    fix="Make it a readable UTF-8 text file.")]
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        return None, [_syntax_problem(file, exc)]
    except yaml.YAMLError as exc:
        return None, [ConfigProblem(f"YAML error: {exc}", file=file, fix="Fix the YAML syntax.")]
    finally:
        loader.dispose()
    if root is None:
        return YamlDocument(file=file, data=None), []
    builder = _Builder(file, loader)
    data = builder.build(root, ())
    builder.marks[()] = Mark(file, root.start_mark.line + 1)
    return YamlDocument(file=file, data=data, marks=builder.marks), builder.problems


def _syntax_problem(file: Path, exc: yaml.MarkedYAMLError) -> ConfigProblem:
    mark = exc.problem_mark or exc.context_mark
    what = " ".join(part for part in (exc.context, exc.problem) if part)
    fix = ("Check the indentation and the ':' after each key, and quote values that contain ': ' "
           "or start with '{', '[', '*', '&' or '@'.")
    if "\\t" in what or "\t" in what:
        fix = "Indent with spaces; YAML does not allow tabs."
    return ConfigProblem(f"YAML syntax error: {what}.", file=file,
                         line=mark.line + 1 if mark else None, fix=fix)


class _Builder:
    """Builds plain data from a composed node tree, recording marks and duplicate keys."""

    def __init__(self, file: Path, loader: yaml.SafeLoader) -> None:
        self.file = file
        self.loader = loader
        self.marks: dict[KeyPath, Mark] = {}
        self.problems: list[ConfigProblem] = []
        self._active: set[int] = set()

    def build(self, node: Node, path: KeyPath) -> Any:
        if id(node) in self._active:
            self.problems.append(ConfigProblem(
                "An alias refers to the block that contains it.", file=self.file,
                line=node.start_mark.line + 1, key_path=format_key_path(path),
                fix="Remove the recursive alias."))
            return None
        if isinstance(node, ScalarNode):
            return self.loader.construct_object(node, deep=True)
        self._active.add(id(node))
        try:
            if isinstance(node, SequenceNode):
                items = []
                for index, item in enumerate(node.value):
                    self.marks[path + (index,)] = Mark(self.file, item.start_mark.line + 1)
                    items.append(self.build(item, path + (index,)))
                return items
            if isinstance(node, MappingNode):
                return self._mapping(node, path)
        finally:
            self._active.discard(id(node))
        return None

    def _mapping(self, node: MappingNode, path: KeyPath) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == _MERGE_TAG or not isinstance(key_node, ScalarNode):
                continue
            key = self.loader.construct_object(key_node)
            line = key_node.start_mark.line + 1
            if key in seen:
                self.problems.append(ConfigProblem(
                    f"Duplicate key '{key}' (first written on line {seen[key]}).",
                    file=self.file, line=line, key_path=format_key_path(path + (str(key),)),
                    fix="Remove one of them: YAML would silently keep only the last."))
            else:
                seen[key] = line
        if any(key_node.tag == _MERGE_TAG for key_node, _ in node.value):
            # `<<: *anchor` merges: the anchor's pairs come first, so the block's own keys win.
            self.loader.flatten_mapping(node)
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = self.build(key_node, path)
            if isinstance(key, (list, dict)) or key is None:
                self.problems.append(ConfigProblem(
                    "A key must be a plain word.", file=self.file,
                    line=key_node.start_mark.line + 1, key_path=format_key_path(path),
                    fix="Write key: value."))
                continue
            key = key if isinstance(key, str) else str(key)
            child = path + (key,)
            self.marks[child] = Mark(self.file, key_node.start_mark.line + 1)
            result[key] = self.build(value_node, child)
        return result

