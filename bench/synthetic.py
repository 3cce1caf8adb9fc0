"""A synthetic store drawn from the BG/NBD process, bulk-loaded straight into the tables.

Customers and their orders come from ``bench.predict_core.simulate_orders`` (BG/NBD purchase
times, Gamma-Gamma spend) over three years ending now. Around them: 8% of customers are email
guests (no platform id), anonymous guest orders bring the store to ten orders per customer,
baskets of 1 + Poisson(0.9) lines in twelve product types (each customer leans to one), a
quarter of orders discounted 10-20% with a code, 1.5% cancelled, 4% partly refunded.
Rows go in with ``COPY`` (never through webhooks); ids are explicit and sequences moved past.
A store too big to hold at once (the 1M-customer row) is drawn and loaded in slices of
``CHUNK_CUSTOMERS`` customers (``generate_chunks``, ``load_chunks``).
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from app.scoring.recompute import check_facts
from app.storage.models import Store
from bench.predict_core import simulate_orders

HISTORY_DAYS = 3 * 365
ORDERS_PER_CUSTOMER = 10
PRODUCT_TYPES = ["Dresses", "Tops", "Jeans", "Shoes", "Bags", "Jewelry", "Skincare",
                 "Fragrance", "Candles", "Mugs", "Books", "Gift Cards"]
TYPE_WEIGHTS = 1.0 / np.arange(1, len(PRODUCT_TYPES) + 1)  # Zipf: a few types dominate
TYPE_WEIGHTS /= TYPE_WEIGHTS.sum()
VENDORS = ["North Loom", "Harbor & Co", "Juniper Works"]
DISCOUNT_CODES = ["WELCOME10", "SPRING15", "VIP20", "BFCM20"]
MONEY_SCALE = 10_000
REGISTERED_ID_BASE = 7_000_000_000  # platform ids of registered customers: base + our id
ORDER_ID_BASE = 5_000_000_000
CHUNK_CUSTOMERS = 100_000  # customers drawn and loaded at once (about 1.5 GB at peak)
TABLES = ("customers", "orders", "line_items", "refunds")


def registered_platform_id(customer_id: int) -> str:
    """The Shopify customer id of a synthetic customer (None-free for registered ones)."""
    return str(REGISTERED_ID_BASE + customer_id)


def _money(values: np.ndarray) -> np.ndarray:
    return np.round(values * MONEY_SCALE).astype("int64")


def _stamp(times) -> np.ndarray:
    """Naive UTC datetimes as PostgreSQL timestamptz text."""
    return pd.DatetimeIndex(times).strftime("%Y-%m-%d %H:%M:%S+00").to_numpy()


def generate(n_customers: int, seed: int = 11) -> dict[str, pd.DataFrame]:
    """The frames of each table (ids from 1), ending at the current hour (UTC)."""
    rng = np.random.default_rng(seed)
    sim = simulate_orders(n_customers, HISTORY_DAYS, seed=seed)
    end = pd.Timestamp(datetime.now(UTC).replace(minute=0, second=0, microsecond=0,
                                                 tzinfo=None))
    shift = end - pd.Timestamp("2020-01-01") - pd.Timedelta(days=HISTORY_DAYS)
    owned = pd.DataFrame({"customer_id": sim["customer_id"].to_numpy() + 1,
                          "created": sim["order_time"] + shift,
                          "value": sim["value"].to_numpy()})
    n_guest = max(0, ORDERS_PER_CUSTOMER * n_customers - len(owned))
    guest = pd.DataFrame({
        "customer_id": pd.array([pd.NA] * n_guest, dtype="Int64"),
        "created": end - pd.to_timedelta(rng.uniform(0, HISTORY_DAYS, n_guest), unit="D"),
        "value": rng.gamma(4.0, 25.0, n_guest)})
    orders = pd.concat([owned.astype({"customer_id": "Int64"}), guest], ignore_index=True)
    orders = orders.sort_values("created", kind="stable").reset_index(drop=True)
    n = len(orders)
    orders["id"] = np.arange(1, n + 1)
    discounted = rng.random(n) < 0.25
    rate = np.where(discounted, rng.uniform(0.10, 0.20, n), 0.0)
    total = np.round(np.maximum(orders["value"].to_numpy(), 5.0), 2)
    discount = np.round(total * rate / (1 - rate), 2)
    cancelled = rng.random(n) < 0.015
    code = np.where(discounted, np.array(DISCOUNT_CODES)[rng.integers(0, 4, n)], "")
    lines_per_order = 1 + rng.poisson(0.9, n)

    customer_ids = np.arange(1, n_customers + 1)
    first = owned.groupby("customer_id")["created"].min()
    guest_email = rng.random(n_customers) < 0.08
    customers = pd.DataFrame({
        "id": customer_ids,
        "platform_id": np.where(guest_email, None,
                                [registered_platform_id(i) for i in customer_ids]),
        "guest_email_key": np.where(guest_email, [f"c{i}@example.com" for i in customer_ids],
                                    None),
        "email": [f"c{i}@example.com" for i in customer_ids],
        "accepts_marketing": rng.random(n_customers) < 0.6,
        "created_at": _stamp(first.reindex(customer_ids).fillna(end)),
    })

    line_order = np.repeat(orders["id"].to_numpy(), lines_per_order)
    owner = np.repeat(orders["customer_id"].fillna(0).to_numpy(dtype="int64"), lines_per_order)
    favourite = rng.choice(len(PRODUCT_TYPES), n_customers + 1, p=TYPE_WEIGHTS)
    n_lines = len(line_order)
    ptype = np.where(rng.random(n_lines) < 0.6, favourite[owner],
                     rng.choice(len(PRODUCT_TYPES), n_lines, p=TYPE_WEIGHTS))
    quantity = 1 + (rng.random(n_lines) < 0.15)
    line_total = np.repeat((total + discount) / lines_per_order, lines_per_order)
    lines = pd.DataFrame({
        "id": np.arange(1, n_lines + 1), "order_id": line_order,
        "product_id": (9_000_000 + ptype * 100 + rng.integers(0, 100, n_lines)).astype(str),
        "variant_id": None,
        "product_type": np.array(PRODUCT_TYPES)[ptype],
        "vendor": np.array(VENDORS)[ptype % len(VENDORS)],
        "quantity": quantity, "price": _money(line_total / quantity)})
    items = pd.Series(quantity).groupby(line_order).sum().to_numpy()

    created = _stamp(orders["created"])
    orders_table = pd.DataFrame({
        "id": orders["id"], "store_id": 0,
        "platform_id": (ORDER_ID_BASE + orders["id"]).astype(str),
        "customer_id": orders["customer_id"], "created_at": created, "source_updated_at": created,
        "currency": "USD", "total": _money(total), "subtotal": _money(total + discount),
        "discount_total": _money(discount),
        "discount_codes": [f'["{c}"]' if c else "[]" for c in code],
        "financial_status": np.where(cancelled, "voided", "paid"),
        "cancelled_at": np.where(cancelled, created, None), "is_test": False,
        "items_count": items})

    refunded = np.flatnonzero(~cancelled & (rng.random(n) < 0.04))
    refunds = pd.DataFrame({
        "id": np.arange(1, len(refunded) + 1), "store_id": 0,
        "platform_id": (ORDER_ID_BASE * 2 + refunded).astype(str),
        "order_platform_id": orders_table["platform_id"].to_numpy()[refunded],
        "amount": _money(total[refunded] * rng.uniform(0.3, 1.0, len(refunded))),
        "created_at": _stamp(np.minimum(orders["created"].to_numpy()[refunded]
                                        + np.timedelta64(5, "D"), end.to_datetime64()))})
    return {"customers": customers, "orders": orders_table, "line_items": lines,
            "refunds": refunds}


def generate_chunks(n_customers: int, seed: int = 11,
                    chunk_customers: int = CHUNK_CUSTOMERS) -> Iterator[dict[str, pd.DataFrame]]:
    """The store in slices of ``chunk_customers`` customers, each drawn as ``generate`` does
    (its own seed), ids and platform ids running on from the slice before."""
    before = dict.fromkeys(TABLES, 0)
    for n, start in enumerate(range(0, n_customers, chunk_customers)):
        tables = generate(min(chunk_customers, n_customers - start), seed=seed + n)
        yield _renumbered(tables, before)
        before = {name: before[name] + len(tables[name]) for name in TABLES}


def _renumbered(tables: dict[str, pd.DataFrame], before: dict[str, int]
                ) -> dict[str, pd.DataFrame]:
    """A slice's tables with every id, and the platform ids made of them, moved past the rows
    of the slices before (unique across the store)."""
    customers, orders, lines, refunds = (tables[name] for name in TABLES)
    registered = customers["platform_id"].notna().to_numpy()
    customers["id"] += before["customers"]
    customers["platform_id"] = np.where(
        registered, [registered_platform_id(i) for i in customers["id"]], None)
    customers["email"] = [f"c{i}@example.com" for i in customers["id"]]
    customers["guest_email_key"] = np.where(registered, None, customers["email"])
    orders["id"] += before["orders"]
    orders["customer_id"] += before["customers"]
    orders["platform_id"] = (ORDER_ID_BASE + orders["id"]).astype(str)
    lines["id"] += before["line_items"]
    lines["order_id"] += before["orders"]
    refunds["id"] += before["refunds"]
    for column in ("platform_id", "order_platform_id"):
        refunds[column] = (refunds[column].astype("int64") + before["orders"]).astype(str)
    return tables


def load_chunks(db, store_id: int, chunks: Iterable[dict[str, pd.DataFrame]]) -> dict:
    """Draw and COPY the slices one after another, ANALYZE once; row counts and the seconds
    spent drawing and loading."""
    rows = dict.fromkeys(TABLES, 0)
    drawing = loading = 0.0
    began = time.perf_counter()
    for tables in chunks:
        drawn = time.perf_counter()
        drawing += drawn - began
        for name, count in load(db, store_id, tables, analyze=False).items():
            rows[name] += count
        del tables  # not held while the next slice is drawn
        began = time.perf_counter()
        loading += began - drawn
    analyze_tables(db)
    loading += time.perf_counter() - began
    return {"rows": rows, "generate_seconds": round(drawing, 1),
            "copy_seconds": round(loading, 1)}


def analyze_tables(db) -> None:
    """Refresh the planner's statistics after a bulk load."""
    raw = db.engine.raw_connection()
    try:
        raw.driver_connection.execute("ANALYZE")
        raw.commit()
    finally:
        raw.close()


def load(db, store_id: int, tables: dict[str, pd.DataFrame],
         analyze: bool = True) -> dict[str, int]:
    """COPY the frames into PostgreSQL for ``store_id`` in one transaction; ANALYZE (unless
    told not to: a slice of a bigger load); row counts."""
    raw = db.engine.raw_connection()
    try:
        cursor = raw.driver_connection.cursor()
        # Skip per-row foreign-key triggers for this bulk load (the rows are consistent by
        # construction); needs a superuser, as the local postgres role is.
        cursor.execute("SET LOCAL session_replication_role = replica")
        for name in TABLES:
            frame = tables[name]
            if "store_id" in frame or name == "customers":
                frame = frame.assign(store_id=store_id)
            buffer = io.StringIO()
            frame.to_csv(buffer, index=False, header=False)
            columns = ", ".join(frame.columns)
            with cursor.copy(f"COPY {name} ({columns}) FROM STDIN WITH (FORMAT csv)") as copy:
                copy.write(buffer.getvalue())
            cursor.execute(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                           f"(SELECT max(id) FROM {name}))")
        if analyze:
            cursor.execute("ANALYZE")
        raw.commit()
    finally:
        raw.close()
    if analyze:  # a whole store: its customer facts, as a backfill's writes would keep them
        with db.session() as session:
            check_facts(session, session.get(Store, store_id))
    return {name: len(frame) for name, frame in tables.items()}
