"""Apply canonical records to SQL: idempotent upserts by natural key, stale updates dropped.

Every function returns the ids of the customers whose profile must be recomputed. The caller
owns the transaction. Rows are locked (``FOR UPDATE`` on PostgreSQL; SQLite serialises writers)
so two workers handling the same customer cannot interleave.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.db import Database, utcnow
from app.models import Customer, Destination, LineItem, Order, Refund, Store, SyncState
from connectors.base import (
    CanonicalEvent,
    CustomerRecord,
    Deletion,
    OrderRecord,
    RefundRecord,
    TagsEcho,
)

log = logging.getLogger(__name__)


def apply_event(db: Database, session: Session, store: Store, event: CanonicalEvent) -> set[int]:
    """Dispatch one record to its upsert; return affected customer ids."""
    if isinstance(event, OrderRecord):
        return apply_order(db, session, store, event)
    if isinstance(event, RefundRecord):
        return apply_refund(db, session, store, event)
    if isinstance(event, CustomerRecord):
        customer = upsert_customer(db, session, store, event)
        return {customer.id} if customer else set()
    if isinstance(event, Deletion):
        return apply_deletion(db, session, store, event)
    if isinstance(event, TagsEcho):
        return apply_tags_echo(session, store, event)
    raise TypeError(f"unknown record {type(event).__name__}")


def email_key(email: str) -> str:
    """The normalised form emails are matched by (guest customers, search, user logins)."""
    return email.strip().lower()


def _newer(incoming: datetime | None, stored: datetime | None) -> bool:
    return incoming is None or stored is None or incoming > stored


def upsert_customer(db: Database, session: Session, store: Store,
                    record: CustomerRecord) -> Customer | None:
    """Find or create the customer (guests by normalised email) and refresh newer fields."""
    if record.platform_id is not None:
        key = {"platform_id": record.platform_id}
    elif record.email:
        key = {"guest_email_key": email_key(record.email)}
    else:
        return None  # a guest without email counts for store statistics only
    session.execute(db.insert(Customer).values(store_id=store.id, **key)
                    .on_conflict_do_nothing())
    query = select(Customer).filter_by(store_id=store.id, **key).with_for_update()
    customer = session.execute(query).scalar_one()
    if _newer(record.updated_at, customer.source_updated_at):
        customer.email = record.email or customer.email
        if record.accepts_marketing is not None:
            customer.accepts_marketing = record.accepts_marketing
        customer.created_at = customer.created_at or record.created_at
        customer.source_updated_at = record.updated_at or customer.source_updated_at
    return customer


def apply_order(db: Database, session: Session, store: Store, record: OrderRecord) -> set[int]:
    """Upsert an order with its lines and refunds unless a newer version is already stored."""
    customer = upsert_customer(db, session, store, record.customer) if record.customer else None
    affected = {customer.id} if customer else set()
    for refund in record.refunds:
        apply_refund(db, session, store, refund)
    inserted = session.execute(db.insert(Order).values(
        store_id=store.id, platform_id=record.platform_id, created_at=record.created_at,
        source_updated_at=record.updated_at, currency=record.currency, total=record.total,
        subtotal=record.subtotal, discount_total=record.discount_total,
        financial_status=record.financial_status,
    ).on_conflict_do_nothing().returning(Order.id)).scalar()
    order = session.execute(select(Order).filter_by(
        store_id=store.id, platform_id=record.platform_id).with_for_update()).scalar_one()
    if inserted is None and order.source_updated_at >= record.updated_at:
        log.info("order %s: stale update dropped", record.platform_id)
        return affected | ({order.customer_id} if order.customer_id else set())
    if order.customer_id and order.customer_id != (customer.id if customer else None):
        affected.add(order.customer_id)  # the order moved: the old owner loses it
    order.customer_id = customer.id if customer else None
    order.created_at = record.created_at
    order.source_updated_at = record.updated_at
    order.currency = record.currency
    order.total = record.total
    order.subtotal = record.subtotal
    order.discount_total = record.discount_total
    order.discount_codes = list(record.discount_codes)
    order.financial_status = record.financial_status
    order.cancelled_at = record.cancelled_at
    order.is_test = record.is_test
    order.items_count = sum(item.quantity for item in record.line_items)
    order.line_items = [
        LineItem(product_id=i.product_id, variant_id=i.variant_id, product_type=i.product_type,
                 vendor=i.vendor, quantity=i.quantity, price=i.price)
        for i in record.line_items
    ]
    return affected


def apply_refund(db: Database, session: Session, store: Store, record: RefundRecord) -> set[int]:
    """Record a refund once; it counts against its order whenever that order arrives."""
    session.execute(db.insert(Refund).values(
        store_id=store.id, platform_id=record.platform_id,
        order_platform_id=record.order_platform_id, amount=record.amount,
        created_at=record.created_at,
    ).on_conflict_do_nothing())
    owner = session.execute(select(Order.customer_id).filter_by(
        store_id=store.id, platform_id=record.order_platform_id)).scalar()
    return {owner} if owner else set()


def apply_deletion(db: Database, session: Session, store: Store, record: Deletion) -> set[int]:
    """A deleted customer leaves every segment; a deleted order stops counting."""
    if record.kind == "customer":
        customer = session.execute(select(Customer).filter_by(
            store_id=store.id, platform_id=record.platform_id).with_for_update()).scalar()
        if customer is None:
            return set()
        customer.deleted_at = customer.deleted_at or (record.occurred_at or utcnow())
        return {customer.id}
    order = session.execute(select(Order).filter_by(
        store_id=store.id, platform_id=record.platform_id).with_for_update()).scalar()
    if order is None:
        return set()
    owner = order.customer_id
    session.execute(delete(Order).where(Order.id == order.id))
    return {owner} if owner else set()


def apply_tags_echo(session: Session, store: Store, record: TagsEcho) -> set[int]:
    """Recognise our own tag writes coming back; adopt a merchant's edits of our tags."""
    customer = session.execute(select(Customer).filter_by(
        store_id=store.id, platform_id=record.customer_platform_id)).scalar()
    destination = session.execute(select(Destination).filter_by(
        store_id=store.id, kind="shopify_tags")).scalar()
    if customer is None or destination is None:
        return set()
    ours = {tag for tag in record.tags if tag.lower().startswith(store.tag_prefix.lower())}
    state = session.get(SyncState, (destination.id, customer.id))
    confirmed = set(state.tags) if state else set()
    if ours <= confirmed:
        log.info("customer %s: tag echo of our own write ignored", customer.id)
        return set()
    # Someone else put our prefix on the customer: treat it as present, so the next sync
    # removes whatever the segments do not justify.
    if state is None:
        state = SyncState(destination_id=destination.id, customer_id=customer.id, tags=[])
        session.add(state)
    state.tags = sorted(confirmed | ours)
    return {customer.id}

