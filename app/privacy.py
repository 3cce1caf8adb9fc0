"""Shopify's mandatory privacy topics: forget a customer, forget a shop.

``customers/redact`` removes the customer's personal data everywhere we keep it (the customer
row's email, the profile, memberships, the Redis hot copy, raw webhook bodies that mention
them) and leaves a tag-less, email-less shell so the destinations' diff removes our tags.
Order amounts stay, unattributed to anyone identifiable, for store statistics.
``shop/redact`` deletes the store and everything under it.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.db import utcnow
from app.models import Customer, InboxEvent, Membership, Profile, Store
from connectors.base import PayloadError

log = logging.getLogger(__name__)
INBOX_SCAN_CHUNK = 500


def redact_customer(session: Session, store: Store, payload: dict[str, Any]) -> list[int]:
    """Erase one customer's personal data; return the ids whose tags must now be removed."""
    person = payload.get("customer")
    if not isinstance(person, dict) or person.get("id") is None:
        raise PayloadError("customers/redact needs customer.id")
    platform_id = str(person["id"])
    email = person.get("email") if isinstance(person.get("email"), str) else None
    keys = [Customer.platform_id == platform_id]
    if email:
        keys.append(Customer.guest_email_key == email.strip().lower())
    customers = list(session.execute(select(Customer).where(
        Customer.store_id == store.id, keys[0] if len(keys) == 1 else keys[0] | keys[1])
    ).scalars())
    needles = [platform_id.encode()] + ([email.encode()] if email else [])
    _purge_bodies(session, store.id, needles)
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


def _purge_bodies(session: Session, store_id: int, needles: list[bytes]) -> None:
    """Drop raw bodies that mention the customer (their id or email) from the inbox."""
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
                session.get(InboxEvent, event_id).body = None
        last = rows[-1][0]


def redact_shop(session: Session, store: Store) -> None:
    """Delete the store and, through cascades, everything that belongs to it."""
    session.delete(store)
    log.info("store %s redacted", store.id)
