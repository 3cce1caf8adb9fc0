"""Re-bin RFM and recompute every profile and segment of a store (recency moves daily)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

from celery import shared_task
from flask import current_app
from sqlalchemy import select, update

from app.scoring.recompute import RefreshResult, refresh_store, rescore_store
from app.storage import metrics, redis_state
from app.storage.db import utcnow
from app.storage.models import Store
from app.sync.diff import destination_ids
from tasks.sync import schedule_sync


def _recompute(store_id: int, compute: Callable[..., RefreshResult]) -> dict[str, int]:
    """Run a whole-store recompute, then refresh the hot profiles and queue the tag changes."""
    db = current_app.extensions["db"]
    with db.session() as session:
        store = session.get(Store, store_id)
        if store is None:
            raise LookupError(f"no store {store_id}")
        result = compute(db, session, store)
        targets = destination_ids(session, store_id)
    redis_state.save_profiles(current_app.extensions["redis"], store_id, result.profiles)
    for destination_id in targets:
        schedule_sync(destination_id, result.changed)
    return {"customers": len(result.profiles), "changed": len(result.changed)}


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
    """Apply a store's segment edits to every customer, on the bulk queue."""
    started = utcnow()
    try:
        result = run_segment_refresh(store_id)
    except LookupError:  # the store was deleted since the edit: nothing to apply
        return {"customers": 0, "changed": 0}
    with current_app.extensions["db"].session() as session:  # edits made since stay due
        session.execute(update(Store).where(Store.id == store_id,
                                            Store.segments_refresh_due <= started)
                        .values(segments_refresh_due=None))
    return result


@shared_task(acks_late=True)
def rescore(store_id: int) -> dict[str, int]:
    """Rescore one store on the bulk queue."""
    return run_rescore(store_id)


@shared_task(acks_late=True)
def rescore_all() -> int:
    """Nightly: queue a rescore of every installed store."""
    db = current_app.extensions["db"]
    with db.session() as session:
        ids = list(session.execute(select(Store.id).filter_by(install_state="active")).scalars())
    for store_id in ids:
        rescore.delay(store_id)
    return len(ids)
