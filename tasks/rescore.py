"""Re-bin RFM and recompute every profile and segment of a store (recency moves daily)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from celery import shared_task
from flask import current_app
from sqlalchemy import and_, func, select, update

from app.scoring.recompute import RefreshResult, check_facts, refresh_store, rescore_store
from app.storage import metrics
from app.storage.db import utcnow
from app.storage.models import Customer, Store
from app.sync.diff import destination_ids
from tasks.sync import schedule_sync

log = logging.getLogger(__name__)
LOCK_SECONDS = 3 * 3600  # longer than any rescore; the lock expires if a worker dies
BUSY_RETRY_SECONDS = 60


class StoreBusy(Exception):
    """Another rescore or segment refresh of the store holds its lock."""

    def __init__(self, store_id: int):
        super().__init__(f"store {store_id} is being recomputed by another process; "
                         "try again when it finishes")


def lock_key(store_id: int) -> str:
    """Redis lock held while a store is recomputed."""
    return f"tw:rescore-lock:{store_id}"


def _recompute(store_id: int, compute: Callable[..., RefreshResult]) -> dict[str, int]:
    """Run a whole-store recompute, then queue the tag changes.

    One recompute per store at a time (a Redis lock; ``StoreBusy`` when one runs). Returns
    counts: customers, customers whose segments moved, rows written per table.
    """
    db = current_app.extensions["db"]
    client = current_app.extensions["redis"]
    lock = client.lock(lock_key(store_id), timeout=LOCK_SECONDS, blocking=False)
    if not lock.acquire():
        raise StoreBusy(store_id)
    try:
        with db.session() as session:
            store = session.get(Store, store_id)
            if store is None:
                raise LookupError(f"no store {store_id}")
            result = compute(db, session, store)
            targets = destination_ids(session, store_id)
    finally:
        lock.release()
    for destination_id in targets:
        schedule_sync(destination_id, result.changed)
    counts = {"customers": result.customers, "changed": len(result.changed),
              "profiles_changed": result.rows_written["profiles"],
              **{f"rows_written_{name}": n for name, n in result.rows_written.items()}}
    log.info("recomputed store %s: %s", store_id, counts)
    return counts


def run_rescore(store_id: int, as_of: datetime | None = None) -> dict[str, int]:
    """Rescore one store and queue the resulting tag changes; return counts."""
    started = time.perf_counter()
    counts = _recompute(store_id, lambda db, session, store: rescore_store(
        db, session, store, utcnow(), as_of))
    metrics.count("tagwise_rescore_seconds", (str(store_id),), time.perf_counter() - started)
    metrics.count("tagwise_rescores", (str(store_id),))
    return counts


def run_segment_refresh(store_id: int) -> dict[str, int]:
    """Re-evaluate every customer's segments (after a segment edit) and queue tag changes."""
    return _recompute(store_id, lambda db, session, store: refresh_store(
        db, session, store, utcnow()))


@shared_task(acks_late=True)
def refresh_segments(store_id: int) -> dict[str, int]:
    """Apply a store's segment edits to every customer, on the bulk queue (after a running
    rescore of the store, which may predate the edit)."""
    started = utcnow()
    try:
        result = run_segment_refresh(store_id)
    except LookupError:  # the store was deleted since the edit: nothing to apply
        return {"customers": 0, "changed": 0}
    except StoreBusy:
        refresh_segments.apply_async(args=[store_id], countdown=BUSY_RETRY_SECONDS)
        return {"customers": 0, "changed": 0}
    with current_app.extensions["db"].session() as session:  # edits made since stay due
        session.execute(update(Store).where(Store.id == store_id,
                                            Store.segments_refresh_due <= started)
                        .values(segments_refresh_due=None))
    return result


@shared_task(acks_late=True)
def rescore(store_id: int) -> dict[str, int]:
    """Rescore one store on the bulk queue (nothing to do while another rescore of it runs)."""
    try:
        return run_rescore(store_id)
    except StoreBusy:
        log.info("store %s is being recomputed; this rescore is skipped", store_id)
        return {"customers": 0, "changed": 0}


def stores_biggest_first(session: Any) -> list[int]:
    """Installed stores by live customers, most first (ties: oldest store first)."""
    customers = func.count(Customer.id)
    return list(session.execute(
        select(Store.id).outerjoin(Customer, and_(Customer.store_id == Store.id,
                                                  Customer.deleted_at.is_(None)))
        .where(Store.install_state == "active").group_by(Store.id)
        .order_by(customers.desc(), Store.id)).scalars())


@shared_task(acks_late=True)
def rescore_all() -> int:
    """Nightly: fan out one rescore task per installed store, the biggest first, then one
    check of each store's customer facts.

    The bulk queue is first in, first out and each worker process takes one task at a time, so
    the workers start on the largest stores and the small ones fill in behind: the night takes
    about as long as the largest store (or the sum over the processes), not the sum of all.
    """
    db = current_app.extensions["db"]
    with db.session() as session:
        ids = stores_biggest_first(session)
    for store_id in ids:
        rescore.delay(store_id)
    for store_id in ids:  # behind every rescore (first in, first out)
        check_store_facts.delay(store_id)
    return len(ids)


@shared_task(acks_late=True)
def check_store_facts(store_id: int) -> int:
    """Nightly, after the rescores: rewrite the store's customer facts rows that drifted from
    its history (``app.scoring.recompute.check_facts``); return how many."""
    db = current_app.extensions["db"]
    with db.session() as session:
        store = session.get(Store, store_id)
        drifted = check_facts(session, store) if store is not None else 0
    if drifted:
        log.warning("store %s: %s customer facts rows had drifted from the history and were"
                    " rebuilt", store_id, drifted)
    return drifted
