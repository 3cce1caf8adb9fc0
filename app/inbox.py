"""The inbox: every event, whether a webhook or found by reconciliation, enters here first."""

from __future__ import annotations

from app.db import Database
from app.models import InboxEvent


def record_event(db: Database, store_id: int, source: str, topic: str, dedupe_key: str,
                 body: bytes) -> int | None:
    """Insert and commit an inbox row; None when the same event is already there."""
    with db.session() as session:
        return session.execute(
            db.insert(InboxEvent).values(store_id=store_id, source=source, topic=topic,
                                         dedupe_key=dedupe_key, body=body)
            .on_conflict_do_nothing().returning(InboxEvent.id)
        ).scalar()
