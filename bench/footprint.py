"""Footprint: Redis bytes per hot profile hash, SQL bytes per order.

Redis: ``MEMORY USAGE key SAMPLES 0`` (exact, key and value and overhead) over a sample of the
store's profile hashes, and their encoding. SQL: ``pg_total_relation_size`` (heap, indexes,
TOAST) of orders + line_items + refunds, divided by the number of orders.
"""

from __future__ import annotations

import statistics

import numpy as np
from sqlalchemy import text

from app.storage.redis_state import HOT_FIELDS, profile_key


def measure(app, store_id: int, sample: int = 2000) -> dict:
    """Bytes per profile hash (mean and median of a sample) and bytes per order."""
    db = app.extensions["db"]
    client = app.extensions["redis"]
    with db.session() as session:
        ids = list(session.execute(text("SELECT customer_id FROM profiles WHERE store_id = :s"),
                                   {"s": store_id}).scalars())
        sizes = session.execute(text(
            "SELECT pg_total_relation_size('orders'), pg_total_relation_size('line_items'), "
            "pg_total_relation_size('refunds'), (SELECT count(*) FROM orders), "
            "(SELECT count(*) FROM line_items)")).one()
    chosen = np.random.default_rng(3).choice(ids, min(sample, len(ids)), replace=False)
    keys = [profile_key(store_id, int(c)) for c in chosen]
    pipe = client.pipeline(transaction=False)
    for key in keys:
        pipe.memory_usage(key, samples=0)
    usage = [u for u in pipe.execute() if u is not None]
    encoding = client.object("encoding", keys[0]).decode() if keys else None
    orders_bytes, lines_bytes, refunds_bytes, n_orders, n_lines = sizes
    return {
        "redis_profiles_sampled": len(usage),
        "redis_bytes_per_profile_mean": statistics.mean(usage) if usage else None,
        "redis_bytes_per_profile_median": statistics.median(usage) if usage else None,
        "redis_hash_fields": len(HOT_FIELDS),
        "redis_hash_encoding": encoding,
        "sql_bytes": {"orders": orders_bytes, "line_items": lines_bytes,
                      "refunds": refunds_bytes},
        "orders": n_orders, "line_items": n_lines,
        "sql_bytes_per_order": (orders_bytes + lines_bytes + refunds_bytes) / n_orders,
    }
