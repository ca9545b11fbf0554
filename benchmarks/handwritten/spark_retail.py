"""The retail example's pipeline written by hand with PySpark and Delta Lake.

Same semantics as examples/retail (odibi.yaml + pipelines/sales.yaml): landing files -> bronze
Delta tables -> clean customers and orders (silver, with the validation tests and the quarantine
of implausible quantities) -> two gold reports. Used by ``benchmarks/engine_bench.py``.

Written the way one would in PySpark: explicit CSV schemas (no inference pass), each layer reads
the previous layer's Delta tables, the clean orders are persisted because the tests, two writes
and two reports use them, the small products table is broadcast, and the gold reports are
single-part folders (``coalesce(1)``).

The session is odibi's ``spark_session()`` so that both sides run on exactly the same local
settings (``local[2]``, 2 shuffle partitions, 2g driver, ANSI SQL, UTC, Delta Lake); nothing else
of odibi is used.

    python benchmarks/handwritten/spark_retail.py --landing DIR --lake DIR
"""

from __future__ import annotations

import argparse
import json
import time
import uuid

STARTED = time.perf_counter()

from pathlib import Path  # noqa: E402

ACCEPTED = ["open", "shipped"]
REASON_QUANTITY = "plausible_quantity: quantity outside [1, 5]"
REASON_STATUS = "accepted_values: status not in [open, shipped]"


def run(spark, landing: Path, lake: Path) -> dict[str, float]:
    from pyspark import StorageLevel
    from pyspark.sql import Window
    from pyspark.sql import functions as F
    from pyspark.sql.types import (
        DoubleType,
        LongType,
        StringType,
        StructField,
        StructType,
    )

    steps: dict[str, float] = {}
    clock = time.perf_counter()

    def step(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        steps[name] = round(now - clock, 3)
        clock = now

    def delta(path: str):
        return spark.read.format("delta").load(str(lake / path))

    def save(frame, path: str, mode: str = "overwrite") -> None:
        frame.write.format("delta").mode(mode).save(str(lake / path))

    orders_schema = StructType([
        StructField("order_id", LongType()), StructField("customer_id", LongType()),
        StructField("product_id", LongType()), StructField("quantity", LongType()),
        StructField("unit_price", DoubleType()), StructField("status", StringType()),
        StructField("order_ts", StringType()), StructField("updated_at", StringType())])
    customers_schema = StructType([
        StructField("customer_id", LongType()), StructField("name", StringType()),
        StructField("email", StringType()), StructField("country", StringType()),
        StructField("signup_date", StringType())])
    products_schema = StructType([
        StructField("product_id", LongType()), StructField("product_name", StringType()),
        StructField("category", StringType())])

    # --- bronze ---------------------------------------------------------------------------------
    orders = spark.read.csv(str(landing / "orders"), header=True, schema=orders_schema,
                            pathGlobFilter="*.csv")
    facts = orders.agg(
        F.count(F.lit(1)).alias("rows"),
        F.count(F.when(F.col("order_id").isNull() | F.col("customer_id").isNull(),
                       1)).alias("nulls")).first()
    if facts["rows"] < 1:
        raise ValueError("raw_orders: no rows")
    if facts["nulls"]:
        raise ValueError("raw_orders: null order_id or customer_id")
    save(orders, "bronze/orders")
    save(spark.read.csv(str(landing / "customers" / "customers.csv"), header=True,
                        schema=customers_schema), "bronze/customers")
    save(spark.read.json(str(landing / "products" / "products.jsonl"), schema=products_schema),
         "bronze/products")
    step("bronze")

    # --- silver: customers ----------------------------------------------------------------------
    def tidy(column: str):
        return F.trim(F.regexp_replace(F.col(column), r"\s+", " "))

    clean = (delta("bronze/customers")
             .select("customer_id", tidy("name").alias("name"),
                     F.lower(tidy("email")).alias("email"),
                     F.upper(F.trim("country")).alias("country"), "signup_date")
             .dropDuplicates(["customer_id"]))
    save(clean, "silver/customers")
    step("clean_customers")

    # --- silver: orders -------------------------------------------------------------------------
    latest = Window.partitionBy("order_id").orderBy(F.col("updated_at").desc())
    products = delta("bronze/products").select("product_id", "product_name", "category")
    frame = (delta("bronze/orders")
             .join(delta("silver/customers").select(
                 "customer_id", F.col("name").alias("customer_name"), "country"), "customer_id")
             .join(F.broadcast(products), "product_id")
             .select("order_id", "customer_id", "customer_name", "country", "product_name",
                     "category", "quantity", "unit_price",
                     F.round(F.col("quantity") * F.col("unit_price"), 2).alias("amount"),
                     F.lower(F.trim("status")).alias("status"),
                     F.to_timestamp("order_ts").alias("order_ts"),
                     F.to_timestamp("updated_at").alias("updated_at"))
             .withColumn("_latest", F.row_number().over(latest))
             .filter(F.col("_latest") == 1).drop("_latest")
             .filter(F.col("status") != "cancelled")
             .withColumn("amount_with_tax", F.round(F.col("amount") * 1.2, 2))
             .withColumn("_status_ok", F.coalesce(F.col("status").isin(ACCEPTED), F.lit(True)))
             .withColumn("_quantity_ok",
                         F.coalesce(F.col("quantity").between(1, 5), F.lit(True)))
             .persist(StorageLevel.MEMORY_AND_DISK))
    # validation: not_null and unique fail the run, accepted_values warns, the range quarantines
    facts = frame.agg(
        F.count(F.when(F.col("order_id").isNull() | F.col("customer_id").isNull()
                       | F.col("amount").isNull(), 1)).alias("nulls"),
        (F.count(F.lit(1)) - F.countDistinct("order_id")).alias("duplicates"),
        F.count(F.when(~F.col("_status_ok"), 1)).alias("odd_status")).first()
    if facts["nulls"]:
        raise ValueError("clean_orders: null order_id, customer_id or amount")
    if facts["duplicates"]:
        raise ValueError("clean_orders: duplicate order_id")
    if facts["odd_status"]:
        print(f"warning: {facts['odd_status']} orders with a status not in {ACCEPTED}")
    rejected = (frame.filter(~F.col("_quantity_ok"))
                .withColumn("_rejection_reason", F.when(F.col("_status_ok"), REASON_QUANTITY)
                            .otherwise(f"{REASON_STATUS}; {REASON_QUANTITY}"))
                .withColumn("_failed_tests", F.when(F.col("_status_ok"), "plausible_quantity")
                            .otherwise("accepted_values,plausible_quantity"))
                .withColumn("_rejected_at", F.current_timestamp())
                .withColumn("_source_batch_id", F.lit(uuid.uuid4().hex))
                .drop("_status_ok", "_quantity_ok"))
    save(rejected, "_quarantine/orders", mode="append")
    valid = frame.filter(F.col("_quantity_ok")).drop("_status_ok", "_quantity_ok")
    save(valid, "silver/orders")
    step("clean_orders")

    # --- gold -----------------------------------------------------------------------------------
    (valid.groupBy("country")
     .agg(F.count(F.lit(1)).alias("orders"),
          F.round(F.sum("amount_with_tax"), 2).alias("revenue"))
     .orderBy(F.col("revenue").desc())
     .coalesce(1)
     .write.mode("overwrite").parquet(str(lake / "gold" / "revenue_by_country.parquet")))
    step("revenue_by_country")
    (valid.groupBy(F.to_date("order_ts").alias("order_date"), "category")
     .agg(F.count(F.lit(1)).alias("orders"), F.round(F.sum("amount"), 2).alias("revenue"))
     .orderBy("order_date", "category")
     .coalesce(1)
     .write.mode("overwrite").option("header", True).csv(str(lake / "gold" / "daily_sales.csv")))
    step("daily_sales")
    frame.unpersist()
    return steps


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--landing", type=Path, required=True)
    parser.add_argument("--lake", type=Path, required=True)
    args = parser.parse_args()
    from odibi_core.engines.spark_session import spark_session

    spark = spark_session()
    ready = time.perf_counter()
    steps = run(spark, args.landing.resolve(), args.lake.resolve())
    spark.stop()
    print(json.dumps({"setup_seconds": ready - STARTED,
                      "pipeline_seconds": time.perf_counter() - ready, "steps": steps}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
