"""``azure_blob`` connections for real, against Azurite on loopback (SPEC §1, §2, §8, §9).

- A project whose lake is local by default and on Azurite in the ``prod`` environment runs with
  ``odibi run --env prod`` (one run per auth mode Azurite supports: account key, SAS, connection
  string); the Delta tables are read back from the emulator with ``deltalake``, the parquet,
  csv and json outputs listed there; the same project runs on the local disk without ``--env``.
- No account key, SAS token (or its signature) or connection string appears in the stories, the
  CLI output, the Dagster event log or run tags, also when a run fails (a wrong container, a
  refused SAS token).
- ``aad_msi`` cannot be exercised against Azurite (it needs Azure's instance metadata service
  and HTTPS): what it maps to is checked.
- Globs over blobs, ``odibi doctor``, batch fingerprints of remote files.
- A storage that answers ``503 ServerBusy`` or ``500 OperationTimedOut`` (a proxy process in
  front of Azurite) gives a transient error; one busy answer is absorbed by the client's retry.
"""

from __future__ import annotations

import json
import sys
import urllib.parse
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import dagster as dg
import pytest
from deltalake import DeltaTable

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # `python -m pytest` adds it; a bare `pytest` run does not
    sys.path.insert(0, str(REPO))

from odibi_core.connections import build_connection  # noqa: E402
from odibi_core.connections.azure import AzureBlobConnection  # noqa: E402
from odibi_core.engines import get_engine  # noqa: E402
from odibi_core.storage import azure_blob  # noqa: E402
from odibi_core.error_taxonomy import classify  # noqa: E402
from odibi_core.errors import ConfigError, DataError, TransientError  # noqa: E402
from odibi_core.exactly_once.identity import source_state  # noqa: E402
from odibi_core.storage.requests import ReadRequest, WriteRequest
from odibi_core.testing import assert_frames_equal, frame_from_rows  # noqa: E402
from odibi_dagster.cli.main import main  # noqa: E402
from tests.connections.azurite import (  # noqa: E402
    ACCOUNT,
    KEY,
    Azurite,
    Fault,
    FaultProxy,
    account_sas,
    connection_string,
    sas_signature,
)

# A different, valid key: Azurite refuses it (the well-known key is the only one it accepts).
WRONG_KEY = "QmFkS2V5QmFkS2V5QmFkS2V5QmFkS2V5QmFkS2V5QmFkS2V5QmFkS2V5QmFkS2V5QmFkS2V5QQ=="


@pytest.fixture(scope="module")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    with Azurite(tmp_path_factory.mktemp("azurite") / "data") as server:
        for container in ("lake", "raw", "other"):
            server.create_container(container)
        yield server


def _connection(azurite: Azurite, container: str = "raw", **auth: str) -> AzureBlobConnection:
    return AzureBlobConnection("blob", {
        "type": "azure_blob", "account_name": ACCOUNT, "container": container,
        "endpoint": azurite.endpoint,
        "auth": auth or {"mode": "account_key", "account_key": KEY}}, REPO)


# ---- the connection ---------------------------------------------------------------------------
def test_resolve_paths_to_abfss_uris() -> None:
    lake = AzureBlobConnection("lake", {"type": "azure_blob", "account_name": "acme",
                                        "container": "lake"}, REPO)
    location = lake.resolve("silver/orders/")
    assert location.uri == "abfss://lake@acme.dfs.core.windows.net/silver/orders"
    assert location.display == "lake:silver/orders/" and not location.is_local
    assert location.storage_options == {"account_name": "acme"}  # ambient credentials
    for written in ("abfss://lake@acme.dfs.core.windows.net/silver/orders",
                    "az://lake/silver/orders", "/silver/./orders"):
        assert lake.resolve(written).uri == location.uri
    assert lake.resolve(None).uri == "abfss://lake@acme.dfs.core.windows.net/"
    with pytest.raises(ConfigError, match="names another container"):
        lake.resolve("abfss://raw@acme.dfs.core.windows.net/x")
    with pytest.raises(ConfigError, match="leaves the container"):
        lake.resolve("../raw/x")
    with pytest.raises(ConfigError, match="has no tables"):
        lake.resolve(table="orders")


def test_bad_names_and_endpoints_are_config_errors() -> None:
    with pytest.raises(ConfigError) as caught:
        AzureBlobConnection("lake", {"type": "azure_blob", "account_name": "Acme_1",
                                     "container": "My_Lake"}, REPO)
    assert [p.key_path for p in caught.value.problems] == [
        "connections.lake.container", "connections.lake.account_name"]
    with pytest.raises(ConfigError, match="is not the account name") as caught:
        AzureBlobConnection("lake", {"type": "azure_blob", "account_name": "acme",
                                     "container": "lake",
                                     "endpoint": "http://127.0.0.1:10000/other"}, REPO)
    assert caught.value.problems[0].key_path == "connections.lake.endpoint"


def test_auth_modes_map_to_storage_options() -> None:
    def options(auth: dict[str, str] | None, endpoint: str | None = None) -> dict[str, str]:
        config = {"type": "azure_adls", "account_name": ACCOUNT, "container": "lake",
                  "auth": auth, "endpoint": endpoint}
        return build_connection("lake", config, REPO).storage_options()

    emulator = "http://127.0.0.1:10000/devstoreaccount1"
    assert options({"mode": "account_key", "account_key": KEY}, "http://127.0.0.1:10000") == {
        "account_name": ACCOUNT, "azure_storage_endpoint": emulator, "allow_http": "true",
        "account_key": KEY}
    assert options({"mode": "sas", "sas_token": "?sv=1&sig=abc%2Bdefghij"}) == {
        "account_name": ACCOUNT, "sas_token": "sv=1&sig=abc%2Bdefghij"}
    assert options({"mode": "connection_string", "connection_string": connection_string(
        emulator)}) == {"account_name": ACCOUNT, "account_key": KEY,
                        "azure_storage_endpoint": emulator, "allow_http": "true"}
    assert options({"mode": "connection_string",
                    "connection_string": "UseDevelopmentStorage=true"}) == {
        "account_name": ACCOUNT, "account_key": KEY, "azure_storage_endpoint": emulator,
        "allow_http": "true"}
    assert options({"mode": "connection_string", "connection_string":
                    f"AccountName={ACCOUNT};SharedAccessSignature=sv=2&sig=xyz12345;"
                    "EndpointSuffix=core.chinacloudapi.cn"}) == {
        "account_name": ACCOUNT, "sas_token": "sv=2&sig=xyz12345",
        "azure_storage_endpoint": f"https://{ACCOUNT}.blob.core.chinacloudapi.cn"}
    # Managed identity: no secret; a user-assigned identity is picked by client_id (delta-rs
    # and polars: object_store's IMDS credential; pyarrow: ManagedIdentityCredential).
    assert options({"mode": "aad_msi", "client_id": "0000-1111"}) == {
        "account_name": ACCOUNT, "client_id": "0000-1111"}
    assert options({"mode": "aad_msi"}) == {"account_name": ACCOUNT}
    msi = build_connection("lake", {"type": "azure_blob", "account_name": ACCOUNT,
                                    "container": "lake",
                                    "auth": {"mode": "aad_msi", "client_id": "0000-1111"}}, REPO)
    assert type(azure_blob.filesystem(msi.resolve("x"))).__name__ == "AzureFileSystem"
    assert msi.secret_values() == ()


def test_connection_strings_are_checked_without_being_echoed() -> None:
    secret = "AccountName=devstoreaccount1;AccountKey"
    with pytest.raises(ConfigError) as caught:
        build_connection("lake", {"type": "azure_blob", "account_name": ACCOUNT,
                                  "container": "lake", "auth": {
                                      "mode": "connection_string",
                                      "connection_string": secret}}, REPO)
    assert "part 2 of the connection string is not Key=Value" in str(caught.value)
    assert secret not in str(caught.value)
    with pytest.raises(ConfigError, match="neither AccountKey nor SharedAccessSignature"):
        build_connection("lake", {"type": "azure_blob", "account_name": ACCOUNT,
                                  "container": "lake", "auth": {
                                      "mode": "connection_string",
                                      "connection_string": "AccountName=devstoreaccount1"}},
                         REPO)


def test_secret_values_cover_the_sas_signature_in_every_spelling() -> None:
    sas = account_sas()
    lake = AzureBlobConnection("lake", {"type": "azure_blob", "account_name": ACCOUNT,
                                        "container": "lake",
                                        "auth": {"mode": "sas", "sas_token": sas}}, REPO)
    signature = sas_signature(sas)
    for spelling in (sas, signature, urllib.parse.quote(signature, safe="")):
        assert lake.redact(f"GET /lake?x=1&{spelling}&y") == "GET /lake?x=1&***&y"


# ---- auth modes and files on Azurite ---------------------------------------------------------
AUTH_MODES = ["account_key", "sas", "connection_string"]


def _auth(mode: str, endpoint: str) -> dict[str, str]:
    if mode == "account_key":
        return {"mode": "account_key", "account_key": KEY}
    if mode == "sas":
        return {"mode": "sas", "sas_token": account_sas()}
    return {"mode": "connection_string", "connection_string": connection_string(endpoint)}


@pytest.mark.parametrize("mode", AUTH_MODES)
def test_each_auth_mode_writes_and_reads(azurite: Azurite, mode: str) -> None:
    blob = _connection(azurite, **_auth(mode, azurite.endpoint))
    pandas, polars = get_engine("pandas"), get_engine("polars")
    rows = [{"id": 1, "name": "ada"}, {"id": 2, "name": "alan"}]
    frame = frame_from_rows(pandas, rows, schema={"id": "int64", "name": "string"})
    for fmt, path in (("delta", f"auth/{mode}/table"), ("csv", f"auth/{mode}/file.csv"),
                      ("parquet", f"auth/{mode}/parts")):
        location = blob.resolve(path)
        pandas.write(frame, WriteRequest(location=location, format=fmt))
        assert_frames_equal(polars, polars.read(ReadRequest(location=location, format=fmt)),
                            rows)
    table = DeltaTable(f"abfss://raw@{ACCOUNT}.dfs.core.windows.net/auth/{mode}/table",
                       storage_options=azurite.storage_options())
    assert table.version() == 0 and table.to_pyarrow_table().num_rows == 2


def test_globs_over_blobs(azurite: Azurite) -> None:
    blob = _connection(azurite)
    engine = get_engine("pandas")
    for path, rows in (("globs/2026/01/a.csv", [{"n": 1}]), ("globs/2026/02/b.csv", [{"n": 2}]),
                       ("globs/2026/02/_hidden.csv", [{"n": 99}]),
                       ("globs/2026/c.csv", [{"n": 3}]), ("globs/2026/02/d.json", [{"n": 4}])):
        fmt = path.rsplit(".", 1)[1]
        engine.write(frame_from_rows(engine, rows), WriteRequest(location=blob.resolve(path),
                                                                 format=fmt))

    def read(path: str, fmt: str = "csv") -> list[int]:
        frame = engine.read(ReadRequest(location=blob.resolve(path), format=fmt))
        return sorted(row["n"] for row in engine.to_rows(frame))

    assert read("globs/2026/*/*.csv") == [1, 2]  # `*` stays within a folder; `_` is hidden
    assert read("globs/**/*.csv") == [1, 2, 3]
    assert read("globs/2026/0?/[ab].csv") == [1, 2]
    assert read("globs/2026/02") == [2]  # a folder: its csv files
    assert read("globs/2026/02", "json") == [4]
    with pytest.raises(DataError, match=r"No file matches blob:globs/2027/\*\.csv .*which does "
                                        r"not exist"):
        read("globs/2027/*.csv")
    with pytest.raises(DataError, match="blob:globs/nothing does not exist"):
        read("globs/nothing")


def test_batch_fingerprint_of_remote_files(azurite: Azurite) -> None:
    blob = _connection(azurite)
    engine = get_engine("pandas")
    location = blob.resolve("fingerprint/*.csv")
    engine.write(frame_from_rows(engine, [{"n": 1}]),
                 WriteRequest(location=blob.resolve("fingerprint/a.csv"), format="csv"))
    first = source_state(location, "csv")
    assert first is not None and [f[0] for f in first["files"]] == ["a.csv"]
    assert first["files"][0][1] > 0 and first["files"][0][2] > 0  # size, mtime
    assert source_state(location, "csv") == first  # unchanged input, same batch
    engine.write(frame_from_rows(engine, [{"n": 2}]),
                 WriteRequest(location=blob.resolve("fingerprint/b.csv"), format="csv"))
    assert [f[0] for f in source_state(location, "csv")["files"]] == ["a.csv", "b.csv"]
    assert source_state(blob.resolve("fingerprint/none/*.csv"), "csv") == {"files": []}
    assert source_state(blob.resolve("fingerprint/missing"), "csv") is None


def test_doctor_checks_the_container_and_the_paths(azurite: Azurite) -> None:
    good = _connection(azurite).diagnose(["globs/**/*.csv", "not/there.csv"])
    assert [(c.name, c.ok) for c in good] == [
        ("reachable", True), ("authenticated", True), ("path exists", True),
        ("path exists", False)]
    refused = _connection(azurite, mode="account_key", account_key=WRONG_KEY).diagnose([])
    assert [(c.name, c.ok) for c in refused] == [("reachable", True), ("authenticated", False)]
    assert WRONG_KEY not in str(refused)
    missing = _connection(azurite, container="nope").diagnose([])
    assert missing[-1].ok is False and "container 'nope' does not exist" in missing[-1].detail
    down = AzureBlobConnection("down", {"type": "azure_blob", "account_name": ACCOUNT,
                                        "container": "lake",
                                        "endpoint": "http://127.0.0.1:9/devstoreaccount1",
                                        "auth": {"mode": "account_key", "account_key": KEY}},
                               REPO).diagnose([])
    assert [(c.name, c.ok) for c in down] == [("reachable", False)]


# ---- a project: dev on the local disk, prod on Azurite ----------------------------------------
PROJECT = """\
project: azure_demo
engine: {engine}
connections:
  landing: {{type: local, base_path: ./landing}}
  state: {{type: local, base_path: ./state}}
  lake: {{type: local, base_path: ./lake}}
story: {{connection: state, path: _stories}}
system: {{connection: state, path: _system}}
environments:
  prod:
    connections:
      lake:
        type: azure_blob
        account_name: devstoreaccount1
        container: ${{LAKE_CONTAINER}}
        endpoint: ${{AZURITE_ENDPOINT}}
        auth: {auth}
pipelines:
  - pipeline: sales
    nodes:
      - name: raw_orders
        read: {{connection: landing, format: csv, path: orders/*.csv}}
        write: {{connection: lake, format: delta, path: bronze/orders, mode: append}}
      - name: orders
        depends_on: [raw_orders]
        read: {{connection: lake, format: delta, path: bronze/orders}}
        transform:
          steps:
            - "SELECT order_id, upper(country) AS country, amount FROM df WHERE amount > 0"
        write: {{connection: lake, format: delta, path: silver/orders, mode: overwrite}}
      - name: by_country
        depends_on: [orders]
        transform:
          steps:
            - "SELECT country, sum(amount) AS total FROM df GROUP BY country ORDER BY country"
        write: {{connection: lake, format: parquet, path: gold/by_country}}
      - name: export_csv
        depends_on: [by_country]
        write: {{connection: lake, format: csv, path: exports/by_country.csv}}
      - name: export_json
        depends_on: [by_country]
        write: {{connection: lake, format: json, path: exports/by_country.jsonl}}
"""
AUTH_BLOCKS = {
    "account_key": "{mode: account_key, account_key: \"${AZURE_STORAGE_KEY}\"}",
    "sas": "{mode: sas, sas_token: \"${AZURE_SAS_TOKEN}\"}",
    "connection_string": "{mode: connection_string, connection_string: "
                         "\"${AZURE_STORAGE_CONNECTION_STRING}\"}",
}
ORDERS = """\
order_id,country,amount
1,uk,10.5
2,us,20.0
3,uk,4.5
4,nl,-1.0
"""


def _project(root: Path, auth: str, engine: str = "pandas") -> Path:
    (root / "landing" / "orders").mkdir(parents=True)
    (root / "landing" / "orders" / "orders.csv").write_text(ORDERS, encoding="utf-8")
    (root / "odibi.yaml").write_text(PROJECT.format(engine=engine, auth=AUTH_BLOCKS[auth]),
                                     encoding="utf-8")
    return root


@pytest.fixture
def secrets_env(azurite: Azurite, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The environment variables the project's prod connection reads, one container each
    test; returns the secret values to look for."""
    sas = account_sas()
    values = {"AZURE_STORAGE_KEY": KEY, "AZURE_SAS_TOKEN": sas,
              "AZURE_STORAGE_CONNECTION_STRING": connection_string(azurite.endpoint),
              "AZURITE_ENDPOINT": azurite.endpoint, "LAKE_CONTAINER": "lake"}
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    signature = sas_signature(sas)
    return {"key": KEY, "sas": sas, "sig": signature,
            "sig_encoded": urllib.parse.quote(signature, safe=""),
            "connection_string": values["AZURE_STORAGE_CONNECTION_STRING"]}


def _everything_shown(root: Path, out: str) -> str:
    """Stories, CLI output, and every Dagster event and run tag of the instance, as text."""
    texts = [out]
    texts += [p.read_text(encoding="utf-8", errors="replace")
              for p in (root / "state").rglob("*") if p.is_file()]
    with dg.DagsterInstance.get() as instance:
        for run in instance.get_runs():
            texts.append(json.dumps(run.tags))
            texts += [dg.serialize_value(entry) for entry in instance.all_logs(run.run_id)]
    return "\n".join(texts)


def _assert_no_secret(text: str, secrets: dict[str, str]) -> None:
    leaked = [name for name, value in secrets.items() if value in text]
    assert not leaked, f"secrets shown: {leaked}"


def _lake_table(azurite: Azurite, container: str, path: str) -> DeltaTable:
    return DeltaTable(f"abfss://{container}@{ACCOUNT}.dfs.core.windows.net/{path}",
                      storage_options=azurite.storage_options())


@pytest.mark.parametrize("auth", AUTH_MODES)
def test_prod_environment_runs_on_azurite_and_dev_on_local_disk(
        azurite: Azurite, tmp_path: Path, secrets_env: dict[str, str], auth: str,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    container = f"env-{auth.replace('_', '-')}"
    azurite.create_container(container)
    monkeypatch.setenv("LAKE_CONTAINER", container)
    root = _project(tmp_path / "project", auth)

    assert main(["run", str(root), "--env", "prod"]) == 0, capsys.readouterr()
    out = capsys.readouterr().out
    assert not (root / "lake").exists()  # prod wrote nothing locally
    silver = _lake_table(azurite, container, "silver/orders").to_pyarrow_table()
    assert sorted(silver.to_pylist(), key=lambda r: r["order_id"]) == [
        {"order_id": 1, "country": "UK", "amount": 10.5},
        {"order_id": 2, "country": "US", "amount": 20.0},
        {"order_id": 3, "country": "UK", "amount": 4.5}]
    lake = _connection(azurite, container=container)
    pandas = get_engine("pandas")
    expected = [{"country": "UK", "total": 15.0}, {"country": "US", "total": 20.0}]
    for fmt, path in (("parquet", "gold/by_country"), ("csv", "exports/by_country.csv"),
                      ("json", "exports/by_country.jsonl")):
        assert_frames_equal(pandas, pandas.read(ReadRequest(location=lake.resolve(path),
                                                            format=fmt)), expected)

    # The same batch again: the append to the remote Delta table adds nothing.
    assert main(["run", str(root), "--env", "prod"]) == 0
    out += capsys.readouterr().out
    bronze = _lake_table(azurite, container, "bronze/orders")
    assert bronze.to_pyarrow_table().num_rows == 4 and bronze.version() == 0

    # dev (no --env): the local lake, Azurite untouched.
    assert main(["run", str(root)]) == 0
    out += capsys.readouterr().out
    local = DeltaTable(str(root / "lake" / "silver" / "orders")).to_pyarrow_table()
    assert local.num_rows == 3
    assert _lake_table(azurite, container, "silver/orders").version() == 1
    with dg.DagsterInstance.get() as instance:
        assert sorted(r.tags["odibi/env"] for r in instance.get_runs()) == [
            "default", "prod", "prod"]
    _assert_no_secret(_everything_shown(root, out), secrets_env)


@pytest.mark.parametrize("auth,container,expected", [
    ("sas", "missing", "the container 'missing' does not exist in storage account "
                       "'devstoreaccount1'"),
    ("account_key", "lake", "refused the credentials of connection 'lake'"),
])
def test_failed_runs_show_no_secret(azurite: Azurite, tmp_path: Path,
                                    secrets_env: dict[str, str], auth: str, container: str,
                                    expected: str, monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("LAKE_CONTAINER", container)
    if container == "lake":
        monkeypatch.setenv("AZURE_STORAGE_KEY", WRONG_KEY)
        secrets_env = {**secrets_env, "wrong_key": WRONG_KEY}
    root = _project(tmp_path / "project", auth)
    assert main(["run", str(root), "--env", "prod"]) != 0
    captured = capsys.readouterr()
    shown = _everything_shown(root, captured.out + captured.err)
    assert expected in shown
    _assert_no_secret(shown, secrets_env)


def test_doctor_on_the_prod_environment(azurite: Azurite, tmp_path: Path,
                                        secrets_env: dict[str, str],
                                        capsys: pytest.CaptureFixture[str]) -> None:
    root = _project(tmp_path / "project", "sas")
    # The node `orders` reads bronze/orders, which the first run writes: not there yet.
    assert main(["doctor", str(root), "--env", "prod"]) == 1
    out = capsys.readouterr().out
    rows = [line.split(None, 4) for line in out.splitlines() if line.startswith("lake ")]
    assert [row[1:4] for row in rows] == [["azure_blob", "reachable", "ok"],
                                         ["azure_blob", "authenticated", "ok"],
                                         ["azure_blob", "path", "exists"]]
    assert rows[1][4].strip() == "auth sas"
    assert rows[2][4].split()[:2] == ["FAILED", "lake:bronze/orders"]
    assert "1 of 3 connection(s) failed a check (environment prod): lake." in out
    _assert_no_secret(out, secrets_env)


# ---- throttling and server-busy answers -------------------------------------------------------
@pytest.fixture(scope="module")
def proxy(azurite: Azurite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultProxy]:
    with FaultProxy(azurite.port, tmp_path_factory.mktemp("proxy")) as running:
        yield running


@pytest.mark.parametrize("fault,category", [
    (Fault(503, "ServerBusy"), "storage_throttled"),
    (Fault(500, "OperationTimedOut",
           "Operation could not be completed within the specified time."), "timeout"),
])
def test_busy_storage_is_a_transient_error(azurite: Azurite, proxy: FaultProxy,
                                           fault: Fault, category: str) -> None:
    sas = account_sas()
    blob = AzureBlobConnection("lake", {"type": "azure_blob", "account_name": ACCOUNT,
                                        "container": "raw", "endpoint": proxy.endpoint,
                                        "auth": {"mode": "sas", "sas_token": sas}}, REPO)
    engine = get_engine("pandas")
    rows = [{"n": 1}]
    proxy.heal()
    engine.write(frame_from_rows(engine, rows), WriteRequest(
        location=blob.resolve("busy/file.csv"), format="csv"))
    engine.write(frame_from_rows(engine, rows), WriteRequest(
        location=blob.resolve("busy/table"), format="delta"))

    # One busy answer: the storage client retries it itself.
    proxy.fail(1, fault)
    assert_frames_equal(engine, engine.read(ReadRequest(location=blob.resolve("busy/file.csv"),
                                                        format="csv")), rows)
    assert proxy.faults_served == 1

    # Busy on every request: a transient error once the client gives up (pyarrow's Azure
    # client tries 4 times; delta-rs is told to retry once instead of for up to 3 minutes).
    proxy.fail(None, fault)
    delta = blob.resolve("busy/table")
    delta = replace(delta, storage_options={**delta.storage_options, "max_retries": "1",
                                            "retry_timeout": "5s"})
    try:
        for location, fmt in ((blob.resolve("busy/file.csv"), "csv"), (delta, "delta")):
            for name in ("pandas", "polars"):
                with pytest.raises(TransientError) as caught:
                    get_engine(name).read(ReadRequest(location=location, format=fmt))
                assert classify(caught.value).transient
                assert classify(caught.value.__cause__).name == category, caught.value
                text = str(caught.value) + repr(caught.value.__cause__)
                assert fault.code in text
                assert sas_signature(sas) not in text and sas not in text
                assert urllib.parse.quote(sas_signature(sas), safe="") not in text
        assert proxy.faults_served >= 4 * 2 + 2 * 2  # answered by the proxy, not Azurite
    finally:
        proxy.heal()


def test_spark_with_an_azure_lake_is_refused_by_validate(azurite: Azurite, tmp_path: Path,
                                                         secrets_env: dict[str, str],
                                                         capsys: pytest.CaptureFixture[str]
                                                         ) -> None:
    root = _project(tmp_path / "project", "account_key", engine="spark")
    assert main(["validate", str(root)]) == 0  # dev: the lake is local
    capsys.readouterr()
    assert main(["validate", str(root), "--env", "prod"]) != 0
    captured = capsys.readouterr()
    out = captured.out + captured.err
    lines = (root / "odibi.yaml").read_text(encoding="utf-8").splitlines()
    write_line = next(i for i, line in enumerate(lines, 1) if "path: bronze/orders, mode" in line)
    assert (f"odibi.yaml:{write_line}: pipelines[0].nodes[0].write.connection: [sales.raw_orders] "
            "The spark engine cannot write to connection 'lake' (type azure_blob)") in out
    assert "Fix: Run this project (or this environment) with `engine: pandas`" in out
    _assert_no_secret(out, secrets_env)
