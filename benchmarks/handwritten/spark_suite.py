"""The load suite's scenarios 1-3 written by hand with PySpark and Delta Lake.

Same semantics as benchmarks/scenarios/{ingest,gold,incremental}/odibi.yaml (see
``polars_suite.py`` for the scenarios in words). Written the way one would in PySpark: the
hive-partitioned folder read with partition discovery, the ``unique`` test as a window count
per ``order_id``, the flagged frame persisted because both writes use it, Delta appends and an
overwrite for the gold table; the incremental read filters ``order_id > mark`` (pushed down to
the parquet scan) and keeps its mark in a JSON file.

The session is odibi's ``spark_session()`` so that both sides run on exactly the same local
settings (the engine's defaults, Delta Lake); nothing else of odibi is used.

    python benchmarks/handwritten/spark_suite.py ingest --landing DIR --lake DIR
"""

from __future__ import annotations

import argparse
import json
import time
import uuid

STARTED = time.perf_counter()

import datetime as dt  # noqa: E402
from pathlib import Path  # noqa: E402

TESTS = [
    ("not_null", "null in order_id, customer_id, amount"),
    ("unique", "duplicate order_id"),
    ("quantity_range", "quantity outside [1, 100]"),
    ("amount_range", "amount outside [0, 100000]"),
]
FLAGS = ["_ok_not_null", "_ok_unique", "_ok_quantity_range", "_ok_amount_range"]


def read_orders(spark, landing: Path):
    return spark.read.parquet(str(landing / "orders"))


def validate_and_append(orders, lake: Path) -> dict:
    from pyspark import StorageLevel
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    keys = Window.partitionBy("order_id")
    frame = orders.select(
        "*",
        (F.col("order_id").isNotNull() & F.col("customer_id").isNotNull()
         & F.col("amount").isNotNull()).alias("_ok_not_null"),
        ((F.count(F.lit(1)).over(keys) == 1) | F.col("order_id").isNull()).alias("_ok_unique"),
        F.coalesce(F.col("quantity").between(1, 100), F.lit(True)).alias("_ok_quantity_range"),
        F.coalesce(F.col("amount").between(0, 100_000), F.lit(True)).alias("_ok_amount_range"),
    ).persist(StorageLevel.MEMORY_AND_DISK)
    ok = F.col(FLAGS[0]) & F.col(FLAGS[1]) & F.col(FLAGS[2]) & F.col(FLAGS[3])
    reasons = [F.when(~F.col(f), F.lit(f"{n}: {d}")) for f, (n, d) in zip(FLAGS, TESTS)]
    names = [F.when(~F.col(f), F.lit(n)) for f, (n, _) in zip(FLAGS, TESTS)]
    rejected = (frame.filter(~ok)
                .withColumn("_rejection_reason", F.concat_ws("; ", *reasons))
                .withColumn("_failed_tests", F.concat_ws(",", *names))
                .withColumn("_rejected_at", F.lit(dt.datetime.now(dt.timezone.utc)))
                .withColumn("_source_batch_id", F.lit(uuid.uuid4().hex))
                .drop(*FLAGS))
    rejected.write.format("delta").mode("append").save(str(lake / "_quarantine" / "orders"))
    frame.filter(ok).drop(*FLAGS).write.format("delta").mode("append").save(
        str(lake / "silver" / "orders"))
    frame.unpersist()
    return {}


def ingest(spark, landing: Path, lake: Path) -> dict:
    return validate_and_append(read_orders(spark, landing), lake)


def gold(spark, landing: Path, lake: Path) -> dict:
    from pyspark.sql import functions as F

    customers = spark.read.parquet(str(landing / "customers")).select(
        "customer_id", "country", "segment")
    (read_orders(spark, landing)
     .filter((F.col("status") != "cancelled") & F.col("amount").isNotNull())
     .join(customers, "customer_id")
     .groupBy("order_date", "country", "segment")
     .agg(F.count(F.lit(1)).alias("orders"),
          F.countDistinct("customer_id").alias("customers"),
          F.round(F.sum("amount"), 2).alias("revenue"))
     .write.format("delta").mode("overwrite").save(str(lake / "gold" / "sales_by_day")))
    return {}


def incremental(spark, landing: Path, lake: Path) -> dict:
    from pyspark.sql import functions as F

    state = lake / "_state" / "orders.json"
    mark = json.loads(state.read_text())["order_id"] if state.exists() else None
    orders = read_orders(spark, landing)
    if mark is not None:
        orders = orders.filter(F.col("order_id") > F.lit(mark))
    newest = orders.agg(F.max("order_id")).first()[0]
    if newest is None:
        return {"mark": mark}
    validate_and_append(orders, lake)
    state.parent.mkdir(parents=True, exist_ok=True)
    state.write_text(json.dumps({"order_id": int(newest)}))
    return {"mark": int(newest)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", choices=("ingest", "gold", "incremental"))
    parser.add_argument("--landing", type=Path, required=True)
    parser.add_argument("--lake", type=Path, required=True)
    args = parser.parse_args()
    from odibi_core.engines.spark_session import spark_session

    spark = spark_session()
    ready = time.perf_counter()
    facts = {"ingest": ingest, "gold": gold, "incremental": incremental}[args.scenario](
        spark, args.landing.resolve(), args.lake.resolve())
    spark.stop()
    print(json.dumps({"setup_seconds": ready - STARTED,
                      "pipeline_seconds": time.perf_counter() - ready, "facts": facts}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
