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
from collections.abc import Callable
from datetime import datetime, timedelta

from celery import shared_task
from flask import current_app
from sqlalchemy import select

from app.clients import CredentialsUnavailable, store_client
from app.ingest.events import process_event
from app.ingest.inbox import insert_event
from app.storage.db import utcnow
from app.storage.models import Destination, Store
from connectors.base import ApiClient, PayloadError, PermanentError
from connectors.registry import platform_for
from tasks.ingest import apply_processed

log = logging.getLogger(__name__)
# Look back a little before the watermark: clocks differ and a save can land mid-page.
OVERLAP = timedelta(minutes=5)


def import_changes(store_id: int, since: datetime | None,
                   progress: Callable[[int], None] = lambda n: None,
                   client: ApiClient | None = None) -> dict[str, int]:
    """Feed every order and customer the platform changed since ``since`` through the inbox
    and the ingest path; what webhooks already delivered is dropped by the dedupe key."""
    db = current_app.extensions["db"]
    with db.session() as session:
        store = session.get(Store, store_id)
        if store is None:
            raise LookupError(f"no store {store_id}")
        platform = platform_for(store.platform)
        client = client or store_client(store)
    counts = {"seen": 0, "new": 0, "rejected": 0}
    for change in platform.changes_since(client, since):
        counts["seen"] += 1
        progress(1)
        if isinstance(change, PayloadError):
            counts["rejected"] += 1
            log.warning("reconcile store %s: %s", store_id, change)
            continue
        inbox_id = insert_event(db, store_id, platform.name, change.topic, change.key,
                                json.dumps(change.body).encode())
        if inbox_id is not None:
            counts["new"] += 1
            apply_processed(process_event(db, inbox_id))
    return counts


def platform_upkeep(store_id: int) -> list[str]:
    """Let the platform repair what it can (WooCommerce: re-activate paused webhooks) and
    show what it did as the store destination's last error."""
    db = current_app.extensions["db"]
    with db.session() as session:
        store = session.get(Store, store_id)
        platform = platform_for(store.platform)
        repaired = platform.upkeep(store_client(store))
        if repaired:
            destination = session.execute(select(Destination).filter_by(
                store_id=store_id, kind=platform.store_destination)).scalar()
            if destination is not None:
                destination.last_error = "webhooks re-activated: " + "; ".join(repaired)
            log.warning("store %s: %s", store_id, "; ".join(repaired))
    return repaired


@shared_task
def reconcile_store(store_id: int) -> dict[str, int]:
    """One reconciliation pass of a store, then move its watermark (only after success)."""
    db = current_app.extensions["db"]
    started = utcnow()
    with db.session() as session:
        watermark = session.get(Store, store_id).reconciled_until
    since = watermark - OVERLAP if watermark else None
    try:
        platform_upkeep(store_id)
        counts = import_changes(store_id, since)
    except (PermanentError, CredentialsUnavailable) as exc:
        # A transient failure propagates and is retried by the task policy; this one would
        # fail the same way again. The watermark stays, so the next run covers the gap.
        log.warning("reconcile store %s failed: %s", store_id, exc)
        return {"error": 1}
    with db.session() as session:
        session.get(Store, store_id).reconciled_until = started
    return counts


@shared_task
def reconcile_all() -> int:
    """Queue a reconciliation of every installed store."""
    db = current_app.extensions["db"]
    with db.session() as session:
        ids = list(session.execute(select(Store.id).filter_by(
            install_state="active")).scalars())
    for store_id in ids:
        reconcile_store.delay(store_id)
    return len(ids)
