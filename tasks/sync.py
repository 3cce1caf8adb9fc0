"""Debounced, batched sync of tag changes to each destination."""

from __future__ import annotations

import logging

from celery import shared_task
from flask import current_app
from sqlalchemy import select

from app.storage import redis_state
from app.storage.models import Destination, Store
from app.sync.diff import sync_customers

log = logging.getLogger(__name__)
TRANSIENT_RETRY_SECONDS = 30
LOCK_SECONDS = 600


def schedule_sync(destination_id: int, customer_ids: list[int]) -> None:
    """Mark customers dirty; queue one debounced sync per destination, not one per event."""
    redis = current_app.extensions["redis"]
    debounce = current_app.config["SYNC_DEBOUNCE_SECONDS"]
    if redis_state.mark_dirty(redis, destination_id, customer_ids, debounce):
        sync_destination.apply_async(args=[destination_id], countdown=debounce)


@shared_task(acks_late=True)
def sync_destination(destination_id: int) -> int:
    """Drain the destination's dirty set in batches; return how many changes were sent."""
    redis = current_app.extensions["redis"]
    db = current_app.extensions["db"]
    redis.delete(redis_state.scheduled_key(destination_id))
    lock = redis.lock(f"tw:sync-lock:{destination_id}", timeout=LOCK_SECONDS, blocking=False)
    if not lock.acquire():
        # Another sync of this destination runs; come back once it is likely done.
        sync_destination.apply_async(args=[destination_id],
                                     countdown=current_app.config["SYNC_DEBOUNCE_SECONDS"])
        return 0
    sent = 0
    retry: list[int] = []
    try:
        batch_size = current_app.config["SYNC_BATCH_SIZE"]
        while ids := redis_state.take_dirty(redis, destination_id, batch_size):
            with db.session() as session:
                destination = session.get(Destination, destination_id)
                if destination is None:
                    return sent
                store = session.get(Store, destination.store_id)
                report = sync_customers(session, store, destination, ids)
            sent += report.sent
            retry.extend(report.transient)
    finally:
        lock.release()
    if retry:
        redis_state.mark_dirty(redis, destination_id, retry, TRANSIENT_RETRY_SECONDS)
        sync_destination.apply_async(args=[destination_id], countdown=TRANSIENT_RETRY_SECONDS)
    return sent


@shared_task(acks_late=True)
def sync_all() -> int:
    """Compare wanted and confirmed tags for every customer of every store (catches losses)."""
    db = current_app.extensions["db"]
    with db.session() as session:
        rows = session.execute(select(Destination.id, Store.id).join(
            Store, Store.id == Destination.store_id).where(Store.install_state == "active")).all()
    for destination_id, _ in rows:
        sync_store_destination.delay(destination_id)
    return len(rows)


@shared_task(acks_late=True)
def sync_store_destination(destination_id: int, full: bool = False) -> int:
    """One pass over a whole store for one destination (``tagwise sync`` does the same)."""
    db = current_app.extensions["db"]
    with db.session() as session:
        destination = session.get(Destination, destination_id)
        if destination is None:
            return 0
        store = session.get(Store, destination.store_id)
        return sync_customers(session, store, destination, None, full=full).sent
