"""Connections: named places data lives (SPEC §2), resolved to locations engines open.

``build_connection`` turns a connection block of the project file into a :class:`Connection`.
``local``, ``azure_blob`` (alias ``azure_adls``), ``http`` and ``sql`` are built here; Delta-catalog
connections are validated by the config models but refused with a clear message.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from difflib import get_close_matches
from pathlib import Path
from typing import Any

from odibi_core.connections.base import Check, Connection
from odibi_core.connections.local import LocalConnection
from odibi_core.errors import ConfigError, ConfigProblem

__all__ = ["CONNECTION_TYPES", "Check", "Connection", "LocalConnection", "build_connection"]

CONNECTION_TYPES = ("local", "azure_blob", "azure_adls", "delta", "http", "sql")
# type -> (module, class): built on first use, so a project only imports what it uses.
_RUNTIME = {
    "azure_blob": ("odibi_core.connections.azure", "AzureBlobConnection"),
    "azure_adls": ("odibi_core.connections.azure", "AzureBlobConnection"),
    "http": ("odibi_core.connections.http", "HttpConnection"),
    "sql": ("odibi_core.connections.sql", "SqlConnection"),
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
        return LocalConnection(name, _field(config, "base_path"), project_root,
                               allow_outside_base_path=bool(
                                   _field(config, "allow_outside_base_path")))
    key_path = f"connections.{name}.type"
    if kind in _RUNTIME:
        module, cls = _RUNTIME[kind]
        return getattr(importlib.import_module(module), cls)(name, config, project_root)
    if kind == "delta":
        raise ConfigError(ConfigProblem(
            message=f"Connection '{name}' has type 'delta': Delta catalog (Spark metastore) "
                    "connections are not available in this version yet.",
            key_path=key_path,
            fix="Read and write Delta tables by path on a local or azure_blob connection."))
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
