"""The retail example's pipeline written by hand with polars (lazy) and delta-rs.

Same semantics as examples/retail (odibi.yaml + pipelines/sales.yaml): landing files -> bronze
Delta tables -> clean customers and orders (silver, with the validation tests and the quarantine
of implausible quantities) -> two gold reports. Used by ``benchmarks/engine_bench.py``.

Written the way one would in polars: lazy scans and one query plan per output; a frame is
collected only where it is both written and used again (the bronze tables, the clean orders that
the tests, the two writes and both reports use).

    python benchmarks/handwritten/polars_retail.py --landing DIR --lake DIR
"""

from __future__ import annotations

import argparse
import json
import time
import uuid

STARTED = time.perf_counter()

import datetime as dt  # noqa: E402
from pathlib import Path  # noqa: E402

import polars as pl  # noqa: E402

ACCEPTED = ["open", "shipped"]
REASON_QUANTITY = "plausible_quantity: quantity outside [1, 5]"
REASON_STATUS = "accepted_values: status not in [open, shipped]"
TIMESTAMP = "%Y-%m-%d %H:%M:%S"


def run(landing: Path, lake: Path) -> dict[str, float]:
    steps: dict[str, float] = {}
    clock = time.perf_counter()

    def step(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        steps[name] = round(now - clock, 3)
        clock = now

    # --- bronze ---------------------------------------------------------------------------------
    orders = pl.scan_csv(landing / "orders" / "*.csv").collect()
    checks = orders.select(rows=pl.len(), nulls=pl.any_horizontal(
        pl.col("order_id").is_null(), pl.col("customer_id").is_null()).sum()).row(0)
    if checks[0] < 1:
        raise ValueError("raw_orders: no rows")
    if checks[1]:
        raise ValueError("raw_orders: null order_id or customer_id")
    orders.write_delta(lake / "bronze" / "orders", mode="overwrite")
    customers = pl.read_csv(landing / "customers" / "customers.csv")
    customers.write_delta(lake / "bronze" / "customers", mode="overwrite")
    products = pl.read_ndjson(landing / "products" / "products.jsonl")
    products.write_delta(lake / "bronze" / "products", mode="overwrite")
    step("bronze")

    # --- silver: customers ----------------------------------------------------------------------
    def tidy(column: str) -> pl.Expr:
        return pl.col(column).str.replace_all(r"\s+", " ").str.strip_chars()

    clean = (customers.lazy()
             .select("customer_id", tidy("name"), tidy("email").str.to_lowercase(),
                     pl.col("country").str.strip_chars().str.to_uppercase(), "signup_date")
             .unique("customer_id", keep="first", maintain_order=True)
             .collect())
    clean.write_delta(lake / "silver" / "customers", mode="overwrite")
    step("clean_customers")

    # --- silver: orders -------------------------------------------------------------------------
    who = clean.lazy().select("customer_id", pl.col("name").alias("customer_name"), "country")
    frame = (orders.lazy()
             .join(who, on="customer_id")
             .join(products.lazy().select("product_id", "product_name", "category"),
                   on="product_id")
             .select("order_id", "customer_id", "customer_name", "country", "product_name",
                     "category", "quantity", "unit_price",
                     (pl.col("quantity") * pl.col("unit_price")).round(2).alias("amount"),
                     pl.col("status").str.strip_chars().str.to_lowercase(),
                     pl.col("order_ts").str.to_datetime(TIMESTAMP, time_unit="us"),
                     pl.col("updated_at").str.to_datetime(TIMESTAMP, time_unit="us"))
             .sort("updated_at", descending=True)
             .unique("order_id", keep="first")
             .filter(pl.col("status") != "cancelled")
             .with_columns(amount_with_tax=(pl.col("amount") * 1.2).round(2))
             .with_columns(
                 _status_ok=pl.col("status").is_in(ACCEPTED).fill_null(True),
                 _quantity_ok=pl.col("quantity").is_between(1, 5).fill_null(True))
             .collect())
    # validation: not_null and unique fail the run, accepted_values warns, the range quarantines
    facts = frame.select(
        nulls=pl.any_horizontal(pl.col("order_id", "customer_id", "amount").is_null()).sum(),
        duplicates=pl.col("order_id").is_duplicated().sum(),
        odd_status=(~pl.col("_status_ok")).sum()).row(0, named=True)
    if facts["nulls"]:
        raise ValueError("clean_orders: null order_id, customer_id or amount")
    if facts["duplicates"]:
        raise ValueError("clean_orders: duplicate order_id")
    if facts["odd_status"]:
        print(f"warning: {facts['odd_status']} orders with a status not in {ACCEPTED}")
    rejected = (frame.lazy()
                .filter(~pl.col("_quantity_ok"))
                .with_columns(
                    _rejection_reason=pl.when(pl.col("_status_ok")).then(pl.lit(REASON_QUANTITY))
                    .otherwise(pl.lit(f"{REASON_STATUS}; {REASON_QUANTITY}")),
                    _failed_tests=pl.when(pl.col("_status_ok")).then(pl.lit("plausible_quantity"))
                    .otherwise(pl.lit("accepted_values,plausible_quantity")),
                    _rejected_at=pl.lit(dt.datetime.now(dt.timezone.utc)).dt.cast_time_unit("us"),
                    _source_batch_id=pl.lit(uuid.uuid4().hex))
                .drop("_status_ok", "_quantity_ok")
                .collect())
    rejected.write_delta(lake / "_quarantine" / "orders", mode="append")
    valid = frame.filter(pl.col("_quantity_ok")).drop("_status_ok", "_quantity_ok")
    valid.write_delta(lake / "silver" / "orders", mode="overwrite")
    step("clean_orders")

    # --- gold -----------------------------------------------------------------------------------
    (lake / "gold").mkdir(parents=True, exist_ok=True)
    (valid.lazy()
     .group_by("country")
     .agg(orders=pl.len().cast(pl.Int64), revenue=pl.col("amount_with_tax").sum().round(2))
     .sort("revenue", descending=True, maintain_order=True)
     .collect()
     .write_parquet(lake / "gold" / "revenue_by_country.parquet"))
    step("revenue_by_country")
    (valid.lazy()
     .group_by(pl.col("order_ts").dt.date().alias("order_date"), "category")
     .agg(orders=pl.len().cast(pl.Int64), revenue=pl.col("amount").sum().round(2))
     .sort("order_date", "category")
     .collect()
     .write_csv(lake / "gold" / "daily_sales.csv"))
    step("daily_sales")
    return steps


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--landing", type=Path, required=True)
    parser.add_argument("--lake", type=Path, required=True)
    args = parser.parse_args()
    ready = time.perf_counter()
    steps = run(args.landing, args.lake)
    print(json.dumps({"setup_seconds": ready - STARTED,
                      "pipeline_seconds": time.perf_counter() - ready, "steps": steps}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
