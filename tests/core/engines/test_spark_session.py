"""The Spark session odibi builds: Delta configured, the engine's SQL settings, the caller's
``spark_config`` applied (also to a session that already runs), the jars found or a clear fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from odibi_core.engines import get_engine
from odibi_core.errors import ConfigError



def test_the_session_runs_delta_with_the_engine_sql_settings(spark_session) -> None:
    conf = spark_session.conf
    assert conf.get("spark.sql.extensions") == "io.delta.sql.DeltaSparkSessionExtension"
    assert conf.get("spark.sql.ansi.enabled") == "true"
    assert conf.get("spark.sql.ansi.doubleQuotedIdentifiers") == "true"
    assert conf.get("spark.sql.session.timeZone") == "UTC"
    assert conf.get("spark.sql.timestampType") == "TIMESTAMP_NTZ"
    row = spark_session.sql('SELECT "x" + 1 AS y, \'text\' AS s FROM VALUES (41) AS t("x")') \
        .collect()[0]
    assert (row["y"], row["s"]) == (42, "text")


def test_spark_config_reaches_the_running_session(spark_session) -> None:
    from odibi_core.engines.spark_session import spark_session as build

    before = spark_session.conf.get("spark.sql.shuffle.partitions")
    try:
        session = build({"spark.sql.shuffle.partitions": 3, "odibi.test.key": "from-config",
                         "spark.master": "local[7]"})
        assert session is spark_session  # the running session is joined, not replaced
        assert session.conf.get("spark.sql.shuffle.partitions") == "3"
        assert session.conf.get("odibi.test.key") == "from-config"
        assert session.sparkContext.master != "local[7]"  # static: only a new session takes it
        engine = get_engine("spark", session=session)
        assert engine.session is session
    finally:
        spark_session.conf.set("spark.sql.shuffle.partitions", before)
        spark_session.conf.unset("odibi.test.key")


def test_missing_delta_jars_name_the_maven_command(tmp_path: Path) -> None:
    from odibi_core.engines.spark_session import DELTA_VERSION, delta_jars

    with pytest.raises(ConfigError, match=rf"mvn -q dependency:get "
                                          rf"-Dartifact=io.delta:delta-spark_2.13:{DELTA_VERSION}"):
        delta_jars(tmp_path / "empty-repository")


def test_delta_jars_are_found_in_the_local_repository() -> None:
    from odibi_core.engines.spark_session import delta_jars

    jars = delta_jars()
    assert [Path(j).name for j in jars] == ["delta-spark_2.13-4.2.0.jar",
                                            "delta-storage-4.2.0.jar"]


def test_versions_report_spark_and_delta(spark_session) -> None:
    import pyspark

    from odibi_core.engines.spark_session import versions

    found = versions(spark_session)
    assert found["spark"] == pyspark.__version__ == spark_session.version
    assert found["delta"] == "4.2.0" and found["delta_jars"] == "delta-spark_2.13:4.2.0"
