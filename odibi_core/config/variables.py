"""``${vars.x}`` and ``${ENV_VAR}`` in string values; ``$${`` writes a literal ``${``.

A value that is exactly one ``${vars.x}`` takes the variable's own type (a number stays a number);
inside longer text it is formatted with ``str``. ``vars`` may use ``${ENV_VAR}`` and other vars.
The ``environments`` block is left alone (environments that are not selected may name variables
that are only set where they run), and so is ``imports`` (resolved before variables).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from typing import Any

from odibi_core.config.yaml_source import KeyPath, SourceMap
from odibi_core.errors import ConfigProblem

__all__ = ["substitute_variables"]

_REFERENCE = re.compile(r"\$\$\{|\$\{([^}]*)\}")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SKIPPED_KEYS = ("environments", "imports")
_MISSING = object()  # a reference that could not be resolved (its text is kept as written)


def substitute_variables(
    data: Any, source: SourceMap, *, environ: Mapping[str, str]
) -> tuple[Any, list[ConfigProblem]]:
    """Replace every ``${...}`` in the string values of ``data``.

    Returns the new data and one problem per variable that cannot be resolved, located at the
    value that uses it.
    """
    substitution = _Substitution(data, source, environ)
    if not isinstance(data, dict):
        return data, []
    result = {}
    for key, value in data.items():
        if key in _SKIPPED_KEYS:
            result[key] = value
        elif key == "vars" and isinstance(value, dict):
            resolved = {name: substitution.var(name, ("vars", name)) for name in value}
            result[key] = {name: value[name] if item is _MISSING else item
                           for name, item in resolved.items()}
        else:
            result[key] = substitution.walk(value, (key,))
    return result, substitution.problems


class _Substitution:
    def __init__(self, data: Any, source: SourceMap, environ: Mapping[str, str]) -> None:
        raw_vars = data.get("vars") if isinstance(data, dict) else None
        self.raw_vars: dict[str, Any] = raw_vars if isinstance(raw_vars, dict) else {}
        self.source = source
        self.environ = environ
        self.problems: list[ConfigProblem] = []
        self._resolved: dict[str, Any] = {}
        self._resolving: list[str] = []

    def walk(self, value: Any, path: KeyPath) -> Any:
        if isinstance(value, str):
            return self.text(value, path)
        if isinstance(value, dict):
            return {key: self.walk(item, path + (key,)) for key, item in value.items()}
        if isinstance(value, list):
            return [self.walk(item, path + (index,)) for index, item in enumerate(value)]
        return value

    def var(self, name: str, path: KeyPath) -> Any:
        """The value of ``vars.name`` with its own references resolved (once)."""
        if name in self._resolved:
            return self._resolved[name]
        if name in self._resolving:
            cycle = " -> ".join([*self._resolving[self._resolving.index(name):], name])
            self.problems.append(self.source.problem(
                path, f"Variables refer to each other in a circle: {cycle}.",
                fix="Give one of them a plain value."))
            return _MISSING
        self._resolving.append(name)
        try:
            value = self.walk(self.raw_vars[name], ("vars", name))
        finally:
            self._resolving.pop()
        self._resolved[name] = value
        return value

    def text(self, text: str, path: KeyPath) -> Any:
        whole = _REFERENCE.fullmatch(text)
        if whole and whole.group(1) is not None:
            value = self.lookup(whole.group(1), path)
            return text if value is _MISSING else value

        def replace(match: re.Match[str]) -> str:
            if match.group(1) is None:  # "$${"
                return "${"
            value = self.lookup(match.group(1), path)
            return match.group(0) if value is _MISSING else str(value)

        return _REFERENCE.sub(replace, text)

    def lookup(self, reference: str, path: KeyPath) -> Any:
        """The value of one ``${reference}``; ``_MISSING`` (and a problem) when it is unknown."""
        name = reference.strip()
        if name.startswith("vars."):
            return self._vars_lookup(name, path)
        if _ENV_NAME.match(name):
            if name in self.environ:
                return self.environ[name]
            self.problems.append(self.source.problem(
                path, f"Environment variable '{name}' is not set (used as ${{{name}}}).",
                fix=f"Set {name} in the environment before running (export {name}=...), or define "
                f"it under vars: and write ${{vars.{name}}}. Write $${{ for a literal '${{'."))
            return _MISSING
        self.problems.append(self.source.problem(
            path, f"'${{{reference}}}' is not a variable reference.",
            fix="Write ${vars.NAME} for a project variable or ${ENV_VAR} for an environment "
            "variable; write $${ for a literal '${'."))
        return _MISSING

    def _vars_lookup(self, name: str, path: KeyPath) -> Any:
        parts = name.split(".")[1:]
        top = parts[0] if parts else ""
        if top not in self.raw_vars:
            known = list(self.raw_vars)
            close = difflib.get_close_matches(top, known, n=1)
            hint = f" Did you mean 'vars.{close[0]}'?" if close else ""
            self.problems.append(self.source.problem(
                path, f"Unknown variable '{name}'.{hint}",
                fix=f"Define it under vars: (known: {', '.join(known) or 'none'})."))
            return _MISSING
        value = self.var(top, ("vars", top))
        if value is _MISSING:
            return _MISSING
        for index, part in enumerate(parts[1:], start=2):
            if isinstance(value, dict) and part in value:
                value = value[part]
            else:
                self.problems.append(self.source.problem(
                    path, f"Variable '{'.'.join(['vars', *parts[:index]])}' does not exist.",
                    fix=f"Check the keys under vars.{'.'.join(parts[:index - 1])}."))
                return _MISSING
        return value
