"""Seeded generator of the load-suite data: an ``orders`` fact and a ``customers`` dimension.

Written as parquet, in bounded memory (one chunk of at most ``--chunk-rows`` rows at a time, so
100M rows fit a small machine), under ``OUT``:

- ``orders/order_date=YYYY-MM-DD/part-NNNNN.parquet``: hive-partitioned by the order's day
  (``order_date`` is the partition key only, not a column of the files), ``DAYS`` days from
  ``START``; every size uses the same layout, so a small run reads exactly what 100M reads.
  Columns: ``order_id`` int64, ``customer_id`` int64, ``product_id`` int32, ``quantity`` int32,
  ``unit_price`` float64, ``amount`` float64 (``quantity * unit_price``, cents), ``status``
  string, ``channel`` string, ``order_ts`` timestamp[us] (whole seconds, within the day);
- ``customers/customers.parquet``: ``customer_id`` int64 (1..C), ``name``, ``country``,
  ``segment`` strings, ``signup_date`` date; ``C = max(1000, rows // 100)``;
- ``increment/orders/order_date=<the day after the last>/part-00000.parquet``: 1% more orders
  (at least 10), later than every base order (scenario 3 adds them after a first run);
- ``manifest.json``: the parameters and the exact count of each kind of bad row, and the
  number of rows a validation with quarantine must keep and set aside (base and increment).

Bad rows, by design (each a disjoint share of the unique orders, drawn per chunk):

========================  =====================================================  =========
kind                      what                                                   share
========================  =====================================================  =========
``null_customer``         ``customer_id`` is null (a required column)            0.4%
``null_amount``           ``amount`` is null (a required column)                 0.3%
``bad_quantity``          ``quantity`` outside [1, 100] (0 or 101..999)          0.3%
``bad_amount``            ``amount`` outside [0, 100000] (negative)              0.2%
``duplicate``             an exact copy of a valid order of the same day         0.5% of rows
========================  =====================================================  =========

A duplicated ``order_id`` fails ``unique`` on both copies, so a validation with quarantine keeps
``unique - bad - duplicates`` rows and sets aside ``bad + 2 * duplicates``. Rows are shuffled
within each file. The same ``rows``, ``seed`` and ``chunk_rows`` always give the same data.

Usage::

    .venv/bin/python benchmarks/datasets.py --rows 1000000 --out /tmp/bench-data/1M
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time
from pathlib import Path

SEED = 20260101
DAYS = 30
START = dt.date(2026, 1, 1)
CHUNK_ROWS = 1_000_000
INCREMENT_SHARE = 0.01
BAD_SHARES = {  # of the unique orders of a chunk; disjoint
    "null_customer": 0.004,
    "null_amount": 0.003,
    "bad_quantity": 0.003,
    "bad_amount": 0.002,
}
DUPLICATE_SHARE = 0.005  # of all rows
QUANTITY_RANGE = (1, 100)
AMOUNT_RANGE = (0, 100_000)
STATUSES = ["placed", "shipped", "delivered", "returned", "cancelled"]
STATUS_WEIGHTS = [0.15, 0.25, 0.45, 0.05, 0.10]
CHANNELS = ["web", "app", "store"]
COUNTRIES = ["UK", "US", "NL", "DE", "FR", "ES", "IT", "SE", "NO", "DK", "PL", "IE", "PT", "BE",
             "AT", "CH", "FI", "CZ", "JP", "CA"]
SEGMENTS = ["consumer", "corporate", "small_business"]
VERSION = 1  # bump when the data changes: cached data sets are regenerated


def customers_for(rows: int) -> int:
    return max(1000, rows // 100)


def increment_for(rows: int) -> int:
    return max(10, int(rows * INCREMENT_SHARE))


def parse_size(text: str) -> int:
    """``"100k"``, ``"1M"``, ``"10m"``, ``"1_000"`` -> an int."""
    t = text.strip().lower().replace("_", "")
    scale = {"k": 1_000, "m": 1_000_000, "g": 1_000_000_000}.get(t[-1:], 1)
    return int(float(t[:-1] if scale != 1 else t) * scale)


def size_label(rows: int) -> str:
    for unit, scale in (("M", 1_000_000), ("k", 1_000)):
        if rows >= scale and rows % scale == 0:
            return f"{rows // scale}{unit}"
    return str(rows)


def generate(rows: int, out: Path, *, seed: int = SEED, chunk_rows: int = CHUNK_ROWS) -> dict:
    """Write the data set for ``rows`` order rows under ``out``; returns the manifest."""
    out.mkdir(parents=True, exist_ok=True)
    customers = customers_for(rows)
    _write_customers(customers, out / "customers" / "customers.parquet", seed)
    base = _write_orders(out / "orders", rows=rows, days=DAYS, first_day=START,
                         first_id=1, customers=customers, seed=seed, chunk_rows=chunk_rows)
    extra_rows = increment_for(rows)
    increment = _write_orders(out / "increment" / "orders", rows=extra_rows, days=1,
                              first_day=START + dt.timedelta(days=DAYS),
                              first_id=base["next_id"], customers=customers, seed=seed + 1,
                              chunk_rows=chunk_rows)
    manifest = {
        "version": VERSION, "rows": rows, "seed": seed, "chunk_rows": chunk_rows,
        "days": DAYS, "first_day": START.isoformat(), "customers": customers,
        "layout": "hive: orders/order_date=YYYY-MM-DD/part-NNNNN.parquet",
        "bad_shares": BAD_SHARES, "duplicate_share": DUPLICATE_SHARE,
        "quantity_range": QUANTITY_RANGE, "amount_range": AMOUNT_RANGE,
        "orders": {k: v for k, v in base.items() if k != "next_id"},
        "increment": {k: v for k, v in increment.items() if k != "next_id"},
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


def _write_customers(count: int, path: Path, seed: int) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng([seed, 0])
    ids = np.arange(1, count + 1, dtype=np.int64)
    names = pa.array(np.char.add("Customer ", ids.astype(str)).astype(object), pa.string())
    table = pa.table({
        "customer_id": ids,
        "name": names,
        "country": _choice(rng, COUNTRIES, count),
        "segment": _choice(rng, SEGMENTS, count, [0.6, 0.25, 0.15]),
        "signup_date": pa.array((np.datetime64("2020-01-01")
                                 + rng.integers(0, 6 * 365, count)).astype("datetime64[D]")),
    })
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)


def _write_orders(folder: Path, *, rows: int, days: int, first_day: dt.date, first_id: int,
                  customers: int, seed: int, chunk_rows: int) -> dict:
    """``rows`` orders spread evenly over ``days`` days, one chunk at a time."""
    counts = {"rows": 0, "unique_orders": 0, "duplicates": 0, **{k: 0 for k in BAD_SHARES},
              "files": 0}
    next_id = first_id
    per_day = [rows // days + (1 if d < rows % days else 0) for d in range(days)]
    for day_index, day_rows in enumerate(per_day):
        day = first_day + dt.timedelta(days=day_index)
        part = 0
        remaining = day_rows
        while remaining > 0:
            n = min(remaining, chunk_rows)
            table, facts = _orders_chunk(n, day, next_id, customers,
                                         [seed, day_index, part])
            path = folder / f"order_date={day.isoformat()}" / f"part-{part:05d}.parquet"
            path.parent.mkdir(parents=True, exist_ok=True)
            import pyarrow.parquet as pq

            pq.write_table(table, path, row_group_size=256 * 1024)
            next_id += facts["unique_orders"]
            for key, value in facts.items():
                counts[key] += value
            counts["files"] += 1
            remaining -= n
            part += 1
    bad = sum(counts[k] for k in BAD_SHARES)
    counts["expected_valid"] = counts["unique_orders"] - bad - counts["duplicates"]
    counts["expected_quarantined"] = bad + 2 * counts["duplicates"]
    counts["next_id"] = next_id
    return counts


def _orders_chunk(n: int, day: dt.date, first_id: int, customers: int, seed: list[int]):
    import numpy as np
    import pyarrow as pa

    rng = np.random.default_rng(seed)
    dups = int(round(n * DUPLICATE_SHARE))
    unique = n - dups
    order_id = np.arange(first_id, first_id + unique, dtype=np.int64)
    customer_id = rng.integers(1, customers + 1, unique).astype(np.int64)
    product_id = rng.integers(1, 5001, unique).astype(np.int32)
    quantity = rng.integers(1, 11, unique).astype(np.int32)
    unit_cents = rng.integers(99, 50_000, unique)
    unit_price = unit_cents / 100.0
    amount = (quantity * unit_cents) / 100.0  # exact cents
    status = rng.choice(len(STATUSES), unique, p=STATUS_WEIGHTS).astype(np.int8)
    channel = rng.integers(0, len(CHANNELS), unique).astype(np.int8)
    seconds = np.sort(rng.integers(0, 86_400, unique))
    # the kind of each unique order: 0 good, 1.. one of BAD_SHARES
    draw = rng.random(unique)
    kind = np.zeros(unique, dtype=np.int8)
    edge = 0.0
    facts = {"rows": n, "unique_orders": unique, "duplicates": dups}
    for index, (name, share) in enumerate(BAD_SHARES.items(), start=1):
        chosen = (draw >= edge) & (draw < edge + share)
        kind[chosen] = index
        facts[name] = int(chosen.sum())
        edge += share
    customer_valid = kind != 1
    amount_valid = kind != 2
    bad_quantity = kind == 3
    quantity[bad_quantity] = np.where(rng.random(int(bad_quantity.sum())) < 0.5, 0,
                                      rng.integers(101, 1000, int(bad_quantity.sum())))
    amount[bad_quantity] = quantity[bad_quantity] * unit_cents[bad_quantity] / 100.0
    bad_amount = kind == 4
    amount[bad_amount] = -amount[bad_amount]
    # duplicates: exact copies of good orders of the chunk
    good = np.flatnonzero(kind == 0)
    source = np.sort(rng.choice(good, size=min(dups, len(good)), replace=False))
    facts["duplicates"] = int(len(source))
    facts["rows"] = unique + int(len(source))
    take = np.concatenate([np.arange(unique), source])
    take = take[rng.permutation(len(take))]
    midnight = np.datetime64(day.isoformat(), "us")
    order_ts = midnight + (seconds * 1_000_000).astype("timedelta64[us]")
    table = pa.table({
        "order_id": order_id,
        "customer_id": pa.array(customer_id, mask=~customer_valid),
        "product_id": product_id,
        "quantity": quantity,
        "unit_price": unit_price,
        "amount": pa.array(amount, mask=~amount_valid),
        "status": _labels(STATUSES, status),
        "channel": _labels(CHANNELS, channel),
        "order_ts": pa.array(order_ts, pa.timestamp("us")),
    })
    return table.take(pa.array(take)), facts


def _labels(values: list[str], codes) -> object:
    import pyarrow as pa

    return pa.DictionaryArray.from_arrays(pa.array(codes), pa.array(values)).cast(pa.string())


def _choice(rng, values: list[str], count: int, p: list[float] | None = None):
    import numpy as np

    codes = rng.choice(len(values), count, p=p).astype(np.int8)
    return _labels(values, codes)


def ensure(rows: int, root: Path, *, seed: int = SEED, chunk_rows: int = CHUNK_ROWS) -> Path:
    """The data set for ``rows`` under ``root`` (``root/<label>``), generated once and reused
    while its manifest matches."""
    out = root / f"{size_label(rows)}-seed{seed}"
    manifest = out / "manifest.json"
    if manifest.exists():
        known = json.loads(manifest.read_text(encoding="utf-8"))
        if known.get("version") == VERSION and known.get("rows") == rows \
                and known.get("chunk_rows") == chunk_rows:
            return out
    import shutil
    import subprocess
    import sys

    shutil.rmtree(out, ignore_errors=True)
    started = time.perf_counter()
    # in a child process: the caller (the benchmark's parent) stays small, so that its size
    # never shows in a contender's memory figures
    subprocess.run([sys.executable, str(Path(__file__).resolve()), "--rows", str(rows),
                    "--out", str(out), "--seed", str(seed), "--chunk-rows", str(chunk_rows)],
                   check=True, stdout=subprocess.DEVNULL)
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file()) / 2**20
    print(f"generated {rows:,} order rows in {time.perf_counter() - started:.1f} s "
          f"({size:.0f} MB) at {out}", flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=parse_size, required=True, help="e.g. 100k, 1M, 100M")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--chunk-rows", type=parse_size, default=CHUNK_ROWS)
    args = parser.parse_args(argv)
    manifest = generate(args.rows, args.out, seed=args.seed, chunk_rows=args.chunk_rows)
    print(json.dumps(manifest["orders"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
