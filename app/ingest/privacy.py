"""Shopify's mandatory privacy topics: export a customer, forget a customer, forget a shop.

``customers/data_request`` stores, as one ``data_exports`` row, everything held about the
customer: the customer row, profile, orders with lines and refunds, the whole membership
history, the tags each destination confirmed, dry-run diffs that named them, and the raw
webhook bodies that mention them. Live sync attempts are per batch request and name no
customer, so the per-destination sync state is what stands for them.

``customers/redact`` removes the customer's personal data everywhere we keep it (the customer
row's email, the profile, memberships, the Redis hot copy, raw webhook bodies that mention
them) and leaves a tag-less, email-less shell so the destinations' diff removes our tags.
Order amounts stay, unattributed to anyone identifiable, for store statistics.
``shop/redact`` deletes the store and everything under it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.ingest.upsert import email_key
from app.storage.db import Base, utcnow
from app.storage.models import (
    Customer,
    DataExport,
    Destination,
    InboxEvent,
    Membership,
    Order,
    Profile,
    Refund,
    Store,
    SyncAttempt,
    SyncState,
)
from connectors.base import RequestedCustomer, StoreAction
from connectors.registry import PLATFORMS

log = logging.getLogger(__name__)
INBOX_SCAN_CHUNK = 500
# The privacy requests themselves are not data held about the customer.
REQUEST_TOPICS = frozenset(
    topic for platform in PLATFORMS.values() for topic, action in platform.actions.items()
    if action in (StoreAction.EXPORT_CUSTOMER, StoreAction.REDACT_CUSTOMER))


def _matching(session: Session, store: Store, platform_id: str,
              email: str | None) -> tuple[list[Customer], list[bytes]]:
    """The customer rows a request names (and the guest row of its email), and byte needles
    that find the customer in raw webhook bodies."""
    keys = [Customer.platform_id == platform_id]
    if email:
        keys.append(Customer.guest_email_key == email_key(email))
    customers = list(session.execute(select(Customer).where(
        Customer.store_id == store.id, keys[0] if len(keys) == 1 else keys[0] | keys[1])
    ).scalars())
    return customers, [platform_id.encode()] + ([email.encode()] if email else [])


def redact_customer(session: Session, store: Store, person: RequestedCustomer) -> list[int]:
    """Erase one customer's personal data; return the ids whose tags must now be removed."""
    platform_id, email = person.platform_id, person.email
    customers, needles = _matching(session, store, platform_id, email)
    for event in _events_mentioning(session, store.id, needles):
        event.body = None
    session.execute(delete(DataExport).where(DataExport.store_id == store.id,
                                             DataExport.customer_platform_id == platform_id))
    ids = [c.id for c in customers]
    if ids:
        session.execute(delete(Membership).where(Membership.customer_id.in_(ids)))
        session.execute(delete(Profile).where(Profile.customer_id.in_(ids)))
    for customer in customers:
        customer.email = None
        customer.guest_email_key = None
        customer.accepts_marketing = None
        customer.deleted_at = customer.deleted_at or utcnow()
    log.info("store %s: customer redacted (%s rows)", store.id, len(ids))
    return ids


def _events_mentioning(session: Session, store_id: int,
                       needles: list[bytes]) -> Iterator[InboxEvent]:
    """Inbox events whose raw body mentions the customer (their id or email), chunk by chunk."""
    last = 0
    while True:
        rows = session.execute(
            select(InboxEvent.id, InboxEvent.body)
            .where(InboxEvent.store_id == store_id, InboxEvent.body.is_not(None),
                   InboxEvent.id > last)
            .order_by(InboxEvent.id).limit(INBOX_SCAN_CHUNK)).all()
        if not rows:
            return
        for event_id, body in rows:
            if any(needle in body for needle in needles):
                yield session.get(InboxEvent, event_id)
        last = rows[-1][0]


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _row(row: Base, leave_out: tuple[str, ...] = ()) -> dict[str, Any]:
    """Every column of a row as JSON-ready values."""
    return {c.name: _plain(getattr(row, c.key)) for c in row.__table__.columns
            if c.name not in leave_out}


def _orders(session: Session, store: Store, customer_ids: list[int],
            requested: list[str]) -> list[dict[str, Any]]:
    query = select(Order).where(Order.store_id == store.id)
    if requested:
        query = query.where(Order.customer_id.in_(customer_ids)
                            | Order.platform_id.in_(requested))
    else:
        query = query.where(Order.customer_id.in_(customer_ids))
    orders = list(session.execute(query.order_by(Order.created_at)).scalars())
    refunds: dict[str, list[dict[str, Any]]] = {}
    for refund in session.execute(select(Refund).where(
            Refund.store_id == store.id,
            Refund.order_platform_id.in_([o.platform_id for o in orders]))).scalars():
        refunds.setdefault(refund.order_platform_id, []).append(
            _row(refund, ("id", "store_id")))
    return [{**_row(order, ("store_id",)),
             "line_items": [_row(item, ("id", "order_id")) for item in order.line_items],
             "refunds": refunds.get(order.platform_id, [])} for order in orders]


def _sync_history(session: Session, store: Store, customer_ids: list[int]) -> dict[str, Any]:
    destinations = {d.id: d.kind for d in session.execute(
        select(Destination).filter_by(store_id=store.id)).scalars()}
    states = [{"destination": destinations[s.destination_id], **_row(s, ("destination_id",))}
              for s in session.execute(select(SyncState).where(
                  SyncState.customer_id.in_(customer_ids))).scalars()]
    wanted = set(customer_ids)
    dry_runs = []
    for attempt in session.execute(select(SyncAttempt).where(
            SyncAttempt.destination_id.in_(list(destinations)),
            SyncAttempt.method == "DRY-RUN").order_by(SyncAttempt.id)).scalars():
        mine = [c for c in (attempt.detail or {}).get("changes", [])
                if c.get("customer_id") in wanted]
        if mine:
            dry_runs.append({"destination": destinations[attempt.destination_id],
                             "at": _plain(attempt.started_at), "changes": mine})
    return {"sync_states": states, "dry_run_diffs": dry_runs}


def export_customer(session: Session, store: Store, person: RequestedCustomer,
                    now: datetime) -> DataExport:
    """Record everything held about the customer a data request names."""
    platform_id, email, request_id = person.platform_id, person.email, person.request_id
    if request_id is not None:
        done = session.execute(select(DataExport).filter_by(
            store_id=store.id, data_request_id=request_id)).scalar()
        if done is not None:
            return done  # the same request delivered again
    requested = list(person.orders)
    customers, needles = _matching(session, store, platform_id, email)
    ids = [c.id for c in customers]
    export = {
        "shop": store.domain,
        "customer_platform_id": platform_id,
        "customers": [_row(c, ("store_id",)) for c in customers],
        "profiles": [_row(p) for p in session.execute(
            select(Profile).where(Profile.customer_id.in_(ids))).scalars()],
        "orders": _orders(session, store, ids, requested),
        "memberships": [_row(m, ("store_id",)) for m in session.execute(
            select(Membership).where(Membership.customer_id.in_(ids))
            .order_by(Membership.entered_at)).scalars()],
        **_sync_history(session, store, ids),
        "webhook_deliveries": [
            {"id": e.id, "topic": e.topic, "received_at": _plain(e.received_at),
             "body": json.loads(e.body)}
            for e in _events_mentioning(session, store.id, needles)
            if e.topic not in REQUEST_TOPICS],
    }
    row = DataExport(store_id=store.id, customer_platform_id=platform_id,
                     data_request_id=request_id, requested_at=now, export=export)
    session.add(row)
    session.flush()
    log.info("store %s: data request %s exported as export %s (%s customer rows, %s orders)",
             store.id, request_id, row.id, len(customers), len(export["orders"]))
    return row


def redact_shop(session: Session, store: Store) -> None:
    """Delete the store and, through cascades, everything that belongs to it."""
    session.delete(store)
    log.info("store %s redacted", store.id)
