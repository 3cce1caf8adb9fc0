"""Customers as the API and the dashboard show them: search, and one customer with the reasons.

Every function takes the caller's :class:`~app.services.auth.Principal` and answers
``NotFound`` for a store outside its scope.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, or_, select

from app.ingest.upsert import email_key
from app.services import serialise
from app.services.auth import Principal, visible_store
from app.services.errors import NotFound
from app.services.segments import get_segment
from app.storage.db import Database
from app.storage.models import Customer, Destination, Membership, Order, Profile, SyncState

RECENT_ORDERS = 50  # the customer page lists this many, newest first


def search_customers(db: Database, principal: Principal, store_id: int, query: str = "",
                     page: int = 1, per_page: int = serialise.DEFAULT_PER_PAGE,
                     segment: str = "") -> dict[str, Any]:
    """Live customers matching an email (any case, trimmed) or a platform id, and currently in
    ``segment`` if given (404 for an unknown one); all when both are empty."""
    if segment:
        get_segment(db, principal, store_id, segment)
    with db.session() as session:
        visible_store(session, principal, store_id)
        where = [Customer.store_id == store_id, Customer.deleted_at.is_(None)]
        if segment:
            where.append(Customer.id.in_(select(Membership.customer_id).where(
                Membership.store_id == store_id, Membership.segment_key == segment,
                Membership.left_at.is_(None))))
        if query.strip():
            key = email_key(query)
            where.append(or_(Customer.guest_email_key == key,
                             func.lower(func.trim(Customer.email)) == key,
                             Customer.platform_id == query.strip()))
        total = session.scalar(select(func.count()).select_from(Customer).where(*where))
        rows = session.execute(
            select(Customer, Profile).outerjoin(Profile, Profile.customer_id == Customer.id)
            .where(*where).order_by(Customer.id)
            .offset((page - 1) * per_page).limit(per_page)).all()
        return {"customers": [customer_summary(customer, profile) for customer, profile in rows],
                "page": page, "per_page": per_page, "total": total}


def customer_summary(customer: Customer, profile: Profile | None) -> dict[str, Any]:
    """A row of a customer list: ids, email, order count, spend, last order, group, segments."""
    return {
        "platform_customer_id": customer.platform_id,
        "email": customer.email,
        "orders_count": profile.orders_count if profile else 0,
        "net_spent": profile.net_spent if profile else 0.0,
        "last_order_at": serialise.iso(profile.last_order_at) if profile else None,
        "rfm_group": profile.rfm_group if profile else None,
        "segments": list(profile.segment_keys) if profile else [],
    }


def customer_detail(db: Database, principal: Principal, store_id: int,
                    platform_customer_id: str) -> dict[str, Any]:
    """Profile, R/F/M, predictions, segments (with why) and each destination's confirmed tags."""
    with db.session() as session:
        store = visible_store(session, principal, store_id)
        customer = session.execute(select(Customer).filter_by(
            store_id=store_id, platform_id=platform_customer_id)).scalar()
        if customer is None:
            raise NotFound("customer_not_found", f"no customer {platform_customer_id}")
        profile = session.get(Profile, customer.id)
        memberships = session.execute(select(Membership).where(
            Membership.customer_id == customer.id, Membership.left_at.is_(None))
            .order_by(Membership.segment_key)).scalars()
        sync = {}
        for destination, state in session.execute(
                select(Destination, SyncState).outerjoin(
                    SyncState, (SyncState.destination_id == Destination.id)
                    & (SyncState.customer_id == customer.id))
                .where(Destination.store_id == store_id)):
            sync[destination.kind] = {
                "mode": destination.mode,
                "confirmed_tags": sorted(state.tags) if state else [],
                "confirmed_at": serialise.iso(state.confirmed_at) if state else None,
                "last_error": state.last_error if state else None,
            }
        body = {
            "store_id": store_id,
            "platform_customer_id": customer.platform_id,
            "has_email": bool(customer.email),
            "accepts_marketing": customer.accepts_marketing,
            "deleted": customer.deleted_at is not None,
            "profile": serialise.profile(profile) if profile else None,
            "segments": [{"key": m.segment_key, "tag": f"{store.tag_prefix}{m.segment_key}",
                          "explanation": m.explanation, "entered_at": serialise.iso(m.entered_at)}
                         for m in memberships],
            "shop_tags": sync.get("shopify_tags", {}).get("confirmed_tags", []),
            "destinations": sync,
        }
        if profile:
            body.update({name: body["profile"]["predictions"][name]
                         for name in serialise.PREDICTION_FIELDS})
        return body


def customer_orders(db: Database, principal: Principal, store_id: int, platform_customer_id: str,
                    limit: int = RECENT_ORDERS) -> dict[str, Any]:
    """The customer's email and latest orders (newest first, at most ``limit``) with the count.

    Whoever may see a store sees its customers' emails (as in the customer list and its CSV).
    """
    with db.session() as session:
        visible_store(session, principal, store_id)
        customer = session.execute(select(Customer).filter_by(
            store_id=store_id, platform_id=platform_customer_id)).scalar()
        if customer is None:
            raise NotFound("customer_not_found", f"no customer {platform_customer_id}")
        total = session.scalar(select(func.count()).select_from(Order).where(
            Order.customer_id == customer.id))
        orders = session.execute(select(Order).where(Order.customer_id == customer.id)
                                 .order_by(Order.created_at.desc(), Order.id.desc())
                                 .limit(limit)).scalars()
        return {"email": customer.email, "total": total, "orders": [{
            "platform_order_id": order.platform_id,
            "created_at": serialise.iso(order.created_at),
            "total": float(order.total), "currency": order.currency,
            "discount_codes": list(order.discount_codes or []),
            "financial_status": order.financial_status,
            "items_count": order.items_count,
            "cancelled": order.cancelled_at is not None,
            "test": order.is_test} for order in orders]}
