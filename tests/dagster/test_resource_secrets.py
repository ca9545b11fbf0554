"""Secrets of a project's spark_config are not in the resources' fields, which the Dagster UI
shows and each run stores; the session still gets the real values."""

from __future__ import annotations

from pathlib import Path

import pytest

from odibi_core.config import load_project
from odibi_dagster.definitions import engine_resources_for
from odibi_dagster.resources import real_spark_config

PROJECT = """\
project: secrets
engine: spark
spark_config:
  spark.sql.shuffle.partitions: 2
  spark.hadoop.fs.azure.account.key.acct.blob.core.windows.net: ${ACCOUNT_KEY}
  spark:
    kubernetes: {authenticate: {driver: {oauthToken: "${K8S_TOKEN}"}}}
connections:
  lake: {type: local, base_path: ./lake}
pipelines:
  - pipeline: p
    nodes:
      - name: n
        read: {connection: lake, format: csv, path: in.csv}
"""


def test_spark_secrets_are_masked_in_resource_fields(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACCOUNT_KEY", "s3cr3t-account-key")
    monkeypatch.setenv("K8S_TOKEN", "s3cr3t-token")
    (tmp_path / "odibi.yaml").write_text(PROJECT, encoding="utf-8")
    project = load_project(tmp_path / "odibi.yaml")
    resources = engine_resources_for(project)
    for resource in resources.values():
        shown = repr(resource.spark_config) + repr(resource)
        assert "s3cr3t" not in shown
        assert resource.spark_config["spark.sql.shuffle.partitions"] == 2
        key = "spark.hadoop.fs.azure.account.key.acct.blob.core.windows.net"
        assert resource.spark_config[key] == "***"
        real = real_spark_config(dict(resource.spark_config), resource.spark_config_key)
        assert real[key] == "s3cr3t-account-key"
        assert real["spark"]["kubernetes"]["authenticate"]["driver"]["oauthToken"] == \
            "s3cr3t-token"


def test_masked_values_without_their_real_config_are_refused() -> None:
    with pytest.raises(RuntimeError, match="are not loaded in this process"):
        real_spark_config({"spark.x.secret": "***"}, "elsewhere#")
    assert real_spark_config({"spark.master": "local[1]"}, "elsewhere#") == {
        "spark.master": "local[1]"}
