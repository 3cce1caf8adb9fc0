"""Apply canonical records to SQL: idempotent upserts by natural key, stale updates dropped.

Every function returns the ids of the customers whose profile must be recomputed. The caller
owns the transaction. Rows are locked (``FOR UPDATE`` on PostgreSQL; SQLite serialises writers)
so two workers handling the same customer cannot interleave. Each write to orders, refunds or
line items moves the touched orders' contributions in their owners' facts rows
(``app.scoring.facts``): measured under the orders' locks before the write and after it.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.scoring.facts import ensure_facts, order_facts, record_changes
from app.storage.bulk import insert_new_rows, insert_rows, one_of, update_by_id
from app.storage.db import Database, chunked, utcnow
from app.storage.models import Customer, Destination, LineItem, Order, Refund, Store, SyncState
from connectors.base import (
    CanonicalEvent,
    CustomerRecord,
    Deletion,
    OrderRecord,
    RefundRecord,
    TagsEcho,
)
from connectors.registry import platform_for

log = logging.getLogger(__name__)


def apply_records(db: Database, session: Session, store: Store,
                  records: list[CanonicalEvent]) -> set[int]:
    """Apply records in arrival order; return affected customer ids.

    Consecutive orders and customers go in bulk — a few statements for the whole run, rows
    locked in key order so concurrent batches cannot deadlock — which is what lets one worker
    keep up with a burst. Refunds, deletions and tag echoes are applied one at a time, in place.
    """
    ensure_facts(session, store)
    affected: set[int] = set()
    run: list[OrderRecord | CustomerRecord] = []
    for record in records:
        if isinstance(record, OrderRecord | CustomerRecord):
            run.append(record)
            continue
        affected |= _apply_run(db, session, store, run)
        run = []
        if isinstance(record, RefundRecord):
            affected |= apply_refund(db, session, store, record)
        elif isinstance(record, Deletion):
            affected |= apply_deletion(db, session, store, record)
        elif isinstance(record, TagsEcho):
            affected |= apply_tags_echo(session, store, record)
        else:
            raise TypeError(f"unknown record {type(record).__name__}")
    return affected | _apply_run(db, session, store, run)


# The customer fields a newer record refreshes.
CUSTOMER_FIELDS = ("email", "accepts_marketing", "created_at", "source_updated_at")


def email_key(email: str) -> str:
    """The normalised form emails are matched by (guest customers, search, user logins)."""
    return email.strip().lower()


def _newer(incoming: datetime | None, stored: datetime | None) -> bool:
    return incoming is None or stored is None or incoming > stored


def _customer_key(record: CustomerRecord) -> tuple[str, str] | None:
    if record.platform_id is not None:
        return ("platform_id", record.platform_id)
    if record.email:
        return ("guest_email_key", email_key(record.email))
    return None  # a guest without email counts for store statistics only


def _apply_run(db: Database, session: Session, store: Store,
               run: list[OrderRecord | CustomerRecord]) -> set[int]:
    if not run:
        return set()
    people = [r.customer if isinstance(r, OrderRecord) else r for r in run]
    customers = upsert_customers(db, session, store, [p for p in people if p is not None])
    affected = set(customers.values())
    orders = [r for r in run if isinstance(r, OrderRecord)]
    return affected | (upsert_orders(db, session, store, orders, customers) if orders else set())


def upsert_customers(db: Database, session: Session, store: Store,
                     records: list[CustomerRecord]) -> dict[tuple[str, str], int]:
    """Find or create each customer (guests by normalised email); refresh newer fields; return
    each key's customer id. Set-based: per key kind one ``INSERT … ON CONFLICT DO NOTHING`` and
    one locking read per chunk, then one bulk ``UPDATE`` of the customers that changed."""
    keyed = [(key, record) for record in records if (key := _customer_key(record))]
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for column in ("platform_id", "guest_email_key"):
        values = sorted({value for (kind, value), _ in keyed if kind == column})
        field = getattr(Customer, column)
        for chunk in chunked(values):
            session.execute(db.insert(Customer).on_conflict_do_nothing(),
                            [{"store_id": store.id, column: value} for value in chunk])
            for row in session.execute(
                    select(field.label("key"), Customer.id,
                           *(getattr(Customer, name) for name in CUSTOMER_FIELDS))
                    .where(Customer.store_id == store.id, one_of(session, field, chunk))
                    .order_by(field).with_for_update()):
                found[(column, row.key)] = row._asdict()
    changed: dict[int, dict[str, Any]] = {}
    for key, record in keyed:  # in arrival order: a later record sees an earlier one's fields
        customer = found[key]
        if _newer(record.updated_at, customer["source_updated_at"]):
            customer["email"] = record.email or customer["email"]
            if record.accepts_marketing is not None:
                customer["accepts_marketing"] = record.accepts_marketing
            customer["created_at"] = customer["created_at"] or record.created_at
            customer["source_updated_at"] = record.updated_at or customer["source_updated_at"]
            changed[customer["id"]] = customer
    if changed:
        update_by_id(session, Customer.__table__, [
            {"id": c["id"], **{name: c[name] for name in CUSTOMER_FIELDS}}
            for c in changed.values()])
    return {key: customer["id"] for key, customer in found.items()}


def _order_values(record: OrderRecord, customer_id: int | None) -> dict[str, Any]:
    return {
        "customer_id": customer_id, "created_at": record.created_at,
        "source_updated_at": record.updated_at, "currency": record.currency,
        "total": record.total, "subtotal": record.subtotal,
        "discount_total": record.discount_total, "discount_codes": list(record.discount_codes),
        "financial_status": record.financial_status, "cancelled_at": record.cancelled_at,
        "is_test": record.is_test,
        "items_count": sum(item.quantity for item in record.line_items),
    }


def upsert_orders(db: Database, session: Session, store: Store, records: list[OrderRecord],
                  customers: dict[tuple[str, str], int]) -> set[int]:
    """Upsert orders with their lines and refunds; an update older than what is stored is
    dropped (its refunds still count). Return the customers whose orders changed (an order
    that moved owner counts for both)."""
    newest: dict[str, OrderRecord] = {}
    for record in records:  # the same order twice in a batch: the newest wins, as in sequence
        seen = newest.get(record.platform_id)
        if seen is None or record.updated_at > seen.updated_at:
            newest[record.platform_id] = record
    owner_of = {pid: (customers[key] if r.customer and (key := _customer_key(r.customer))
                      else None) for pid, r in newest.items()}
    refunds = [{"store_id": store.id, "platform_id": refund.platform_id,
                "order_platform_id": refund.order_platform_id, "amount": refund.amount,
                "created_at": refund.created_at}
               for record in newest.values() for refund in record.refunds]
    affected = {owner for owner in owner_of.values() if owner}
    ids = sorted(newest)
    inserted = set(insert_new_rows(session, Order.__table__, [
        {"store_id": store.id, "platform_id": pid, **_order_values(newest[pid], owner_of[pid])}
        for pid in ids], returning="platform_id"))
    stored = {}
    for chunk in chunked(ids):
        stored.update((row.platform_id, row) for row in session.execute(
            select(Order.id, Order.platform_id, Order.customer_id, Order.source_updated_at)
            .where(Order.store_id == store.id, one_of(session, Order.platform_id, chunk))
            .order_by(Order.platform_id).with_for_update()))
    touched = set(ids) | {refund["order_platform_id"] for refund in refunds}
    before = order_facts(session, store, touched - inserted)
    if refunds:
        session.execute(db.insert(Refund).on_conflict_do_nothing(), refunds)
    updates, fresh = [], []
    for pid, record in newest.items():
        row = stored[pid]
        if row.customer_id and row.customer_id != owner_of[pid]:
            affected.add(row.customer_id)  # stale: it keeps the order; moved: it loses it
        if pid not in inserted:
            if row.source_updated_at >= record.updated_at:
                # Debug: expected under at-least-once delivery, and a backfill rerun drops
                # every order it already has (hundreds of lines at INFO).
                log.debug("order %s: stale update dropped", pid)
                continue
            updates.append({"id": row.id, **_order_values(record, owner_of[pid])})
        fresh.append((row.id, record))
    update_by_id(session, Order.__table__, updates)
    for chunk in chunked([row["id"] for row in updates]):  # new orders have no old lines
        session.execute(delete(LineItem).where(one_of(session, LineItem.order_id, chunk)))
    lines = [{"order_id": order_id, "product_id": i.product_id, "variant_id": i.variant_id,
              "product_type": i.product_type, "vendor": i.vendor, "quantity": i.quantity,
              "price": i.price} for order_id, record in fresh for i in record.line_items]
    insert_rows(session, LineItem.__table__, lines)
    record_changes(session, store, before, order_facts(session, store, touched))
    return affected


def apply_refund(db: Database, session: Session, store: Store, record: RefundRecord) -> set[int]:
    """Record a refund once; it counts against its order whenever that order arrives."""
    owner = session.execute(select(Order.customer_id).filter_by(
        store_id=store.id, platform_id=record.order_platform_id).with_for_update()).scalar()
    touched = [record.order_platform_id]
    before = order_facts(session, store, touched)
    session.execute(db.insert(Refund).values(
        store_id=store.id, platform_id=record.platform_id,
        order_platform_id=record.order_platform_id, amount=record.amount,
        created_at=record.created_at,
    ).on_conflict_do_nothing())
    record_changes(session, store, before, order_facts(session, store, touched))
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
    before = order_facts(session, store, [order.platform_id])
    session.execute(delete(Order).where(Order.id == order.id))
    record_changes(session, store, before, {})
    return {owner} if owner else set()


def apply_tags_echo(session: Session, store: Store, record: TagsEcho) -> set[int]:
    """Recognise our own tag writes coming back; adopt a merchant's edits of our tags."""
    customer = session.execute(select(Customer).filter_by(
        store_id=store.id, platform_id=record.customer_platform_id)).scalar()
    destination = session.execute(select(Destination).filter_by(
        store_id=store.id, kind=platform_for(store.platform).store_destination)).scalar()
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

