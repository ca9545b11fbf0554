"""Seeded generator of the retail example's landing zone at any size (for ``engine_bench.py``).

Writes what ``examples/retail`` reads, in the formats it reads, with the same columns:

- ``orders/<YYYY-MM-DD>.csv``: ``order_id, customer_id, product_id, quantity, unit_price,
  status, order_ts, updated_at``; one file per landing day (the day of ``updated_at``), rows in
  ``updated_at`` order, as the example's two daily files;
- ``customers/customers.csv``: ``customer_id, name, email, country, signup_date``;
- ``products/products.jsonl``: ``product_id, product_name, category``.

``rows`` is the number of order rows (all files together). The example's proportions are kept:

- 20% of the order rows are a later version of an order (example: 2 of 10 rows), with a strictly
  later ``updated_at``; the earlier version is ``open`` (``deduplicate`` keeps the latest);
- 1 order in 8 ends ``cancelled`` (example: 1 of 8 orders; ``filter_rows`` drops them);
- 1 order in 7 has a quantity outside [1, 5] (example: 1 of the 7 orders that are not cancelled;
  ``plausible_quantity`` quarantines them);
- 1 status in 5 is written untidily (`` Shipped ``, ``OPEN``; example: 2 of 10), all of them
  ``open`` / ``shipped`` / ``cancelled`` once trimmed and lower-cased, so ``accepted_values``
  passes as in the example;
- customers: one per 10 order rows (at least 6), 1 in 6 repeated as an identical row (example:
  customer 5), names with stray and doubled spaces, upper-case emails, trailing spaces, lower-case
  countries with a leading space; every order's customer and product exist (inner joins keep
  every order, as in the example);
- products: one per 1,000 order rows, between 4 and 1,000; the unit price is the product's.

The same ``rows`` and ``seed`` always give byte-identical files.

Usage::

    .venv/bin/python benchmarks/retail_data.py --rows 1000000 --out /tmp/retail-1m
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

SEED = 20261101
UPDATE_SHARE = 0.2  # order rows that are a later version of an order
CANCELLED_SHARE = 1 / 8  # orders whose final status is cancelled
BAD_QUANTITY_SHARE = 1 / 7  # orders whose quantity is outside [1, 5]
UNTIDY_STATUS_SHARE = 1 / 5
DUPLICATE_CUSTOMER_SHARE = 1 / 6
DAYS = 28  # order_ts spans 2026-11-01 .. 2026-11-28
START = "2026-11-01T00:00:00"

FIRST = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Katherine", "Donald", "Margaret",
         "John", "Frances", "Dennis", "Radia", "Ken", "Hedy", "Tim", "Sophie"]
LAST = ["Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Johnson", "Knuth", "Hamilton",
        "Backus", "Allen", "Ritchie", "Perlman", "Thompson", "Lamarr", "Berners-Lee", "Wilson"]
COUNTRIES = ["UK", "US", "NL", "DE", "FR", "ES", "IT", "SE", "NO", "DK", "PL", "IE", "PT", "BE",
             "AT", "CH", "FI", "CZ", "JP", "CA"]
CATEGORIES = ["accessories", "peripherals", "office", "storage", "audio", "furniture",
              "networking", "displays"]
ITEMS = ["cable", "keyboard", "notes", "notebook", "mouse", "headset", "chair", "router",
         "monitor", "dock", "lamp", "drive"]
ORDER_COLUMNS = ["order_id", "customer_id", "product_id", "quantity", "unit_price", "status",
                 "order_ts", "updated_at"]
CUSTOMER_COLUMNS = ["customer_id", "name", "email", "country", "signup_date"]


def sizes(rows: int) -> dict[str, int]:
    """How many orders, customers and products go with ``rows`` order rows."""
    updates = int(rows * UPDATE_SHARE)
    return {"order_rows": rows, "orders": rows - updates, "updates": updates,
            "customers": max(6, rows // 10), "products": max(4, min(1000, rows // 1000))}


def generate(rows: int, out: Path, *, seed: int = SEED) -> dict[str, int]:
    """Write the landing zone for ``rows`` order rows under ``out``; returns the sizes."""
    import numpy as np

    rng = np.random.default_rng(seed)
    n = sizes(rows)
    out.mkdir(parents=True, exist_ok=True)
    _write_products(rng, n["products"], out / "products" / "products.jsonl")
    prices = _prices(rng, n["products"])
    _write_customers(rng, n["customers"], out / "customers" / "customers.csv")
    _write_orders(rng, n, prices, out / "orders")
    return n


# --- products ------------------------------------------------------------------------------------


def _write_products(rng, count: int, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    categories = rng.integers(0, len(CATEGORIES), count)
    items = rng.integers(0, len(ITEMS), count)
    with path.open("w", encoding="utf-8") as handle:
        for i in range(count):
            record = {"product_id": 10 + i,
                      "product_name": f"{ITEMS[items[i]].capitalize()} model {i}",
                      "category": CATEGORIES[categories[i]]}
            handle.write(json.dumps(record) + "\n")


def _prices(rng, count: int) -> list[str]:
    """Each product's unit price with two decimals, as the CSV holds it ("249.00")."""
    cents = rng.integers(99, 50_000, count)
    cents[0] = 1999  # the example's products keep a recognisable price each
    return [f"{c // 100}.{c % 100:02d}" for c in cents]


# --- customers -----------------------------------------------------------------------------------


def _write_customers(rng, count: int, path: Path) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    ids = np.arange(1, count + 1, dtype=np.int64)
    first = pa.array(FIRST).take(pa.array(rng.integers(0, len(FIRST), count)))
    last = pa.array(LAST).take(pa.array(rng.integers(0, len(LAST), count)))
    tidy_name = pc.binary_join_element_wise(first, last, " ")
    doubled = pc.binary_join_element_wise(first, last, "   ")
    padded = pc.binary_join_element_wise("  ", tidy_name, " ", "")
    mess = rng.integers(0, 6, count)  # 0: padded, 1: doubled space, else tidy
    name = pc.if_else(pa.array(mess == 0), padded, pc.if_else(pa.array(mess == 1), doubled,
                                                               tidy_name))
    local = pc.utf8_lower(pc.binary_join_element_wise(first, last, "."))
    email = pc.binary_join_element_wise(local, pc.cast(pa.array(ids), pa.string()),
                                        "@example.com", "")
    email_mess = rng.integers(0, 6, count)  # 0: upper case, 1: trailing space
    email = pc.if_else(pa.array(email_mess == 0), pc.utf8_upper(email),
                       pc.if_else(pa.array(email_mess == 1),
                                  pc.binary_join_element_wise(email, " ", ""), email))
    country = pa.array(COUNTRIES).take(pa.array(rng.integers(0, len(COUNTRIES), count)))
    country_mess = rng.integers(0, 6, count) == 0  # " uk"
    country = pc.if_else(pa.array(country_mess),
                         pc.binary_join_element_wise(" ", pc.utf8_lower(country), ""), country)
    signup = (np.datetime64("2025-01-01") + rng.integers(0, 365, count)).astype("datetime64[D]")
    table = pa.table({"customer_id": ids, "name": name, "email": email, "country": country,
                      "signup_date": pa.array(signup)})
    # 1 in 6 customers appears twice, the copy right after the original (as customer 5 does).
    repeat = np.ones(count, dtype=np.int64)
    repeat[rng.random(count) < DUPLICATE_CUSTOMER_SHARE] = 2
    table = table.take(pa.array(np.repeat(np.arange(count), repeat)))
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_csv(table, path)


# --- orders --------------------------------------------------------------------------------------


def _write_orders(rng, n: dict[str, int], prices: list[str], folder: Path) -> None:
    import numpy as np
    import pyarrow as pa

    orders, updates = n["orders"], n["updates"]
    order_id = np.arange(1001, 1001 + orders, dtype=np.int64)
    customer = rng.integers(1, n["customers"] + 1, orders)
    product = rng.integers(0, n["products"], orders)
    quantity = rng.integers(1, 6, orders)
    bad = rng.random(orders) < BAD_QUANTITY_SHARE
    quantity[bad] = rng.integers(6, 13, int(bad.sum()))  # the example's bad row has 10
    final_status = np.where(rng.random(orders) < CANCELLED_SHARE, 2,
                            rng.integers(0, 2, orders))  # 0 open, 1 shipped, 2 cancelled
    start = np.datetime64(START, "s")
    order_ts = start + rng.integers(0, DAYS * 86400, orders).astype("timedelta64[s]")
    first_update = order_ts + rng.integers(0, 3 * 3600, orders).astype("timedelta64[s]")

    # The later versions: distinct orders; the earlier version then says "open".
    revised = rng.choice(orders, size=updates, replace=False) if updates else \
        np.empty(0, dtype=np.int64)
    first_status = final_status.copy()
    first_status[revised] = 0
    later = first_update[revised] + rng.integers(3600, 48 * 3600, updates).astype(
        "timedelta64[s]")

    source = np.concatenate([np.arange(orders), revised])  # the order of each row
    status_code = np.concatenate([first_status, final_status[revised]])
    updated_at = np.concatenate([first_update, later])
    total = orders + updates
    status = _statuses(rng, status_code, total)
    table = pa.table({
        "order_id": order_id[source],
        "customer_id": customer[source],
        "product_id": (product + 10)[source],
        "quantity": quantity[source],
        "unit_price": pa.array(prices).take(pa.array(product[source])),
        "status": status,
        "order_ts": pa.array(order_ts[source], pa.timestamp("s")),
        "updated_at": pa.array(updated_at, pa.timestamp("s")),
    })
    order = np.argsort(updated_at, kind="stable")
    table = table.take(pa.array(order))
    days = updated_at[order].astype("datetime64[D]")
    bounds = np.flatnonzero(days[1:] != days[:-1]) + 1
    folder.mkdir(parents=True, exist_ok=True)
    for begin, end in zip(np.concatenate([[0], bounds]), np.concatenate([bounds, [total]])):
        _write_csv(table.slice(begin, end - begin), folder / f"{days[begin]}.csv")


def _statuses(rng, code, total: int):
    """open / shipped / cancelled, 1 in 5 written untidily (" Shipped ", "OPEN", ...)."""
    import numpy as np
    import pyarrow as pa

    tidy = np.array(["open", "shipped", "cancelled"], dtype=object)
    untidy = np.array([[" Open ", "OPEN", "open "], [" Shipped ", "SHIPPED", "Shipped"],
                       ["Cancelled", " CANCELLED", "cancelled "]], dtype=object)
    values = tidy[code]
    messy = rng.random(total) < UNTIDY_STATUS_SHARE
    variant = rng.integers(0, 3, total)
    values[messy] = untidy[code[messy], variant[messy]]
    return pa.array(values, pa.string())


def _write_csv(table, path: Path) -> None:
    """A CSV file without quotes, as the example's (no generated value holds a comma or a
    quote)."""
    import pyarrow.csv as csv

    with path.open("wb") as handle:
        handle.write((",".join(table.column_names) + "\n").encode("utf-8"))
        csv.write_csv(table, handle, csv.WriteOptions(include_header=False,
                                                      quoting_style="none"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, required=True, help="order rows in all files")
    parser.add_argument("--out", type=Path, required=True, help="the landing folder to write")
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    n = generate(args.rows, args.out, seed=args.seed)
    print(f"generated {n} under {args.out} in {time.perf_counter() - start:.1f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
