"""Footprint: SQL bytes per order.

``pg_total_relation_size`` (heap, indexes, TOAST) of orders + line_items + refunds, divided by
the number of orders. (Profiles live in SQL only: there is no Redis copy to measure.)
"""

from __future__ import annotations

from sqlalchemy import text


def measure(app, store_id: int) -> dict:
    """Bytes per order of the store's tables."""
    with app.extensions["db"].session() as session:
        sizes = session.execute(text(
            "SELECT pg_total_relation_size('orders'), pg_total_relation_size('line_items'), "
            "pg_total_relation_size('refunds'), (SELECT count(*) FROM orders), "
            "(SELECT count(*) FROM line_items)")).one()
    orders_bytes, lines_bytes, refunds_bytes, n_orders, n_lines = sizes
    return {
        "sql_bytes": {"orders": orders_bytes, "line_items": lines_bytes,
                      "refunds": refunds_bytes},
        "orders": n_orders, "line_items": n_lines,
        "sql_bytes_per_order": (orders_bytes + lines_bytes + refunds_bytes) / n_orders,
    }
