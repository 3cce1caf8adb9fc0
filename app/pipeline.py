"""Process one inbox event: normalise, upsert, recompute profiles, record what changed.

Runs in one transaction; a failure leaves the event pending (retried, then parked after
``INBOX_MAX_ATTEMPTS``) and writes nothing else. Processing an event twice is a no-op.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select

from app.categories import add_categories
from app.db import Database, utcnow
from app.ingest import apply_event
from app.models import (
    INBOX_DONE,
    INBOX_IGNORED,
    INBOX_PARKED,
    INBOX_PENDING,
    InboxEvent,
    Store,
)
from app.privacy import export_customer, redact_customer, redact_shop, requested_person
from app.processing import refresh_customers
from app.sync import destination_ids
from connectors.base import PayloadError
from connectors.registry import normaliser_for

log = logging.getLogger(__name__)

LIFECYCLE_TOPICS = {"app/uninstalled"}
PRIVACY_TOPICS = {"customers/data_request", "customers/redact", "shop/redact"}


@dataclass
class Processed:
    """The outcome of processing one event, for the task to act on after commit."""

    status: str
    store_id: int | None = None
    changed: list[int] = field(default_factory=list)
    profiles: dict[int, dict[str, Any]] = field(default_factory=dict)
    destination_ids: list[int] = field(default_factory=list)
    forgotten: list[int] = field(default_factory=list)
    redacted_store: bool = False


def process_event(db: Database, event_id: int, now: datetime | None = None) -> Processed:
    """Apply one inbox event; idempotent (a finished event is left alone)."""
    now = now or utcnow()
    with db.session() as session:
        event = session.execute(select(InboxEvent).filter_by(id=event_id)
                                .with_for_update()).scalar()
        if event is None or event.status != INBOX_PENDING:
            return Processed(status=event.status if event else "missing")
        store = session.get(Store, event.store_id)
        event.attempts += 1
        try:
            payload = json.loads(event.body or b"null")
            if event.topic in PRIVACY_TOPICS:
                records = []
                if event.topic != "shop/redact":
                    requested_person(payload, event.topic)  # park a request naming nobody
            else:
                records = [add_categories(store, r)
                           for r in normaliser_for(store.platform)(event.topic, payload)]
        except (PayloadError, ValueError) as exc:
            event.status, event.error = INBOX_PARKED, f"malformed: {exc}"[:1000]
            log.warning("inbox %s parked: %s", event.id, event.error)
            return Processed(status=INBOX_PARKED, store_id=store.id)
        if event.topic == "shop/redact":
            store_id = store.id
            redact_shop(session, store)
            return Processed(status="done", store_id=store_id, redacted_store=True)
        if event.topic == "customers/data_request":
            event.status, event.processed_at, event.error = INBOX_DONE, now, None
            event.body = None  # the request names the customer; the export keeps what matters
            export_customer(session, store, payload, now)
            return Processed(status=INBOX_DONE, store_id=store.id)
        if event.topic == "customers/redact":
            gone = redact_customer(session, store, payload)
            event.status, event.processed_at, event.error = INBOX_DONE, now, None
            event.body = None  # the request itself names the customer
            return Processed(status=INBOX_DONE, store_id=store.id, changed=gone,
                             forgotten=gone, destination_ids=destination_ids(session, store.id))
        if event.topic in LIFECYCLE_TOPICS:
            store.install_state = "uninstalled"
        affected: set[int] = set()
        for record in records:
            affected |= apply_event(db, session, store, record)
        session.flush()
        result = refresh_customers(db, session, store, sorted(affected), now) if affected else None
        event.status = INBOX_DONE if records or event.topic in LIFECYCLE_TOPICS else INBOX_IGNORED
        event.processed_at, event.error = now, None
        return Processed(
            status=event.status, store_id=store.id,
            changed=result.changed if result else [],
            profiles=result.profiles if result else {},
            destination_ids=destination_ids(session, store.id),
        )


def record_failure(db: Database, event_id: int, error: str, max_attempts: int) -> str:
    """Note a failed attempt in its own transaction; park the event once attempts run out."""
    with db.session() as session:
        event = session.get(InboxEvent, event_id)
        if event is None or event.status != INBOX_PENDING:
            return event.status if event else "missing"
        event.attempts += 1
        event.error = error[:1000]
        if event.attempts >= max_attempts:
            event.status = INBOX_PARKED
            log.error("inbox %s parked after %s attempts", event_id, event.attempts)
        return event.status
