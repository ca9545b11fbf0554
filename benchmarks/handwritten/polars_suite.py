"""The load suite's scenarios 1-3 written by hand with polars (lazy, streaming) and delta-rs.

Same semantics as benchmarks/scenarios/{ingest,gold,incremental}/odibi.yaml:

- ``ingest``: every order of ``LANDING/orders`` (hive-partitioned parquet) -> the tests
  ``not_null(order_id, customer_id, amount)``, ``unique(order_id)``, ``quantity`` in [1, 100],
  ``amount`` in [0, 100000] (NULLs pass a range, as in SQL; every row of a duplicated key fails
  ``unique``) -> the failing rows, with ``_rejection_reason``, ``_failed_tests``,
  ``_rejected_at`` and ``_source_batch_id``, appended to ``LAKE/_quarantine/orders``; the
  others appended to ``LAKE/silver/orders`` (Delta);
- ``gold``: orders joined to ``LANDING/customers``, cancelled and amount-less orders left out,
  grouped by day, country and segment (orders, distinct customers, revenue) -> overwrite
  ``LAKE/gold/sales_by_day`` (Delta);
- ``incremental``: ``ingest`` over the orders whose ``order_id`` is above the high-water mark
  kept in ``LAKE/_state/orders.json`` (none on the first run); the mark moves to the largest
  ``order_id`` read once both writes committed.

Written the way one would for data larger than memory: lazy scans, the valid rows streamed to
Delta with ``sink_delta`` (bounded memory at 100M rows), the few rejected rows collected by the
streaming engine and written with ``write_delta``. That reads the input twice (the ``unique``
test needs every key before any row can be judged); the read-only count, the mark and the
aggregate also use the streaming engine.

    python benchmarks/handwritten/polars_suite.py ingest --landing DIR --lake DIR
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

TESTS = [  # (name, description) in the order odibi reports them
    ("not_null", "null in order_id, customer_id, amount"),
    ("unique", "duplicate order_id"),
    ("quantity_range", "quantity outside [1, 100]"),
    ("amount_range", "amount outside [0, 100000]"),
]


def scan_orders(landing: Path) -> pl.LazyFrame:
    return pl.scan_parquet(landing / "orders" / "**" / "*.parquet", hive_partitioning=True)


def flagged(orders: pl.LazyFrame) -> pl.LazyFrame:
    return orders.with_columns(
        _ok_not_null=pl.all_horizontal(pl.col("order_id", "customer_id", "amount")
                                       .is_not_null()),
        _ok_unique=~pl.col("order_id").is_duplicated() | pl.col("order_id").is_null(),
        _ok_quantity_range=pl.col("quantity").is_between(1, 100).fill_null(True),
        _ok_amount_range=pl.col("amount").is_between(0, 100_000).fill_null(True),
    )


FLAGS = ["_ok_not_null", "_ok_unique", "_ok_quantity_range", "_ok_amount_range"]


def validate_and_append(orders: pl.LazyFrame, lake: Path) -> dict:
    frame = flagged(orders)
    ok = pl.all_horizontal(FLAGS)
    reasons = [pl.when(~pl.col(flag)).then(pl.lit(f"{name}: {text}"))
               for flag, (name, text) in zip(FLAGS, TESTS)]
    names = [pl.when(~pl.col(flag)).then(pl.lit(name)) for flag, (name, _) in zip(FLAGS, TESTS)]
    rejected = (frame.filter(~ok)
                .with_columns(_rejection_reason=pl.concat_str(reasons, separator="; ",
                                                              ignore_nulls=True),
                              _failed_tests=pl.concat_str(names, separator=",",
                                                          ignore_nulls=True),
                              _rejected_at=pl.lit(dt.datetime.now(dt.timezone.utc))
                              .dt.cast_time_unit("us"),
                              _source_batch_id=pl.lit(uuid.uuid4().hex))
                .drop(FLAGS)
                .collect(engine="streaming"))
    if rejected.height:
        rejected.write_delta(lake / "_quarantine" / "orders", mode="append")
    frame.filter(ok).drop(FLAGS).sink_delta(lake / "silver" / "orders", mode="append")
    return {"rejected": rejected.height}


def ingest(landing: Path, lake: Path) -> dict:
    return validate_and_append(scan_orders(landing), lake)


def gold(landing: Path, lake: Path) -> dict:
    customers = pl.scan_parquet(landing / "customers" / "*.parquet")
    result = (scan_orders(landing)
              .filter((pl.col("status") != "cancelled") & pl.col("amount").is_not_null())
              .join(customers.select("customer_id", "country", "segment"), on="customer_id")
              .group_by("order_date", "country", "segment")
              .agg(orders=pl.len().cast(pl.Int64),
                   customers=pl.col("customer_id").n_unique().cast(pl.Int64),
                   revenue=pl.col("amount").sum().round(2))
              .collect(engine="streaming"))
    result.write_delta(lake / "gold" / "sales_by_day", mode="overwrite")
    return {"rows": result.height}


def incremental(landing: Path, lake: Path) -> dict:
    state = lake / "_state" / "orders.json"
    mark = json.loads(state.read_text())["order_id"] if state.exists() else None
    orders = scan_orders(landing)
    if mark is not None:
        orders = orders.filter(pl.col("order_id") > mark)
    newest = orders.select(pl.col("order_id").max()).collect(engine="streaming").item()
    if newest is None:
        return {"rejected": 0, "mark": mark}
    facts = validate_and_append(orders, lake)
    state.parent.mkdir(parents=True, exist_ok=True)
    state.write_text(json.dumps({"order_id": int(newest)}))
    return {**facts, "mark": int(newest)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", choices=("ingest", "gold", "incremental"))
    parser.add_argument("--landing", type=Path, required=True)
    parser.add_argument("--lake", type=Path, required=True)
    args = parser.parse_args()
    ready = time.perf_counter()
    facts = {"ingest": ingest, "gold": gold, "incremental": incremental}[args.scenario](
        args.landing.resolve(), args.lake.resolve())
    print(json.dumps({"setup_seconds": ready - STARTED,
                      "pipeline_seconds": time.perf_counter() - ready, "facts": facts}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
