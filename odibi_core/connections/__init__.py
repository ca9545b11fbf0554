"""Connections: named places data lives (SPEC §2), resolved to locations engines open.

``build_connection`` turns a connection block of the project file into a :class:`Connection`.
Only ``local`` is available in this version; Azure, HTTP, SQL and Delta-catalog connections are
validated by the config models but refused here with a clear message.
"""

from __future__ import annotations

from collections.abc import Mapping
from difflib import get_close_matches
from pathlib import Path
from typing import Any

from odibi_core.connections.base import Connection
from odibi_core.connections.local import LocalConnection
from odibi_core.errors import ConfigError, ConfigProblem

__all__ = ["Connection", "LocalConnection", "build_connection", "CONNECTION_TYPES"]

CONNECTION_TYPES = ("local", "azure_blob", "azure_adls", "delta", "http", "sql")
_NOT_YET = {
    "azure_blob": "Azure Blob / ADLS",
    "azure_adls": "Azure Blob / ADLS",
    "delta": "Delta catalog (Spark metastore)",
    "http": "HTTP",
    "sql": "SQL",
}


def build_connection(name: str, config: Any, project_root: Path) -> Connection:
    """Build the runtime connection for ``connections.<name>``.

    Args:
        name: the connection's name.
        config: its config model (``LocalConnectionConfig``, ...) or a plain mapping; read by
            duck typing on ``type`` and the type's fields.
        project_root: the folder of the project file; relative base paths start there.

    Raises:
        ConfigError: the type is unknown or not available in this version.
    """
    kind = _field(config, "type")
    if kind == "local":
        return LocalConnection(name, _field(config, "base_path"), project_root)
    key_path = f"connections.{name}.type"
    if kind in _NOT_YET:
        raise ConfigError(ConfigProblem(
            message=f"Connection '{name}' has type '{kind}': {_NOT_YET[kind]} connections are "
                    "not available in this version yet.",
            key_path=key_path,
            fix="Use a `local` connection for now (Azure, HTTP, SQL and Delta-catalog "
                "connections come in a later release).",
        ))
    close = get_close_matches(str(kind), CONNECTION_TYPES, n=1)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    raise ConfigError(ConfigProblem(
        message=f"Connection '{name}' has unknown type '{kind}'.{hint}",
        key_path=key_path,
        fix="Valid types: " + ", ".join(CONNECTION_TYPES) + ".",
    ))


def _field(config: Any, key: str) -> Any:
    if isinstance(config, Mapping):
        return config.get(key)
    return getattr(config, key, None)
