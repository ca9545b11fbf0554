"""The retail example's pipeline written by hand with pandas (pyarrow dtypes) and delta-rs.

Same semantics as examples/retail (odibi.yaml + pipelines/sales.yaml): landing files -> bronze
Delta tables -> clean customers and orders (silver, with the validation tests and the quarantine
of implausible quantities) -> two gold reports. Used by ``benchmarks/engine_bench.py``.

    python benchmarks/handwritten/pandas_retail.py --landing DIR --lake DIR
"""

from __future__ import annotations

import argparse
import json
import time
import uuid

STARTED = time.perf_counter()

import datetime as dt  # noqa: E402
from pathlib import Path  # noqa: E402

import pandas as pd  # noqa: E402
import pyarrow as pa  # noqa: E402
from deltalake import write_deltalake  # noqa: E402

ACCEPTED = ["open", "shipped"]
QUANTITY = (1, 5)
REASON_QUANTITY = "plausible_quantity: quantity outside [1, 5]"
REASON_STATUS = "accepted_values: status not in [open, shipped]"


def run(landing: Path, lake: Path) -> dict[str, float]:
    steps: dict[str, float] = {}
    clock = time.perf_counter()

    def step(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        steps[name] = round(now - clock, 3)
        clock = now

    # --- bronze ---------------------------------------------------------------------------------
    orders = pd.concat([_csv(f) for f in sorted((landing / "orders").glob("*.csv"))],
                       ignore_index=True)
    if len(orders) < 1:
        raise ValueError("raw_orders: no rows")
    if orders[["order_id", "customer_id"]].isna().any().any():
        raise ValueError("raw_orders: null order_id or customer_id")
    _delta(orders, lake / "bronze" / "orders")
    customers = _csv(landing / "customers" / "customers.csv")
    _delta(customers, lake / "bronze" / "customers")
    products = pd.read_json(landing / "products" / "products.jsonl", lines=True,
                            dtype_backend="pyarrow")
    _delta(products, lake / "bronze" / "products")
    step("bronze")

    # --- silver: customers ----------------------------------------------------------------------
    clean = customers[["customer_id", "name", "email", "country", "signup_date"]].copy()
    clean["country"] = clean["country"].str.strip().str.upper()
    for column in ("name", "email"):
        clean[column] = clean[column].str.replace(r"\s+", " ", regex=True).str.strip()
    clean["email"] = clean["email"].str.lower()
    clean = clean.drop_duplicates("customer_id", keep="first")
    _delta(clean, lake / "silver" / "customers")
    step("clean_customers")

    # --- silver: orders -------------------------------------------------------------------------
    who = clean[["customer_id", "name", "country"]].rename(columns={"name": "customer_name"})
    what = products[["product_id", "product_name", "category"]]
    frame = orders.merge(who, on="customer_id").merge(what, on="product_id")
    frame["amount"] = (frame["quantity"] * frame["unit_price"]).round(2)
    frame["status"] = frame["status"].str.strip().str.lower()
    for column in ("order_ts", "updated_at"):
        frame[column] = frame[column].astype(pd.ArrowDtype(pa.timestamp("us")))
    frame = (frame.sort_values("updated_at", ascending=False, kind="stable")
             .drop_duplicates("order_id", keep="first"))
    frame = frame[frame["status"] != "cancelled"]
    frame["amount_with_tax"] = (frame["amount"] * 1.2).round(2)
    frame = frame[["order_id", "customer_id", "customer_name", "country", "product_name",
                   "category", "quantity", "unit_price", "amount", "status", "order_ts",
                   "updated_at", "amount_with_tax"]]
    # validation: not_null and unique fail the run, accepted_values warns, the range quarantines
    if frame[["order_id", "customer_id", "amount"]].isna().any().any():
        raise ValueError("clean_orders: null order_id, customer_id or amount")
    if frame["order_id"].duplicated().any():
        raise ValueError("clean_orders: duplicate order_id")
    status_ok = frame["status"].isin(ACCEPTED) | frame["status"].isna()
    quantity_ok = frame["quantity"].between(*QUANTITY) | frame["quantity"].isna()
    if not status_ok.all():
        print(f"warning: {(~status_ok).sum()} orders with a status not in {ACCEPTED}")
    rejected = frame[~quantity_ok].copy()
    reason = pd.Series(REASON_QUANTITY, index=rejected.index, dtype="string[pyarrow]")
    tests = pd.Series("plausible_quantity", index=rejected.index, dtype="string[pyarrow]")
    odd = ~status_ok[~quantity_ok]
    reason[odd] = REASON_STATUS + "; " + REASON_QUANTITY
    tests[odd] = "accepted_values,plausible_quantity"
    rejected["_rejection_reason"] = reason
    rejected["_failed_tests"] = tests
    rejected["_rejected_at"] = pd.Timestamp(dt.datetime.now(dt.timezone.utc)).as_unit("us")
    rejected["_source_batch_id"] = uuid.uuid4().hex
    _delta(rejected, lake / "_quarantine" / "orders", mode="append")
    frame = frame[quantity_ok]
    _delta(frame, lake / "silver" / "orders")
    step("clean_orders")

    # --- gold -----------------------------------------------------------------------------------
    revenue = (frame.groupby("country", as_index=False)
               .agg(orders=("order_id", "size"), revenue=("amount_with_tax", "sum")))
    revenue["revenue"] = revenue["revenue"].round(2)
    revenue = revenue.sort_values("revenue", ascending=False, kind="stable")
    (lake / "gold").mkdir(parents=True, exist_ok=True)
    revenue.to_parquet(lake / "gold" / "revenue_by_country.parquet", index=False)
    step("revenue_by_country")

    daily = frame.assign(order_date=frame["order_ts"].dt.date)
    daily = (daily.groupby(["order_date", "category"], as_index=False)
             .agg(orders=("order_id", "size"), revenue=("amount", "sum"))
             .sort_values(["order_date", "category"]))
    daily["revenue"] = daily["revenue"].round(2)
    daily.to_csv(lake / "gold" / "daily_sales.csv", index=False)
    step("daily_sales")
    return steps


def _csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, engine="pyarrow", dtype_backend="pyarrow")


def _delta(frame: pd.DataFrame, path: Path, mode: str = "overwrite") -> None:
    write_deltalake(str(path), pa.Table.from_pandas(frame, preserve_index=False), mode=mode)


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
