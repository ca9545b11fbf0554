"""Connections: local paths and their display, building from config, redaction."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from odibi_core.config.connections import LocalConnectionConfig
from odibi_core.connections import Connection, LocalConnection, build_connection
from odibi_core.errors import ConfigError
from odibi_core.storage.locations import ResolvedLocation


def test_resolve_relative_to_base_and_project(tmp_path: Path):
    lake = LocalConnection("lake", "./lake", tmp_path)
    location = lake.resolve("silver/orders")
    assert location.uri == str(tmp_path / "lake" / "silver" / "orders")
    assert location.display == "lake:silver/orders"
    assert location.connection == "lake" and location.is_local
    assert dict(location.storage_options) == {}


def test_display_is_normalised_and_dotdot_inside_the_base_is_fine(tmp_path: Path):
    lake = LocalConnection("lake", "data/lake", tmp_path)
    assert lake.resolve("./silver//orders").display == "lake:silver/orders"
    assert lake.resolve("silver/../gold/x").uri == str(tmp_path / "data" / "lake" / "gold" / "x")
    assert lake.resolve(str(tmp_path / "data" / "lake" / "x")).uri == str(
        tmp_path / "data" / "lake" / "x")  # absolute, and inside
    assert lake.resolve("orders/*.csv").uri.endswith("/lake/orders/*.csv")


@pytest.mark.parametrize("path", ["../shared/x.csv", "silver/../../lake2/x", "/etc/passwd",
                                  "~/x.csv", "../*.csv"])
def test_paths_leaving_the_base_are_refused_unless_allowed(tmp_path: Path, path: str):
    lake = LocalConnection("lake", "data/lake", tmp_path)
    with pytest.raises(ConfigError) as info:
        lake.resolve(path)
    (problem,) = info.value.problems
    assert f"Path '{path}' on connection 'lake' leaves its base_path" in problem.message
    assert "allow_outside_base_path: true on connections.lake" in (problem.fix or "")
    assert not (tmp_path / "data" / "shared").exists()

    allowed = build_connection("lake", {"type": "local", "base_path": "data/lake",
                                        "allow_outside_base_path": True}, tmp_path)
    base = str(tmp_path / "data" / "lake")
    assert allowed.resolve(path).uri == os.path.abspath(
        os.path.join(base, os.path.expanduser(path)))


def test_absolute_base_path_and_no_path(tmp_path: Path):
    lake = LocalConnection("lake", str(tmp_path / "abs"), "/somewhere/else")
    assert lake.base_path == tmp_path / "abs"
    assert lake.resolve().uri == str(tmp_path / "abs")
    assert lake.resolve(None).display == "lake:"


def test_tables_need_a_catalog(tmp_path: Path):
    with pytest.raises(ConfigError, match=r"Connection 'lake' is a local folder and has no tables"):
        LocalConnection("lake", "lake", tmp_path).resolve(table="sales.orders")


def test_build_connection_from_a_model_or_a_mapping(tmp_path: Path):
    from_model = build_connection("lake", LocalConnectionConfig(type="local", base_path="lake"),
                                  tmp_path)
    from_dict = build_connection("lake", {"type": "local", "base_path": "lake"}, tmp_path)
    assert isinstance(from_model, LocalConnection) and isinstance(from_dict, LocalConnection)
    assert from_model.resolve("x").uri == from_dict.resolve("x").uri


def test_delta_catalog_connections_say_not_available_yet(tmp_path: Path):
    with pytest.raises(ConfigError, match=r"connections.prod.type: Connection 'prod' has type "
                                          r"'delta'.*not available in this version yet"):
        build_connection("prod", {"type": "delta"}, tmp_path)


def test_local_connection_diagnoses_its_folder_and_paths(tmp_path: Path):
    (tmp_path / "lake" / "orders").mkdir(parents=True)
    (tmp_path / "lake" / "orders" / "a.csv").write_text("id\n1\n", encoding="utf-8")
    checks = build_connection("lake", {"type": "local", "base_path": "lake"},
                              tmp_path).diagnose(["orders/*.csv", "customers.csv"])
    assert [(c.name, c.ok) for c in checks] == [
        ("reachable", True), ("authenticated", None), ("path exists", True),
        ("path exists", False)]
    fresh = build_connection("new", {"type": "local", "base_path": "new/lake"}, tmp_path)
    assert [(c.name, c.ok) for c in fresh.diagnose([])] == [
        ("reachable", True), ("authenticated", None)]  # created on the first write
    (tmp_path / "file").write_text("x", encoding="utf-8")
    blocked = build_connection("bad", {"type": "local", "base_path": "file/lake"}, tmp_path)
    assert [(c.name, c.ok) for c in blocked.diagnose([])][0] == ("reachable", False)


def test_unknown_connection_type_suggests(tmp_path: Path):
    with pytest.raises(ConfigError, match=r"unknown type 'locl'\. Did you mean 'local'\?"):
        build_connection("x", {"type": "locl"}, tmp_path)


class _Vault(Connection):
    type = "vault"

    def resolve(self, path=None, *, table=None) -> ResolvedLocation:
        return ResolvedLocation(connection=self.name, uri=f"az://c/{path}", display=self.name,
                                storage_options=self.storage_options(), is_local=False)

    def storage_options(self) -> dict[str, str]:
        return {"account_name": "acme", "account_key": "K3Y==", "sas_token": "sv=2024&sig=abc"}


def test_redaction_replaces_every_secret_value():
    vault = _Vault("blob")
    text = "failed with key K3Y== and token sv=2024&sig=abc for account acme"
    assert vault.redact(text) == "failed with key *** and token *** for account acme"
    assert vault.resolve("x").redact(text) == vault.redact(text)
    assert LocalConnection("lake", "/tmp", "/").redact(text) == text
