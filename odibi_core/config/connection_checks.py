"""Load-time checks of what is written for connections, so ``odibi validate`` finds them before
anything runs (each with file, line, key path and fix):

- a path that leaves its connection: ``../`` or an absolute path outside a local connection's
  ``base_path`` (unless the connection sets ``allow_outside_base_path: true``), ``../`` above an
  Azure container or a URI naming another container; for read, write, dead-letter, quarantine,
  story, system and sensor paths and streaming checkpoints. Paths built at run time are refused
  by the connection's ``resolve`` with the same message.
- an Azure account key (``auth.account_key``, or the ``AccountKey`` of a connection string) that
  is not base64: pyarrow's Azure client would abort the process on it;
- what an http connection refuses when it is built: a ``base_url`` that is not an absolute
  http(s) URL, credentials both in ``base_url``'s user info and in ``auth``.

The checks reuse the runtime connections' own rules (``LocalConnection.resolve``,
``AzureBlobConnection.resolve``, ``account_key_problem``, ``HttpConnection``), so load time and
run time agree.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from odibi_core.config.connections import (
    AzureBlobConnectionConfig,
    ConnectionStringAuthConfig,
    HttpConnectionConfig,
    LocalConnectionConfig,
)
from odibi_core.config.yaml_source import KeyPath, SourceMap, parse_key_path
from odibi_core.connections import LocalConnection
from odibi_core.connections.azure import (
    AzureBlobConnection,
    account_key_problem,
    parse_connection_string,
)
from odibi_core.connections.http import HttpConnection
from odibi_core.errors import ConfigError, ConfigProblem

__all__ = ["connection_setting_problems"]

Use = tuple[KeyPath, str, str | None, str]  # (path of a `connection` key, name, owner, use)


def connection_setting_problems(config: Any, source: SourceMap, root: Path,
                                uses: Iterable[Use]) -> list[ConfigProblem]:
    """Paths leaving their connection and malformed account keys in ``config``.

    Args:
        uses: every place a connection is used, as ``references._connection_uses`` lists them.
    """
    return [*_account_key_problems(config, source), *_http_problems(config, source, root),
            *_outside_problems(config, source, root, uses)]


def _http_problems(config: Any, source: SourceMap, root: Path) -> list[ConfigProblem]:
    """What building an http connection refuses (a base_url that is not an absolute http(s)
    URL, credentials both in base_url and in auth, an incomplete auth block), at load."""
    problems = []
    for name, connection in config.connections.items():
        if not isinstance(connection, HttpConnectionConfig):
            continue
        try:
            HttpConnection(name, connection, root)
        except ConfigError as exc:
            problems += [source.problem(parse_key_path(p.key_path), p.message, fix=p.fix)
                         for p in exc.problems]
    return problems


def _account_key_problems(config: Any, source: SourceMap) -> list[ConfigProblem]:
    problems = []
    for name, connection in config.connections.items():
        auth = getattr(connection, "auth", None)
        if not isinstance(connection, AzureBlobConnectionConfig) or auth is None:
            continue
        at: KeyPath = ("connections", name, "auth", auth.mode)
        if auth.mode == "account_key":
            found = account_key_problem(auth.account_key.strip(), name, "")
        elif isinstance(auth, ConnectionStringAuthConfig):
            try:
                key = parse_connection_string(auth.connection_string, name).get("accountkey")
            except ConfigError:
                continue  # reported when the connection is built, with its own message
            found = account_key_problem(key, name, "", "its AccountKey") if key else None
        else:
            continue
        if found is not None:
            problems.append(source.problem(at, found.message, fix=found.fix))
    return problems


def _outside_problems(config: Any, source: SourceMap, root: Path,
                      uses: Iterable[Use]) -> list[ConfigProblem]:
    problems = []
    for at, name, owner, _ in uses:
        connection = config.connections.get(name)
        block = _block(config, at[:-1])
        streaming = getattr(block, "streaming", None)  # a streaming write's checkpoint
        for key, path in ((("path",), getattr(block, "path", None)),
                          (("streaming", "checkpoint_location"),
                           getattr(streaming, "checkpoint_location", None))):
            if not isinstance(path, str) or not path.strip():
                continue
            found = _leaves(connection, name, root, path)
            if found is not None:
                prefix = f"[{owner}] " if owner else ""
                problems.append(source.problem((*at[:-1], *key), prefix + found.message,
                                               fix=found.fix))
    return problems


def _leaves(connection: Any, name: str, root: Path, path: str) -> ConfigProblem | None:
    """The problem of ``path`` on ``connection`` when it leaves it; None otherwise (and for
    connections that cannot be built here: their errors come when they are)."""
    if isinstance(connection, LocalConnectionConfig):
        if connection.allow_outside_base_path:
            return None
        built: Any = LocalConnection(name, connection.base_path, root)
    elif isinstance(connection, AzureBlobConnectionConfig):
        try:  # names only: credentials play no part in where a path leads
            built = AzureBlobConnection(name, {"account_name": connection.account_name,
                                               "container": connection.container}, root)
        except ConfigError:
            return None
    else:
        return None
    try:
        built.resolve(path)
    except ConfigError as exc:
        return exc.problems[0]
    return None


def _block(config: Any, at: KeyPath) -> Any:
    """The model at key path ``at`` of ``config`` (e.g. ``pipelines[0].nodes[1].read``)."""
    value = config
    for step in at:
        value = value[step] if isinstance(step, int) else getattr(value, step, None)
        if value is None:
            return None
    return value
