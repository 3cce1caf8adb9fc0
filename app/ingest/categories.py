"""Product categories for line items whose payload carries none, looked up once per product
and cached.

Neither platform's order webhooks carry categories, only product ids (WooCommerce's REST
orders; Shopify's line items have no product type), and affinity segments need them: the
platform's ``product_categories`` reads them (a WooCommerce product's first category, a
Shopify product's type). This runs while an event is prepared, outside any transaction.
Lookups are cached in Redis for a day; a failed lookup (or a store that cannot be called)
leaves the category empty rather than failing or delaying the event: one quick retry, then
the store's orders skip the lookup for ``LOOKUP_BACKOFF_SECONDS`` (a drain of hundreds of
events from a store whose API is away would otherwise pay a failed call and its retry for
each), and the next order of that product after it tries again.
"""

from __future__ import annotations

import dataclasses
import logging

from flask import current_app

from app.clients import CredentialsUnavailable, store_client
from app.storage.models import Store
from connectors.base import CanonicalEvent, ConnectorError, OrderRecord, RetryPolicy
from connectors.registry import platform_for

log = logging.getLogger(__name__)
CACHE_SECONDS = 86_400
# A lookup must not hold the live path up: one retry, at most a second apart.
LOOKUP_POLICY = RetryPolicy(max_attempts=2, cap_seconds=1.0)
LOOKUP_BACKOFF_SECONDS = 60


def backoff_key(store_id: int) -> str:
    """Set (with an expiry) while a store's product lookups are skipped after one failed."""
    return f"tw:product-category-backoff:{store_id}"


def cache_key(store_id: int) -> str:
    """Redis hash of product id → category name ("" when the product has none)."""
    return f"tw:product-category:{store_id}"


def add_categories(store: Store, records: list[CanonicalEvent]) -> list[CanonicalEvent]:
    """Fill the missing line-item categories of the orders among ``records`` (a batch's) from
    their products: one cache read and at most one lookup for all of them, not one per order."""
    lookup = platform_for(store.platform).product_categories
    if lookup is None:
        return records
    wanted = sorted({i.product_id for record in records if isinstance(record, OrderRecord)
                     for i in record.line_items if i.product_type is None and i.product_id})
    if not wanted:
        return records
    redis = current_app.extensions["redis"]
    cached = dict(zip(wanted, redis.hmget(cache_key(store.id), wanted), strict=True))
    found = {pid: value.decode() for pid, value in cached.items() if value is not None}
    missing = [pid for pid in wanted if pid not in found]
    if missing and not redis.exists(backoff_key(store.id)):
        try:
            fresh = lookup(store_client(store, policy=LOOKUP_POLICY), missing)
        except (CredentialsUnavailable, ConnectorError) as exc:
            log.info("store %s: product categories not looked up (%s)", store.id, exc)
            fresh = {}
        if len(fresh) < len(missing):
            log.info("store %s: %d product category lookups failed", store.id,
                     len(missing) - len(fresh))
        if not fresh:  # nothing came back: the store's API is failing or out of reach
            redis.set(backoff_key(store.id), 1, ex=LOOKUP_BACKOFF_SECONDS)
        found.update(fresh)
        if fresh:
            redis.hset(cache_key(store.id), mapping=fresh)
            redis.expire(cache_key(store.id), CACHE_SECONDS)
    return [_with_categories(record, found) if isinstance(record, OrderRecord) else record
            for record in records]


def _with_categories(order: OrderRecord, found: dict[str, str]) -> OrderRecord:
    """The order with each uncategorised line's category from ``found`` ("" stays None)."""
    if not any(i.product_type is None and i.product_id for i in order.line_items):
        return order
    items = tuple(
        dataclasses.replace(i, product_type=found.get(i.product_id) or None)
        if i.product_type is None and i.product_id else i
        for i in order.line_items)
    return dataclasses.replace(order, line_items=items)
