"""A customer's profile, segments with their explanations, and sync state per destination."""

from __future__ import annotations

from flask import jsonify
from sqlalchemy import select

from app.api import bp, serialise
from app.api.lookup import get_store
from app.db_access import db
from app.errors import ApiError
from app.models import Customer, Destination, Membership, Profile, SyncState


@bp.get("/stores/<int:store_id>/customers/<platform_customer_id>")
def show_customer(store_id: int, platform_customer_id: str):
    """Profile, R/F/M, segments (with why), and the tags each destination last confirmed."""
    with db().session() as session:
        store = get_store(session, store_id)
        customer = session.execute(select(Customer).filter_by(
            store_id=store_id, platform_id=platform_customer_id)).scalar()
        if customer is None:
            raise ApiError(404, "customer_not_found", f"no customer {platform_customer_id}")
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
        return jsonify(body)
