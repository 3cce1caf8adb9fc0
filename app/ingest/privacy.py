"""Shopify's mandatory privacy topics: export a customer, forget a customer, forget a shop.

``customers/data_request`` stores, as one ``data_exports`` row, everything held about the
customer: the customer row, profile, orders with lines and refunds, the whole membership
history, the tags each destination confirmed, dry-run diffs that named them, and the webhook
deliveries about them. Live sync attempts are per batch request and name no customer, so the
per-destination sync state is what stands for them.

Deliveries are matched by parsed fields (the customer id, the normalised email key, the orders
the request lists), never by bytes: ``bob@`` is not ``mybob@``, and an id is not a substring.

``customers/redact`` first removes our tags at every live email destination while the email is
still known, then removes the customer's personal data everywhere we keep it (the customer
row's email, the profile, memberships, exports, deliveries about them, the email and its hash
in sync records) and leaves a tag-less, email-less shell. Order amounts
stay, unattributed to anyone identifiable, for store statistics.
``shop/redact`` deletes the store and everything under it.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, func, or_, select, update
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
from app.sync.diff import destination_ids, remove_before_forgetting
from connectors.base import RequestedCustomer, StoreAction, TransientError, redact_personal
from connectors.registry import PLATFORMS

log = logging.getLogger(__name__)
INBOX_SCAN_CHUNK = 500
# The privacy requests themselves are not data held about the customer.
REQUEST_TOPICS = frozenset(
    topic for platform in PLATFORMS.values() for topic, action in platform.actions.items()
    if action in (StoreAction.EXPORT_CUSTOMER, StoreAction.REDACT_CUSTOMER))
# Topics whose body is a customer record (its ``id`` is the customer's).
CUSTOMER_BODY_TOPICS = frozenset({"customers/create", "customers/update", "customers/delete",
                                  "customer.created", "customer.updated", "customer.deleted"})


def _people_in(topic: str, payload: Any) -> tuple[set[str], set[str], str | None]:
    """Customer ids, email keys and the order id a delivery body names (Shopify or Woo)."""
    if not isinstance(payload, dict):
        return set(), set(), None
    ids: set[str] = set()
    emails = {payload.get("email"), payload.get("contact_email"),
              (payload.get("billing") or {}).get("email")
              if isinstance(payload.get("billing"), dict) else None}
    customer = payload.get("customer")
    if isinstance(customer, dict):
        ids.add(str(customer.get("id")))
        emails.add(customer.get("email"))
    if payload.get("customer_id") not in (None, 0):  # a WooCommerce order, a refund's order
        ids.add(str(payload["customer_id"]))
    if isinstance(payload.get("customerId"), str):  # tag topics: a GraphQL id
        ids.add(payload["customerId"].rsplit("/", 1)[-1])
    order_id = None
    if topic in CUSTOMER_BODY_TOPICS:
        ids.add(str(payload.get("id")))
    elif "order_id" in payload:
        order_id = str(payload["order_id"])
    elif payload.get("id") is not None:
        order_id = str(payload["id"])
    return ids, {email_key(e) for e in emails if isinstance(e, str) and e.strip()}, order_id


def _names(person: RequestedCustomer, topic: str, payload: Any) -> bool:
    """Whether a delivery's parsed body is about the person (their record or a listed order)."""
    ids, emails, order_id = _people_in(topic, payload)
    return (person.platform_id in ids
            or (person.email is not None and email_key(person.email) in emails)
            or (order_id is not None and order_id in person.orders))


def _matching(session: Session, store: Store, person: RequestedCustomer) -> list[Customer]:
    """The customer row a request names, and the guest row of its email."""
    keys = [Customer.platform_id == person.platform_id]
    if person.email:
        keys.append(Customer.guest_email_key == email_key(person.email))
    return list(session.execute(select(Customer).where(
        Customer.store_id == store.id, or_(*keys))).scalars())


def redact_customer(session: Session, store: Store, person: RequestedCustomer) -> list[int]:
    """Erase one customer's personal data; return the ids whose tags must now be removed.

    Our tags are removed at email destinations first, while the email is still known; a
    destination that should be asked again raises :class:`TransientError` (the redaction is
    retried, nothing forgotten yet).
    """
    customers = _matching(session, store, person)
    ids = [c.id for c in customers]
    if ids:
        session.execute(delete(Membership).where(Membership.customer_id.in_(ids)))
        session.execute(delete(Profile).where(Profile.customer_id.in_(ids)))
    report = remove_before_forgetting(session, store, customers)
    if report.transient:
        raise TransientError(f"tag removal before redaction failed for {len(report.transient)} "
                             "customers; the redaction will be retried", reason="redaction")
    for event in _events_naming(session, store.id, person):
        event.body = None
    session.execute(delete(DataExport).where(
        DataExport.store_id == store.id, DataExport.customer_platform_id == person.platform_id))
    _scrub_sync_records(session, store, customers)
    for customer in customers:
        customer.email = None
        customer.guest_email_key = None
        customer.accepts_marketing = None
        customer.deleted_at = customer.deleted_at or utcnow()
    log.info("store %s: customer redacted (%s rows)", store.id, len(ids))
    return ids


def _scrub_sync_records(session: Session, store: Store, customers: list[Customer]) -> None:
    """Mask the customers' email and its MD5 (Mailchimp's member id) wherever sync recorded
    them: attempt URLs and error texts written before these were redacted at the source."""
    needles = set()
    for customer in customers:
        for email in {customer.email, customer.guest_email_key} - {None}:
            key = email_key(email)
            needles |= {key, hashlib.md5(key.encode()).hexdigest()}
    ids = destination_ids(session, store.id)
    if ids and needles:
        mentions = or_(*[column.contains(n, autoescape=True) for n in needles
                         for column in (func.lower(SyncAttempt.url),
                                        func.lower(SyncAttempt.error))])
        for attempt in session.execute(select(SyncAttempt).where(
                SyncAttempt.destination_id.in_(ids), mentions)).scalars():
            attempt.url = _masked(attempt.url, needles)
            attempt.error = _masked(attempt.error, needles)
        for destination in session.execute(select(Destination).where(
                Destination.id.in_(ids))).scalars():
            destination.last_error = _masked(destination.last_error, needles)
    if customers:
        session.execute(update(SyncState).where(SyncState.customer_id.in_(
            [c.id for c in customers])).values(last_error=None))


def _masked(text: str | None, needles: set[str]) -> str | None:
    if text is None or not any(n in text.lower() for n in needles):
        return text
    masked = redact_personal(text)
    return "<redacted>" if any(n in masked.lower() for n in needles) else masked


def _events_naming(session: Session, store_id: int,
                   person: RequestedCustomer) -> Iterator[InboxEvent]:
    """Inbox events whose parsed body is about the person, chunk by chunk."""
    last = 0
    while True:
        rows = session.execute(
            select(InboxEvent.id, InboxEvent.topic, InboxEvent.body)
            .where(InboxEvent.store_id == store_id, InboxEvent.body.is_not(None),
                   InboxEvent.id > last)
            .order_by(InboxEvent.id).limit(INBOX_SCAN_CHUNK)).all()
        if not rows:
            return
        for event_id, topic, body in rows:
            try:
                payload = json.loads(body)
            except ValueError:
                continue  # a parked malformed body names nobody we can tell
            if _names(person, topic, payload):
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
    platform_id, request_id = person.platform_id, person.request_id
    if request_id is not None:
        done = session.execute(select(DataExport).filter_by(
            store_id=store.id, data_request_id=request_id)).scalar()
        if done is not None:
            return done  # the same request delivered again
    requested = list(person.orders)
    customers = _matching(session, store, person)
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
            for e in _events_naming(session, store.id, person)
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
