"""``${ENV}`` secrets are read when a run needs them, never baked into what Dagster shows: the
repository snapshot the webserver and the UI receive (assets, metadata, resources, jobs,
schedules, sensors) holds none of a project's credentials."""

from __future__ import annotations

from pathlib import Path

import pytest
from dagster._core.remote_representation.external_data import RepositorySnap
from dagster._serdes import serialize_value

from odibi_dagster.definitions import defs_from_project

SECRETS = {
    "AZURE_KEY": "c2VjcmV0LWFjY291bnQta2V5LWZvci10ZXN0cw==",
    "API_TOKEN": "tok-5f1d3c8a9b7e",
    "PG_PASSWORD": "pw-9a8b7c6d5e",
    "SPARK_TOKEN": "spark-7e6d5c4b3a",
}

PROJECT = """\
project: secrets
engine: polars
spark_config: {spark.kubernetes.authenticate.driver.oauthToken: "${SPARK_TOKEN}"}
connections:
  lake: {type: azure_blob, account_name: acct, container: lake,
         auth: {mode: account_key, account_key: "${AZURE_KEY}"},
         endpoint: "http://127.0.0.1:1/acct"}
  api: {type: http, base_url: "http://127.0.0.1:1/v1",
        auth: {mode: bearer, token: "${API_TOKEN}"}}
  db: {type: sql, url: "postgresql://odibi:${PG_PASSWORD}@127.0.0.1:1/shop"}
pipelines:
  - pipeline: p
    schedule: "0 6 * * *"
    nodes:
      - name: customers
        read: {connection: api, format: api, path: customers}
        write: {connection: lake, format: delta, path: bronze/customers}
      - name: orders
        read: {connection: db, format: sql, table: orders}
        write: {connection: lake, format: delta, path: bronze/orders, mode: append}
"""


def test_the_repository_snapshot_holds_no_secret(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    (tmp_path / "odibi.yaml").write_text(PROJECT, encoding="utf-8")
    defs = defs_from_project(tmp_path / "odibi.yaml")
    text = serialize_value(RepositorySnap.from_def(defs.get_repository_def()))
    assert "bronze/customers" in text and "p_schedule" in text  # the snapshot is the real thing
    assert "oauthToken" in text  # the resources' config is in it (its secret value masked)
    leaked = [name for name, value in SECRETS.items() if value in text]
    assert leaked == []
