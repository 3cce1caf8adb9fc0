"""The inbox: every event, whether a webhook or found by reconciliation, enters here first."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from app.storage.db import Database
from app.storage.models import INBOX_DONE, INBOX_IGNORED, INBOX_PARKED, InboxEvent

# Statuses whose raw body has served its purpose. Parked bodies are kept to the same age so
# `tagwise inbox replay` can use them for the whole retention period, and no longer: a body
# holds personal data. Pending events keep theirs whatever their age: they are not done.
PURGEABLE_STATUSES = (INBOX_DONE, INBOX_IGNORED, INBOX_PARKED)


def insert_event(db: Database, session: Session, store_id: int, source: str, topic: str,
                 dedupe_key: str, body: bytes, event_id: str | None = None) -> int | None:
    """Insert an inbox row in the caller's transaction; None when the event is already there
    (the same ``dedupe_key``, or the same platform ``event_id`` under another delivery id)."""
    return session.execute(
        db.insert(InboxEvent).values(store_id=store_id, source=source, topic=topic,
                                     dedupe_key=dedupe_key, body=body, event_id=event_id)
        .on_conflict_do_nothing().returning(InboxEvent.id)
    ).scalar()


def record_event(db: Database, store_id: int, source: str, topic: str, dedupe_key: str,
                 body: bytes) -> int | None:
    """Insert and commit an inbox row; None when the same event is already there."""
    with db.session() as session:
        return insert_event(db, session, store_id, source, topic, dedupe_key, body)


def purge_bodies(db: Database, received_before: datetime) -> int:
    """Drop the raw body of finished events received before the cut-off; return how many."""
    with db.session() as session:
        return session.execute(
            update(InboxEvent)
            .where(InboxEvent.status.in_(PURGEABLE_STATUSES),
                   InboxEvent.received_at < received_before, InboxEvent.body.is_not(None))
            .values(body=None)).rowcount
