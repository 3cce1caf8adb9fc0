"""Re-enqueue work that a lost message, a killed worker, a flushed Redis or an unreachable broker
left undone: inbox rows that stayed pending, segment refreshes still due."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from flask import current_app
from sqlalchemy import select

from app.storage.db import utcnow
from app.storage.models import INBOX_PENDING, InboxEvent, Store
from tasks.ingest import ingest_event
from tasks.rescore import refresh_segments

SWEEP_BATCH = 1000


@shared_task(acks_late=True)
def sweep_inbox() -> int:
    """Enqueue pending events older than ``INBOX_SWEEP_AFTER_SECONDS``; return how many."""
    db = current_app.extensions["db"]
    cutoff = utcnow() - timedelta(seconds=current_app.config["INBOX_SWEEP_AFTER_SECONDS"])
    with db.session() as session:
        ids = list(session.execute(
            select(InboxEvent.id).where(InboxEvent.status == INBOX_PENDING,
                                        InboxEvent.received_at < cutoff)
            .order_by(InboxEvent.id).limit(SWEEP_BATCH)).scalars())
    for inbox_id in ids:
        ingest_event.delay(inbox_id)
    return len(ids)


@shared_task(acks_late=True)
def sweep_segment_refreshes() -> int:
    """Queue the member refresh of stores whose segment edit is still due after
    ``INBOX_SWEEP_AFTER_SECONDS`` (its message was lost or never sent); return how many."""
    db = current_app.extensions["db"]
    cutoff = utcnow() - timedelta(seconds=current_app.config["INBOX_SWEEP_AFTER_SECONDS"])
    with db.session() as session:
        ids = list(session.execute(select(Store.id).where(
            Store.segments_refresh_due < cutoff).order_by(Store.id)).scalars())
    for store_id in ids:
        refresh_segments.delay(store_id)
    return len(ids)
