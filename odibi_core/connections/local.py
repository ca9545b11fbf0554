"""Files on the local disk, under a base folder."""

from __future__ import annotations

import glob
import os
import posixpath
from collections.abc import Sequence
from pathlib import Path

from odibi_core.connections.base import Check, Connection
from odibi_core.errors import ConfigError, ConfigProblem
from odibi_core.storage.locations import ResolvedLocation

__all__ = ["LocalConnection"]


class LocalConnection(Connection):
    """A folder on the local disk; node paths are relative to it.

    Args:
        name: the connection's name.
        base_path: the folder, relative to ``project_root`` unless absolute (``~`` expands).
        project_root: the folder of the project file.
        allow_outside_base_path: accept paths that leave ``base_path`` (``../x``, an absolute
            path elsewhere). Off by default: a path with one ``..`` too many would otherwise
            read or write (or overwrite) outside the lake.

    Example:
        >>> lake = LocalConnection("lake", "./lake", "/srv/retail")
        >>> lake.resolve("silver/orders").display
        'lake:silver/orders'
    """

    type = "local"

    def __init__(self, name: str, base_path: str | os.PathLike[str],
                 project_root: str | os.PathLike[str], *,
                 allow_outside_base_path: bool = False) -> None:
        super().__init__(name)
        self.allow_outside_base_path = allow_outside_base_path
        base = Path(base_path).expanduser()
        if not base.is_absolute():
            base = Path(project_root) / base
        # abspath, not resolve(): normalise `..` without following symlinks.
        self.base_path = Path(os.path.abspath(base))

    def resolve(self, path: str | None = None, *, table: str | None = None) -> ResolvedLocation:
        """The absolute path of ``path`` under the base folder (the base itself when None).

        ``display`` is ``<connection>:<path as written, normalised>``.

        Raises:
            ConfigError: ``path`` leaves the base folder (``..``, an absolute path elsewhere,
                ``~``) and the connection does not set ``allow_outside_base_path``.
        """
        if table is not None:
            raise ConfigError(ConfigProblem(
                message=f"Connection '{self.name}' is a local folder and has no tables "
                        f"(table: {table}).",
                key_path="table",
                fix="Use `path:` with a local connection, or a `delta` connection for "
                    "metastore tables.",
            ))
        written = (path or "").strip().replace("\\", "/")
        if not written or written == ".":
            return self._location(str(self.base_path), "")
        target = Path(written).expanduser()
        if not target.is_absolute():
            target = self.base_path / target
        shown = posixpath.normpath(written)
        if written.endswith("/") and shown != "/":
            shown += "/"
        uri = os.path.abspath(target)
        if not self.allow_outside_base_path and not _inside(uri, str(self.base_path)):
            raise ConfigError(ConfigProblem(
                message=f"Path '{written}' on connection '{self.name}' leaves its base_path "
                        f"{self.base_path} (it is {uri}).",
                key_path="path",
                fix=f"Write the path relative to base_path, without going above it; or, if it "
                    f"is meant to be outside, set allow_outside_base_path: true on "
                    f"connections.{self.name} (or declare a connection for that folder)."))
        return self._location(uri, shown)

    def _location(self, uri: str, shown: str) -> ResolvedLocation:
        return ResolvedLocation(connection=self.name, uri=uri, display=f"{self.name}:{shown}",
                                storage_options={}, is_local=True)

    def diagnose(self, paths: Sequence[str]) -> list[Check]:
        """The base folder exists, or can be created on the first write (reachable; there are no
        credentials), and each path matches something."""
        base = self.base_path
        if base.is_dir():
            reachable = Check("reachable", True, f"folder {base}")
        else:
            parent = next(p for p in base.parents if p.exists())
            creatable = parent.is_dir() and os.access(parent, os.W_OK)
            reachable = Check("reachable", creatable, f"folder {base} does not exist yet" + (
                " (created on the first write)" if creatable else f"; {parent} is not a "
                "writable folder"))
        checks = [reachable, Check("authenticated", None, "local files: no credentials")]
        for path in paths:
            uri = self.resolve(path).uri
            found = os.path.exists(uri) or bool(glob.glob(uri, recursive=True))
            checks.append(Check("path exists", found, f"{self.name}:{path}"
                                + ("" if found else " (nothing there yet)")))
        return checks

    def __repr__(self) -> str:
        return f"LocalConnection(name={self.name!r}, base_path={str(self.base_path)!r})"


def _inside(path: str, base: str) -> bool:
    """``path`` is ``base`` or below it (both absolute and normalised)."""
    return os.path.commonpath([path, base]) == base
