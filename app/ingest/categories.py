"""Product categories for WooCommerce line items, looked up once per product and cached.

WooCommerce order payloads carry product ids but not categories; affinity segments need them.
Lookups are cached in Redis for a day; a failed lookup leaves the category empty rather than
failing the event (the next order of that product tries again).
"""

from __future__ import annotations

import dataclasses
import logging

from flask import current_app

from app.storage.models import Store
from app.sync.writers import woocommerce_client
from connectors.base import CanonicalEvent, ConnectorError, OrderRecord
from connectors.woocommerce.normalise import category_from_product

log = logging.getLogger(__name__)
CACHE_SECONDS = 86_400


def cache_key(store_id: int) -> str:
    """Redis hash of product id → category name ("" when the product has none)."""
    return f"tw:wc-category:{store_id}"


def add_categories(store: Store, record: CanonicalEvent) -> CanonicalEvent:
    """Fill missing line-item categories of a WooCommerce order from its products."""
    if store.platform != "woocommerce" or not isinstance(record, OrderRecord):
        return record
    wanted = sorted({i.product_id for i in record.line_items
                     if i.product_type is None and i.product_id})
    if not wanted:
        return record
    redis = current_app.extensions["redis"]
    cached = dict(zip(wanted, redis.hmget(cache_key(store.id), wanted), strict=True))
    found = {pid: value.decode() for pid, value in cached.items() if value is not None}
    missing = [pid for pid in wanted if pid not in found]
    if missing:
        client = woocommerce_client(store)
        for product_id in missing:
            try:
                found[product_id] = category_from_product(client.get_product(int(product_id))) or ""
            except (ConnectorError, ValueError) as exc:
                log.info("product %s category lookup failed: %s", product_id, exc)
        fresh = {pid: found[pid] for pid in missing if pid in found}
        if fresh:
            redis.hset(cache_key(store.id), mapping=fresh)
            redis.expire(cache_key(store.id), CACHE_SECONDS)
    items = tuple(
        dataclasses.replace(i, product_type=found.get(i.product_id) or None)
        if i.product_type is None and i.product_id else i
        for i in record.line_items)
    return dataclasses.replace(record, line_items=items)
