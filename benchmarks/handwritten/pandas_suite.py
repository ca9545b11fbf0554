"""The load suite's scenarios 1-3 written by hand with pandas (pyarrow dtypes) and delta-rs.

Same semantics as benchmarks/scenarios/{ingest,gold,incremental}/odibi.yaml (see
``polars_suite.py`` for the scenarios in words). Written the way one would in pandas: one
``read_parquet`` of the hive-partitioned folder (the incremental read pushes its
``order_id > mark`` filter down to pyarrow), boolean masks for the tests, ``merge`` +
``groupby`` for the gold table, ``write_deltalake`` for every write. The whole input is in
memory, so pandas is run up to 10M rows (``benchmarks/run.py`` skips it above).

    python benchmarks/handwritten/pandas_suite.py ingest --landing DIR --lake DIR
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

TESTS = [
    ("not_null", "null in order_id, customer_id, amount"),
    ("unique", "duplicate order_id"),
    ("quantity_range", "quantity outside [1, 100]"),
    ("amount_range", "amount outside [0, 100000]"),
]


def read_orders(landing: Path, filters=None) -> pd.DataFrame:
    frame = pd.read_parquet(landing / "orders", dtype_backend="pyarrow", filters=filters)
    # the hive key comes back as a category; keep it as text
    frame["order_date"] = frame["order_date"].astype("string[pyarrow]")
    return frame


def validate_and_append(orders: pd.DataFrame, lake: Path) -> dict:
    masks = [
        orders[["order_id", "customer_id", "amount"]].notna().all(axis=1),
        ~orders["order_id"].duplicated(keep=False) | orders["order_id"].isna(),
        orders["quantity"].between(1, 100).fillna(True),
        orders["amount"].between(0, 100_000).fillna(True),
    ]
    ok = masks[0] & masks[1] & masks[2] & masks[3]
    rejected = orders[~ok].copy()
    if len(rejected):
        # each rejected row's failure pattern (bit i: test i failed) -> its texts
        pattern = sum((~m[~ok]).astype("int64") * (1 << i) for i, m in enumerate(masks))
        reasons, names = {}, {}
        for code in range(1, 2 ** len(TESTS)):
            hit = [t for i, t in enumerate(TESTS) if code >> i & 1]
            reasons[code] = "; ".join(f"{n}: {d}" for n, d in hit)
            names[code] = ",".join(n for n, _ in hit)
        rejected["_rejection_reason"] = pattern.map(reasons).astype("string[pyarrow]")
        rejected["_failed_tests"] = pattern.map(names).astype("string[pyarrow]")
        rejected["_rejected_at"] = pd.Timestamp(dt.datetime.now(dt.timezone.utc)).as_unit("us")
        rejected["_source_batch_id"] = uuid.uuid4().hex
        write_deltalake(lake / "_quarantine" / "orders", _arrow(rejected), mode="append")
    write_deltalake(lake / "silver" / "orders", _arrow(orders[ok]), mode="append")
    return {"rejected": len(rejected)}


def _arrow(frame: pd.DataFrame) -> pa.Table:
    return pa.Table.from_pandas(frame, preserve_index=False)


def ingest(landing: Path, lake: Path) -> dict:
    return validate_and_append(read_orders(landing), lake)


def gold(landing: Path, lake: Path) -> dict:
    orders = pd.read_parquet(landing / "orders", dtype_backend="pyarrow",
                             columns=["order_date", "customer_id", "status", "amount"])
    orders["order_date"] = orders["order_date"].astype("string[pyarrow]")
    customers = pd.read_parquet(landing / "customers", dtype_backend="pyarrow",
                                columns=["customer_id", "country", "segment"])
    kept = orders[(orders["status"] != "cancelled") & orders["amount"].notna()]
    joined = kept.merge(customers, on="customer_id", how="inner")
    result = (joined.groupby(["order_date", "country", "segment"], observed=True, sort=False)
              .agg(orders=("customer_id", "size"), customers=("customer_id", "nunique"),
                   revenue=("amount", "sum"))
              .reset_index())
    result["orders"] = result["orders"].astype("int64[pyarrow]")
    result["customers"] = result["customers"].astype("int64[pyarrow]")
    result["revenue"] = result["revenue"].round(2)
    write_deltalake(lake / "gold" / "sales_by_day", _arrow(result), mode="overwrite")
    return {"rows": len(result)}


def incremental(landing: Path, lake: Path) -> dict:
    state = lake / "_state" / "orders.json"
    mark = json.loads(state.read_text())["order_id"] if state.exists() else None
    orders = read_orders(landing, filters=[("order_id", ">", mark)] if mark is not None
                         else None)
    if orders.empty:
        return {"rejected": 0, "mark": mark}
    newest = int(orders["order_id"].max())
    facts = validate_and_append(orders, lake)
    state.parent.mkdir(parents=True, exist_ok=True)
    state.write_text(json.dumps({"order_id": newest}))
    return {**facts, "mark": newest}


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
