"""Catch what webhooks missed: page the platform for changes since the watermark.

Shopify gives no delivery guarantee either: its orders and customers updated since the
watermark are paged through the Admin GraphQL API (paced by the cost bucket) and enter the
inbox as webhook-shaped bodies keyed by id and ``updatedAt``, so a state already seen is
deduplicated and one a webhook already applied is dropped as stale.

WooCommerce never retries a failed delivery and disables a webhook after repeated failures,
so reconciliation is the safety net: every order and customer modified since the last run goes
through the same inbox and ingest path as a webhook (already-seen states are deduplicated or
dropped as stale), and the site's webhooks are checked and re-activated.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from celery import shared_task
from flask import current_app
from sqlalchemy import select

from app.ingest.events import process_event
from app.ingest.inbox import record_event
from app.storage.db import utcnow
from app.storage.models import Destination, Store
from app.sync.writers import DestinationUnavailable, shopify_client, woocommerce_client
from connectors.base import ConnectorError, PayloadError
from connectors.shopify.client import ShopifyClient
from connectors.shopify.history import updated_since_filter
from connectors.shopify.normalise import rest_customer, rest_order
from connectors.woocommerce import webhooks as wc_webhooks
from tasks.ingest import apply_processed

log = logging.getLogger(__name__)
# Look back a little before the watermark: clocks differ and a save can land mid-page.
OVERLAP = timedelta(minutes=5)


def import_resources(store_id: int, since: datetime | None,
                     progress: Callable[[int], None] = lambda n: None) -> dict[str, int]:
    """Feed every order and customer modified since ``since`` through the inbox and ingest."""
    db = current_app.extensions["db"]
    with db.session() as session:
        store = session.get(Store, store_id)
        if store is None or store.platform != "woocommerce":
            raise LookupError(f"no WooCommerce store {store_id}")
    client = woocommerce_client(store)
    counts = {"seen": 0, "new": 0, "rejected": 0}
    sources: Iterable[tuple[str, Iterable[dict]]] = (
        ("customer.updated", client.iter_customers(since)),
        ("order.updated", client.iter_orders(since)),
    )
    for topic, resources in sources:
        for resource in resources:
            counts["seen"] += 1
            progress(1)
            try:
                key = wc_webhooks.dedupe_key(topic, resource)
            except PayloadError as exc:
                counts["rejected"] += 1
                log.warning("reconcile store %s: %s", store_id, exc)
                continue
            inbox_id = record_event(db, store_id, "woocommerce", topic, key,
                                    json.dumps(resource).encode())
            if inbox_id is not None:
                counts["new"] += 1
                apply_processed(process_event(db, inbox_id))
    return counts


SHOPIFY_RESOURCES = (("customers", "customers/update", rest_customer),
                     ("orders", "orders/updated", rest_order))


def import_shopify_changes(store_id: int, since: datetime | None,
                           client: ShopifyClient | None = None) -> dict[str, int]:
    """Feed every Shopify order and customer updated since ``since`` through the inbox."""
    db = current_app.extensions["db"]
    with db.session() as session:
        store = session.get(Store, store_id)
        client = client or shopify_client(store)
    counts = {"seen": 0, "new": 0, "rejected": 0}
    for resource, topic, shape in SHOPIFY_RESOURCES:
        for node in client.iter_nodes(resource, updated_since_filter(since)):
            counts["seen"] += 1
            try:
                body = shape(node)
            except PayloadError as exc:
                counts["rejected"] += 1
                log.warning("reconcile store %s: %s", store_id, exc)
                continue
            key = f"reconcile:{resource}:{body['id']}:{node.get('updatedAt')}"
            inbox_id = record_event(db, store_id, "shopify", topic, key, json.dumps(body).encode())
            if inbox_id is not None:
                counts["new"] += 1
                apply_processed(process_event(db, inbox_id))
    return counts


def check_webhooks(store_id: int) -> list[str]:
    """Re-activate any of the site's webhooks it paused or disabled; say which."""
    db = current_app.extensions["db"]
    with db.session() as session:
        store = session.get(Store, store_id)
    client = woocommerce_client(store)
    revived = []
    for hook in client.list_webhooks():
        if hook.get("status") != "active" and "/webhooks/woocommerce/" in hook.get(
                "delivery_url", ""):
            client.activate_webhook(hook["id"])
            revived.append(f"{hook.get('topic')} was {hook.get('status')}")
    if revived:
        with db.session() as session:
            destination = session.execute(select(Destination).filter_by(
                store_id=store_id, kind="woocommerce_meta")).scalar()
            if destination is not None:
                destination.last_error = "webhooks re-activated: " + "; ".join(revived)
        log.warning("store %s: re-activated webhooks (%s)", store_id, "; ".join(revived))
    return revived


@shared_task(acks_late=True)
def reconcile_store(store_id: int) -> dict[str, int]:
    """One reconciliation pass of a store, then move its watermark (only after success)."""
    db = current_app.extensions["db"]
    started = utcnow()
    with db.session() as session:
        store = session.get(Store, store_id)
        platform, watermark = store.platform, store.reconciled_until
    since = watermark - OVERLAP if watermark else None
    try:
        if platform == "shopify":
            counts = import_shopify_changes(store_id, since)
        else:
            check_webhooks(store_id)
            counts = import_resources(store_id, since)
    except (ConnectorError, DestinationUnavailable) as exc:
        log.warning("reconcile store %s failed: %s", store_id, exc)
        return {"error": 1}
    with db.session() as session:
        session.get(Store, store_id).reconciled_until = started
    return counts


@shared_task(acks_late=True)
def reconcile_all() -> int:
    """Queue a reconciliation of every installed store."""
    db = current_app.extensions["db"]
    with db.session() as session:
        ids = list(session.execute(select(Store.id).filter_by(
            install_state="active")).scalars())
    for store_id in ids:
        reconcile_store.delay(store_id)
    return len(ids)
