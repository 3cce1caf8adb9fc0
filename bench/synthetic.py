"""A synthetic store drawn from the BG/NBD process, bulk-loaded straight into the tables.

Customers and their orders come from ``bench.predict_core.simulate_orders`` (BG/NBD purchase
times, Gamma-Gamma spend) over three years ending now. Around them: 8% of customers are email
guests (no platform id), anonymous guest orders bring the store to ten orders per customer,
baskets of 1 + Poisson(0.9) lines in twelve product types (each customer leans to one), a
quarter of orders discounted 10-20% with a code, 1.5% cancelled, 4% partly refunded.
Rows go in with ``COPY`` (never through webhooks); ids are explicit and sequences moved past.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime

import numpy as np
import pandas as pd

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


def load(db, store_id: int, tables: dict[str, pd.DataFrame]) -> dict[str, int]:
    """COPY the frames into PostgreSQL for ``store_id`` in one transaction; ANALYZE; row counts."""
    raw = db.engine.raw_connection()
    try:
        cursor = raw.driver_connection.cursor()
        # Skip per-row foreign-key triggers for this bulk load (the rows are consistent by
        # construction); needs a superuser, as the local postgres role is.
        cursor.execute("SET LOCAL session_replication_role = replica")
        for name in ("customers", "orders", "line_items", "refunds"):
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
        cursor.execute("ANALYZE")
        raw.commit()
    finally:
        raw.close()
    return {name: len(frame) for name, frame in tables.items()}
