"""Files on the local disk, under a base folder."""

from __future__ import annotations

import glob
import os
import posixpath
from collections.abc import Sequence
from pathlib import Path

from odibi_core.connections.base import Check, Connection
from odibi_core.engines.base import ResolvedLocation
from odibi_core.errors import ConfigError, ConfigProblem

__all__ = ["LocalConnection"]


class LocalConnection(Connection):
    """A folder on the local disk; node paths are relative to it.

    Args:
        name: the connection's name.
        base_path: the folder, relative to ``project_root`` unless absolute (``~`` expands).
        project_root: the folder of the project file.

    Example:
        >>> lake = LocalConnection("lake", "./lake", "/srv/retail")
        >>> lake.resolve("silver/orders").display
        'lake:silver/orders'
    """

    type = "local"

    def __init__(self, name: str, base_path: str | os.PathLike[str],
                 project_root: str | os.PathLike[str]) -> None:
        super().__init__(name)
        base = Path(base_path).expanduser()
        if not base.is_absolute():
            base = Path(project_root) / base
        # abspath, not resolve(): normalise `..` without following symlinks.
        self.base_path = Path(os.path.abspath(base))

    def resolve(self, path: str | None = None, *, table: str | None = None) -> ResolvedLocation:
        """The absolute path of ``path`` under the base folder (the base itself when None).

        ``..`` may leave the base folder; the result is still an absolute path. ``display`` is
        ``<connection>:<path as written, normalised>``.
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
        return self._location(os.path.abspath(target), shown)

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
