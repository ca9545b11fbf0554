"""csv, parquet, json and Delta on an ``azure_blob`` connection (Azurite on loopback), on every
engine: pandas and polars read and write them; Spark refuses such a project when it is loaded
(``odibi validate``), not when it runs.
"""

from __future__ import annotations

import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from deltalake import DeltaTable

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # `python -m pytest` adds it; a bare `pytest` run does not
    sys.path.insert(0, str(REPO))

from odibi_core.config import load_project  # noqa: E402
from odibi_core.connections.azure import AzureBlobConnection  # noqa: E402
from odibi_core.storage import azure_blob  # noqa: E402
from odibi_core.engines.base import Engine
from odibi_core.errors import ConfigError, DataError  # noqa: E402
from odibi_core.storage.requests import ReadRequest, WriteRequest
from odibi_core.testing import assert_frames_equal, frame_from_rows  # noqa: E402
from tests.connections.azurite import ACCOUNT, KEY, Azurite  # noqa: E402

ROWS = [
    {"id": 1, "name": "ada", "amount": 10.5, "active": True},
    {"id": 2, "name": None, "amount": None, "active": False},
    {"id": 3, "name": "alan", "amount": 7.25, "active": None},
]
SCHEMA = {"id": "int64", "name": "string", "amount": "float64", "active": "bool"}


@pytest.fixture(scope="module")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    with Azurite(tmp_path_factory.mktemp("azurite") / "data") as server:
        server.create_container("conformance")
        yield server


@pytest.fixture
def blob(azurite: Azurite) -> AzureBlobConnection:
    return AzureBlobConnection("lake", {
        "type": "azure_blob", "account_name": ACCOUNT, "container": "conformance",
        "endpoint": azurite.endpoint, "auth": {"mode": "account_key", "account_key": KEY}},
        REPO)


@pytest.fixture
def prefix() -> str:
    """A folder of its own for each test."""
    return uuid.uuid4().hex[:12]


def _frame(engine: Engine, rows=ROWS):
    return frame_from_rows(engine, rows, schema=SCHEMA)


def _write(engine, blob, frame, path, fmt, mode="overwrite", **kw):
    return engine.write(frame, WriteRequest(location=blob.resolve(path), format=fmt, mode=mode,
                                            **kw))


def _read(engine, blob, path, fmt, **kw):
    return engine.read(ReadRequest(location=blob.resolve(path), format=fmt, **kw))


def _blobs(blob: AzureBlobConnection, folder: str) -> list[str]:
    """The blob names under ``folder``, relative to it."""
    import pyarrow.fs as pafs

    location = blob.resolve(folder)
    root = azure_blob.fs_path(location.uri)
    infos = azure_blob.filesystem(location).get_file_info(
        pafs.FileSelector(root, recursive=True, allow_not_found=True))
    return sorted(i.path[len(root) + 1:] for i in infos if i.type == pafs.FileType.File)


def _spark_refuses(tmp_path: Path, azurite: Azurite, fmt: str) -> None:
    """engine: spark with a read and a write of ``fmt`` on azure_blob: a ConfigError at load
    time naming the file, line, key path and fix of each use."""
    project = tmp_path / "odibi.yaml"
    project.write_text(textwrap.dedent(f"""\
        project: spark_on_azure
        engine: spark
        connections:
          local: {{type: local, base_path: ./local}}
          lake:
            type: azure_blob
            account_name: {ACCOUNT}
            container: conformance
            endpoint: {azurite.endpoint}
            auth: {{mode: account_key, account_key: "{KEY}"}}
        system: {{connection: local, path: _system}}
        pipelines:
          - pipeline: p
            nodes:
              - name: copy
                read: {{connection: lake, format: {fmt}, path: in/data}}
                write: {{connection: lake, format: {fmt}, path: out/data}}
        """), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_project(project)
    problems = caught.value.problems
    assert [(p.file, p.line, p.key_path) for p in problems] == [
        (project, 16, "pipelines[0].nodes[0].read.connection"),
        (project, 17, "pipelines[0].nodes[0].write.connection")]
    assert problems[0].message == (
        "[p.copy] The spark engine cannot read from connection 'lake' (type azure_blob): Azure "
        "Blob / ADLS storage is not supported on this engine yet (it is on pandas and polars).")
    assert "write to connection 'lake'" in problems[1].message
    assert "engine: pandas" in (problems[0].fix or "")
    assert KEY not in str(caught.value)


@pytest.mark.parametrize("fmt,path", [
    ("csv", "orders.csv"), ("parquet", "orders.parquet"), ("json", "orders.json"),
    ("json", "orders.jsonl"), ("csv", "orders.csv.gz"),
])
def test_single_file_round_trip(engine, blob, azurite, prefix, tmp_path, fmt, path):
    if engine.name == "spark":
        return _spark_refuses(tmp_path, azurite, fmt)
    result = _write(engine, blob, _frame(engine), f"{prefix}/{path}", fmt)
    assert result.rows_written == 3 and result.files_written == 1 and result.connection == "lake"
    assert result.location == f"abfss://conformance@{ACCOUNT}.dfs.core.windows.net/{prefix}/{path}"
    assert _blobs(blob, prefix) == [path]  # no temporary blob left behind
    assert_frames_equal(engine, _read(engine, blob, f"{prefix}/{path}", fmt), ROWS)


@pytest.mark.parametrize("fmt", ["csv", "parquet", "json"])
def test_folder_overwrite_then_append(engine, blob, azurite, prefix, tmp_path, fmt):
    if engine.name == "spark":
        return _spark_refuses(tmp_path, azurite, fmt)
    folder = f"{prefix}/orders"
    _write(engine, blob, _frame(engine), folder, fmt)
    first = _blobs(blob, folder)
    assert len(first) == 1 and first[0].startswith("part-00000-") and first[0].endswith(fmt)

    _write(engine, blob, _frame(engine, ROWS[:1]), folder, fmt, mode="append")
    parts = _blobs(blob, folder)
    assert len(parts) == 2 and parts[1].startswith("part-00001-")
    assert_frames_equal(engine, _read(engine, blob, folder, fmt), ROWS + ROWS[:1])
    assert_frames_equal(engine, _read(engine, blob, f"{folder}/part-*", fmt), ROWS + ROWS[:1])

    _write(engine, blob, _frame(engine, ROWS[1:2]), folder, fmt)  # overwrite: old parts go
    assert len(_blobs(blob, folder)) == 1
    assert_frames_equal(engine, _read(engine, blob, folder, fmt), ROWS[1:2])


def test_files_and_folders_are_not_confused(engine, blob, azurite, prefix, tmp_path):
    if engine.name == "spark":
        return _spark_refuses(tmp_path, azurite, "parquet")
    _write(engine, blob, _frame(engine), f"{prefix}/one.parquet", "parquet")
    with pytest.raises(DataError, match="Cannot append to lake:.*single parquet file"):
        _write(engine, blob, _frame(engine), f"{prefix}/one.parquet", "parquet", mode="append")
    _write(engine, blob, _frame(engine), f"{prefix}/dir.parquet", "csv")  # csv part files
    with pytest.raises(DataError, match=r"The folder lake:.*/dir.parquet .* holds no parquet"):
        _read(engine, blob, f"{prefix}/dir.parquet", "parquet")
    with pytest.raises(DataError, match=r"lake:.*/dir.parquet is a folder, not a parquet file"):
        _write(engine, blob, _frame(engine), f"{prefix}/dir.parquet", "parquet")
    location = blob.resolve(f"{prefix}/plain")
    fs = azure_blob.filesystem(location)
    with fs.open_output_stream(azure_blob.fs_path(location.uri)) as out:
        out.write(b"id\n1\n")
    with pytest.raises(DataError, match=r"lake:.*/plain is a file, but a path without a '.csv'"):
        _write(engine, blob, _frame(engine), f"{prefix}/plain", "csv")


def test_partitioned_parquet(engine, blob, azurite, prefix, tmp_path):
    if engine.name == "spark":
        return _spark_refuses(tmp_path, azurite, "parquet")
    rows = [{"day": "2026-01-01", "n": 1}, {"day": "2026-01-02", "n": 2},
            {"day": "2026-01-01", "n": 3}]
    frame = frame_from_rows(engine, rows, schema={"day": "string", "n": "int64"})
    folder = f"{prefix}/by_day"
    result = _write(engine, blob, frame, folder, "parquet", partition_by=["day"])
    assert result.files_written == 2
    assert [name.split("/")[0] for name in _blobs(blob, folder)] == ["day=2026-01-01",
                                                                     "day=2026-01-02"]
    _write(engine, blob, frame_from_rows(engine, rows[:1], schema={"day": "string", "n": "int64"}),
           folder, "parquet", mode="append", partition_by=["day"])
    back = engine.to_rows(_read(engine, blob, folder, "parquet"))
    assert sorted((r["day"], r["n"]) for r in back) == [
        ("2026-01-01", 1), ("2026-01-01", 1), ("2026-01-01", 3), ("2026-01-02", 2)]


def test_delta_on_azure(engine, blob, azurite, prefix, tmp_path):
    if engine.name == "spark":
        return _spark_refuses(tmp_path, azurite, "delta")
    path = f"{prefix}/table"
    assert engine.read_schema(ReadRequest(location=blob.resolve(path), format="delta")) is None
    first = _write(engine, blob, _frame(engine), path, "delta")
    assert first.delta_version == 0
    _write(engine, blob, _frame(engine, ROWS[:1]), path, "delta", mode="append")
    changed = [{**ROWS[0], "name": "ada lovelace"}, {"id": 4, "name": "grace", "amount": 1.0,
                                                     "active": True}]
    upsert = _write(engine, blob, _frame(engine, changed), path, "delta", mode="upsert",
                    options={"keys": ["id"]})
    assert upsert.delta_version == 2
    table = DeltaTable(f"abfss://conformance@{ACCOUNT}.dfs.core.windows.net/{path}",
                       storage_options=azurite.storage_options())
    assert table.version() == 2
    latest = engine.to_rows(_read(engine, blob, path, "delta"))
    assert sorted((r["id"], r["name"]) for r in latest) == [
        (1, "ada lovelace"), (1, "ada lovelace"), (2, None), (3, "alan"), (4, "grace")]
    assert_frames_equal(engine, _read(engine, blob, path, "delta", as_of_version=0), ROWS)
    schema = engine.read_schema(ReadRequest(location=blob.resolve(path), format="delta"))
    assert [c.name for c in schema] == ["id", "name", "amount", "active"]
    with pytest.raises(DataError, match=r"lake:.*/table is a Delta table, not a folder of "
                                        r"parquet files"):
        _read(engine, blob, path, "parquet")
    with pytest.raises(DataError, match="There is no Delta table at lake:"):
        _read(engine, blob, f"{prefix}/nothing", "delta")


def test_dead_letters_of_a_remote_csv(engine, blob, azurite, prefix, tmp_path):
    if engine.name == "spark":
        return _spark_refuses(tmp_path, azurite, "csv")
    location = blob.resolve(f"{prefix}/in/bad.csv")
    fs = azure_blob.filesystem(location)
    with fs.open_output_stream(azure_blob.fs_path(location.uri)) as out:
        out.write(b'id,name\n1,ada\n2,"unclosed\n')
    frame, batch = engine.read_with_dead_letters(ReadRequest(
        location=blob.resolve(f"{prefix}/in/*.csv"), format="csv", node="p.n"))
    assert engine.to_rows(frame) == [{"id": 1, "name": "ada"}]
    assert [(d.source_file, d.line) for d in batch.dead_letters] == [(f"{prefix}/in/bad.csv", 3)]
    assert [(f.path, f.size) for f in batch.files] == [(f"{prefix}/in/bad.csv", 26)]
    with pytest.raises(DataError, match=rf"lake:{prefix}/in/bad.csv, line 3"):
        _read(engine, blob, f"{prefix}/in/bad.csv", "csv")


def test_delta_change_feed_on_azure(engine, blob, azurite, prefix, tmp_path):
    """A table created with ``table_properties`` records its changes; the change feed is read
    through the connection's storage options."""
    from odibi_core.storage.requests import ChangeFeedRead

    if engine.name == "spark":
        return _spark_refuses(tmp_path, azurite, "delta")
    path = f"{prefix}/feed"
    cdf = {"delta.enableChangeDataFeed": "true"}
    _write(engine, blob, _frame(engine), path, "delta", table_properties=cdf)
    changed = [{**ROWS[0], "name": "ada lovelace"}]
    _write(engine, blob, _frame(engine, changed), path, "delta", mode="upsert",
           options={"keys": ["id"]}, table_properties=cdf)
    table = DeltaTable(f"abfss://conformance@{ACCOUNT}.dfs.core.windows.net/{path}",
                       storage_options=azurite.storage_options())
    assert table.version() == 1 and table.metadata().configuration == cdf
    feed = engine.to_rows(_read(engine, blob, path, "delta",
                                change_feed=ChangeFeedRead(starting_version=1)))
    assert sorted((r["id"], r["name"], r["_change_type"], r["_commit_version"]) for r in feed) \
        == [(1, "ada", "update_preimage", 1), (1, "ada lovelace", "update_postimage", 1)]
    assert engine.count(_read(engine, blob, path, "delta",
                              change_feed=ChangeFeedRead(starting_version=2))) == 0

    plain = f"{prefix}/plain"
    _write(engine, blob, _frame(engine), plain, "delta")
    with pytest.raises(DataError, match=r"lake:.*/plain has no change data feed for version 0"):
        _read(engine, blob, plain, "delta", change_feed=ChangeFeedRead(starting_version=0))
    with pytest.raises(DataError, match="There is no Delta table at lake:"):
        _read(engine, blob, f"{prefix}/nothing", "delta",
              change_feed=ChangeFeedRead(starting_version=0))

    # The upsert rewrote version 0's file: once vacuumed, version 0's changes are gone.
    DeltaTable(f"abfss://conformance@{ACCOUNT}.dfs.core.windows.net/{path}",
               storage_options=azurite.storage_options()).vacuum(
        retention_hours=0, enforce_retention_duration=False, dry_run=False)
    with pytest.raises(DataError, match=r"versions 0 to \d+ of the Delta table lake:.*/feed "
                                        r"can no longer be read"):
        _read(engine, blob, path, "delta", change_feed=ChangeFeedRead(starting_version=0))
