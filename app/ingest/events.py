"""Process inbox events: normalise, upsert, recompute profiles, record what changed.

Events are processed in batches: the event a task was given plus the store's other pending
events, up to ``INGEST_BATCH_SIZE``, in one transaction with one profile refresh for every
customer they touched — the refresh is vectorised, so a batch of hundreds costs about what one
event does. A batch that fails writes nothing; its events are then processed one by one so a
single bad event cannot hold the others back (``tasks/ingest``). Processing an event twice is a
no-op: a finished event is left alone.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.ingest.categories import add_categories
from app.ingest.privacy import export_customer, redact_customer, redact_shop
from app.ingest.upsert import apply_records
from app.scoring.recompute import refresh_customers
from app.storage.db import Database, utcnow
from app.storage.models import (
    INBOX_DONE,
    INBOX_IGNORED,
    INBOX_PARKED,
    INBOX_PENDING,
    InboxEvent,
    Store,
)
from app.sync.diff import destination_ids
from connectors.base import CanonicalEvent, PayloadError, StoreAction
from connectors.registry import ACTION_TOPICS, platform_for
from connectors.shopify import webhooks as shopify_webhooks

log = logging.getLogger(__name__)

BUSY = "busy"  # another worker holds the event in its batch


@dataclass
class Processed:
    """The outcome of processing events, for the task to act on after commit."""

    status: str
    store_id: int | None = None
    changed: list[int] = field(default_factory=list)
    profiles: dict[int, dict[str, Any]] = field(default_factory=dict)
    destination_ids: list[int] = field(default_factory=list)
    forgotten: list[int] = field(default_factory=list)
    redacted_store: bool = False


def process_event(db: Database, event_id: int, now: datetime | None = None) -> Processed:
    """Apply one inbox event on its own (idempotent)."""
    return process_batch(db, event_id, 1, now)


def process_batch(db: Database, event_id: int, limit: int, now: datetime | None = None,
                  claimed: list[int] | None = None) -> Processed:
    """Apply ``event_id`` together with up to ``limit - 1`` other pending events of its store.

    ``claimed`` (if given) receives the ids taken, so a caller can retry them one by one when
    the batch fails. The result's status is that of ``event_id``.
    """
    now = now or utcnow()
    with db.session() as session:
        # Most tasks of a burst find their event already done by an earlier batch: say so
        # without taking a lock (a read-only transaction costs no disk write).
        status = session.execute(select(InboxEvent.status).filter_by(id=event_id)).scalar()
        if status != INBOX_PENDING:
            return Processed(status=status or "missing")
        event = session.execute(select(InboxEvent).filter_by(id=event_id)
                                .with_for_update(skip_locked=True)).scalar()
        if event is None:
            return Processed(status=BUSY)
        if event.status != INBOX_PENDING:  # finished between the two reads
            return Processed(status=event.status)
        events = [event] + _companions(session, event, limit - 1)
        if claimed is not None:
            claimed.extend(e.id for e in events)
        store = session.get(Store, event.store_id)
        processed = _apply(db, session, store, events, now)
        if not processed.redacted_store:  # otherwise the event went with the store
            processed.status = event.status
        return processed


def _companions(session: Session, event: InboxEvent, limit: int) -> list[InboxEvent]:
    """The store's other fresh pending events, oldest first, that no other worker holds."""
    if limit <= 0 or event.topic in ACTION_TOPICS:
        return []
    return list(session.execute(
        select(InboxEvent).where(InboxEvent.store_id == event.store_id,
                                 InboxEvent.status == INBOX_PENDING,
                                 InboxEvent.attempts == 0,  # a failed one is retried alone
                                 InboxEvent.topic.not_in(ACTION_TOPICS),
                                 InboxEvent.id != event.id)
        .order_by(InboxEvent.id).limit(limit).with_for_update(skip_locked=True)).scalars())


def _apply(db: Database, session: Session, store: Store, events: list[InboxEvent],
           now: datetime) -> Processed:
    """Apply the events' records, then refresh every customer they touched, once."""
    out = Processed(status=INBOX_DONE, store_id=store.id)
    platform = platform_for(store.platform)
    records: list[CanonicalEvent] = []
    for event in events:
        event.attempts += 1
        action = platform.actions.get(event.topic)
        try:
            payload = json.loads(event.body or b"null")
            if why := _binding_error(store, event.topic, payload):
                event.status, event.error = INBOX_PARKED, f"refused: {why}"[:1000]
                log.warning("inbox %s of store %s refused: %s", event.id, store.id, why)
                continue
            found, person = [], None
            if action in (StoreAction.EXPORT_CUSTOMER, StoreAction.REDACT_CUSTOMER):
                person = platform.requested_customer(event.topic, payload)  # or park it
            elif action is None:
                found = [add_categories(store, r) for r in platform.normalise(event.topic, payload)]
        except (PayloadError, ValueError) as exc:
            event.status, event.error = INBOX_PARKED, f"malformed: {exc}"[:1000]
            log.warning("inbox %s parked: %s", event.id, event.error)
            continue
        if action is StoreAction.REDACT_STORE:
            redact_shop(session, store)
            out.redacted_store = True
            return out
        if action is StoreAction.EXPORT_CUSTOMER:
            export_customer(session, store, person, now)
            event.body = None  # the request names the customer; the export keeps what matters
        if action is StoreAction.REDACT_CUSTOMER:
            out.forgotten = redact_customer(session, store, person)
            event.body = None  # the request itself names the customer
        if action is StoreAction.UNINSTALLED:
            store.install_state = "uninstalled"
        records.extend(found)
        event.status = INBOX_DONE if found or action else INBOX_IGNORED
        event.processed_at, event.error = now, None
    affected = apply_records(db, session, store, records)
    session.flush()
    if affected:
        result = refresh_customers(db, session, store, sorted(affected), now)
        out.changed, out.profiles = result.changed, result.profiles
    out.changed = sorted(set(out.changed) | set(out.forgotten))
    out.destination_ids = destination_ids(session, store.id)
    return out


def _binding_error(store: Store, topic: str, payload: Any) -> str | None:
    """Why a Shopify body cannot be this store's ``topic`` delivery (see
    :func:`connectors.shopify.webhooks.binding_error`); None when it can."""
    if store.platform != "shopify":
        return None  # WooCommerce signs each store's deliveries with that store's own secret
    if not isinstance(payload, dict):
        return "body is not a JSON object"
    return shopify_webhooks.binding_error(topic, store.domain.lower(), payload)


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
