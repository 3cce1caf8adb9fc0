"""Process inbox events: normalise, upsert, recompute profiles, record what changed.

Events are processed in batches — a store's drain takes its oldest pending events, up to
``INGEST_BATCH_SIZE``, and a retried event takes the store's other fresh ones along — with one
profile refresh for every customer they touch: the refresh is vectorised, so a batch of
hundreds costs about what one event does. Each batch runs in three steps so no lock is held
while anything calls out: read the events (no lock), normalise them and look up what they lack
(WooCommerce product categories, over HTTP), then claim the ones still pending and apply them
in one short write transaction. A batch that fails writes nothing; its events are then
processed one by one so a single bad event cannot hold the others back (``tasks/ingest``).
Processing an event twice is a no-op: a finished event is never claimed again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Row, select, update
from sqlalchemy.orm import Session

from app.ingest.categories import add_categories
from app.ingest.privacy import export_customer, redact_customer, redact_shop
from app.ingest.upsert import apply_records
from app.scoring.recompute import refresh_customers
from app.storage.bulk import one_of
from app.storage.db import Database, chunked, utcnow
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
EMPTY = "empty"  # a drain found nothing pending
# What a batch reads of each event: plain rows, no ORM objects.
EVENT_COLUMNS = (InboxEvent.id, InboxEvent.store_id, InboxEvent.topic, InboxEvent.body,
                 InboxEvent.status)


@dataclass
class Processed:
    """The outcome of processing events, for the task to act on after commit."""

    status: str
    store_id: int | None = None
    changed: list[int] = field(default_factory=list)
    destination_ids: list[int] = field(default_factory=list)
    forgotten: list[int] = field(default_factory=list)
    redacted_store: bool = False
    statuses: dict[int, str] = field(default_factory=dict)  # of each event the batch took
    more_pending: bool = False  # a drain left pending events for its next batch


@dataclass
class Prepared:
    """An event read and normalised outside any transaction, ready to apply."""

    id: int
    action: StoreAction | None  # what the topic does to the store, if not records
    person: Any = None  # the customer a privacy request names
    records: list[CanonicalEvent] = field(default_factory=list)
    error: str | None = None


def process_event(db: Database, event_id: int, now: datetime | None = None) -> Processed:
    """Apply one inbox event on its own (idempotent)."""
    return process_batch(db, event_id, 1, now)


def process_batch(db: Database, event_id: int, limit: int, now: datetime | None = None,
                  claimed: list[int] | None = None) -> Processed:
    """Apply ``event_id`` together with up to ``limit - 1`` other fresh pending events of its
    store. ``claimed`` (if given) receives the ids taken, so a caller can retry them one by one
    when the batch fails. The result's status is that of ``event_id``."""
    with db.session() as session:  # read only: no lock, no disk write
        event = session.execute(select(*EVENT_COLUMNS).filter_by(id=event_id)).one_or_none()
        if event is None or event.status != INBOX_PENDING:
            # Most retries of a burst find their event already done by an earlier batch.
            return Processed(status=event.status if event else "missing")
        rows = [event] + _companions(session, event, limit - 1)
        store = session.get(Store, event.store_id)
    processed = _process(db, store, rows, now or utcnow(), claimed)
    if not processed.redacted_store:  # otherwise the event went with the store
        processed.status = processed.statuses.get(event_id, BUSY)
    return processed


def drain_batch(db: Database, store_id: int, limit: int, now: datetime | None = None,
                claimed: list[int] | None = None) -> Processed:
    """Apply the store's oldest fresh pending events, up to ``limit`` (a drain's step).

    A store action (uninstall, privacy request) is applied by itself and the batch before it
    stops short of it, so events apply in the order they arrived. Events that failed before
    are left to their own retries (``tasks/ingest``).
    """
    with db.session() as session:
        store = session.get(Store, store_id)
        rows = list(session.execute(
            select(*EVENT_COLUMNS).where(InboxEvent.store_id == store_id,
                                         InboxEvent.status == INBOX_PENDING,
                                         InboxEvent.attempts == 0)
            .order_by(InboxEvent.id).limit(limit)).all()) if store else []
    batch = rows[:1] if rows and rows[0].topic in ACTION_TOPICS else _until_alone(rows)
    if not batch:
        return Processed(status=EMPTY, store_id=store_id)
    processed = _process(db, store, batch, now or utcnow(), claimed)
    processed.more_pending = len(batch) < len(rows) or len(rows) == limit
    return processed


def has_pending(db: Database, store_id: int) -> bool:
    """Whether the store has fresh pending events (what a drain takes)."""
    with db.session() as session:
        return session.execute(select(InboxEvent.id).where(
            InboxEvent.store_id == store_id, InboxEvent.status == INBOX_PENDING,
            InboxEvent.attempts == 0).limit(1)).first() is not None


def _until_alone(rows: list[Row]) -> list[Row]:
    """The leading rows up to (not including) the first store action."""
    for index, row in enumerate(rows):
        if row.topic in ACTION_TOPICS:
            return rows[:index]
    return rows


def _companions(session: Session, event: Row, limit: int) -> list[Row]:
    """The store's other fresh pending events, oldest first."""
    if limit <= 0 or event.topic in ACTION_TOPICS:
        return []
    return list(session.execute(
        select(*EVENT_COLUMNS).where(InboxEvent.store_id == event.store_id,
                                     InboxEvent.status == INBOX_PENDING,
                                     InboxEvent.attempts == 0,  # a failed one is retried alone
                                     InboxEvent.topic.not_in(ACTION_TOPICS),
                                     InboxEvent.id != event.id)
        .order_by(InboxEvent.id).limit(limit)).all())


def _prepare(store: Store, row: Row) -> Prepared:
    """Parse and normalise one event (its line items' categories are filled batch-wide)."""
    platform = platform_for(store.platform)
    event = Prepared(id=row.id, action=platform.actions.get(row.topic))
    try:
        payload = orjson.loads(row.body or b"null")
        if why := _binding_error(store, row.topic, payload):
            event.error = f"refused: {why}"[:1000]
            return event
        if event.action in (StoreAction.EXPORT_CUSTOMER, StoreAction.REDACT_CUSTOMER):
            event.person = platform.requested_customer(row.topic, payload)  # or park it
        elif event.action is None:
            event.records = platform.normalise(row.topic, payload)
    except (PayloadError, ValueError) as exc:
        event.error = f"malformed: {exc}"[:1000]
    return event


def _fill_categories(store: Store, prepared: list[Prepared]) -> None:
    """Fill the line-item categories of every order of the batch at once (may call the store:
    one lookup for the batch's uncached products, not one per order)."""
    filled = iter(add_categories(store, [r for event in prepared for r in event.records]))
    for event in prepared:
        event.records = [next(filled) for _ in event.records]


def _process(db: Database, store: Store, rows: list[Row], now: datetime,
             claimed: list[int] | None) -> Processed:
    """Prepare the events with no transaction open, then claim and apply them in one."""
    prepared = [_prepare(store, row) for row in rows]
    _fill_categories(store, prepared)
    with db.session() as session:
        ids = [event.id for event in prepared]
        unlocked = list(session.execute(
            select(InboxEvent.id).where(one_of(session, InboxEvent.id, ids),
                                        InboxEvent.status == INBOX_PENDING)
            .with_for_update(skip_locked=True)).scalars())
        # The claim itself: on SQLite this UPDATE takes the write lock, so two workers that
        # both read an event as pending cannot both take it.
        taken = set(session.execute(
            update(InboxEvent).where(one_of(session, InboxEvent.id, unlocked),
                                     InboxEvent.status == INBOX_PENDING)
            .values(attempts=InboxEvent.attempts + 1).returning(InboxEvent.id)
            .execution_options(synchronize_session=False)).scalars())
        if claimed is not None:
            claimed.extend(sorted(taken))
        if not taken:
            return Processed(status=BUSY, store_id=store.id)
        store = session.get(Store, store.id)
        return _apply(db, session, store, [e for e in prepared if e.id in taken], now)


def _apply(db: Database, session: Session, store: Store, events: list[Prepared],
           now: datetime) -> Processed:
    """Apply the events' records, then refresh every customer they touched, once."""
    out = Processed(status=INBOX_DONE, store_id=store.id)
    records: list[CanonicalEvent] = []
    outcomes, forgotten_bodies = [], []
    for event in events:
        if event.error is not None:
            log.warning("inbox %s parked: %s", event.id, event.error)
            outcomes.append({"id": event.id, "status": INBOX_PARKED, "error": event.error,
                             "processed_at": None})
            continue
        if event.action is StoreAction.REDACT_STORE:
            redact_shop(session, store)
            out.redacted_store = True
            return out
        if event.action is StoreAction.EXPORT_CUSTOMER:
            export_customer(session, store, event.person, now)
            forgotten_bodies.append(event.id)  # the export keeps what matters
        if event.action is StoreAction.REDACT_CUSTOMER:
            out.forgotten = redact_customer(session, store, event.person)
            forgotten_bodies.append(event.id)  # the request itself names the customer
        if event.action is StoreAction.UNINSTALLED:
            store.install_state = "uninstalled"
        records.extend(event.records)
        status = INBOX_DONE if event.records or event.action else INBOX_IGNORED
        outcomes.append({"id": event.id, "status": status, "error": None, "processed_at": now})
    _record_outcomes(session, outcomes)
    if forgotten_bodies:
        session.execute(update(InboxEvent).where(InboxEvent.id.in_(forgotten_bodies))
                        .values(body=None).execution_options(synchronize_session=False))
    out.statuses = {outcome["id"]: outcome["status"] for outcome in outcomes}
    affected = apply_records(db, session, store, records)
    session.flush()
    if affected:
        result = refresh_customers(session, store, sorted(affected), now)
        out.changed = result.changed
    out.changed = sorted(set(out.changed) | set(out.forgotten))
    out.destination_ids = destination_ids(session, store.id)
    return out


def _record_outcomes(session: Session, outcomes: list[dict[str, Any]]) -> None:
    """Set each event's status, error and processed time: one ``UPDATE … WHERE id IN`` per
    distinct outcome (a batch's events nearly all end alike), not one statement per event."""
    alike: dict[tuple[str, str | None, datetime | None], list[int]] = {}
    for outcome in outcomes:
        key = (outcome["status"], outcome["error"], outcome["processed_at"])
        alike.setdefault(key, []).append(outcome["id"])
    for (status, error, processed_at), ids in alike.items():
        for chunk in chunked(ids):
            session.execute(update(InboxEvent).where(one_of(session, InboxEvent.id, chunk))
                            .values(status=status, error=error, processed_at=processed_at)
                            .execution_options(synchronize_session=False))


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
