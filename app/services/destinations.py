"""Destinations as the API and the dashboard show them: health, recent failures, dry-run diff.

Every function takes the caller's :class:`~app.services.auth.Principal` and answers
``NotFound`` for a store outside its scope. Nothing here sends anything.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app.services import serialise
from app.services.auth import Principal, visible_store
from app.services.errors import NotFound
from app.storage.db import Database
from app.storage.models import Destination, SyncAttempt
from app.sync.diff import pending_changes

RECENT_FAILURES = 20


def list_destinations(db: Database, principal: Principal, store_id: int) -> list[dict[str, Any]]:
    """Each destination with its state and its most recent failed attempts."""
    with db.session() as session:
        visible_store(session, principal, store_id)
        result = []
        for row in session.execute(select(Destination).filter_by(store_id=store_id)
                                   .order_by(Destination.id)).scalars():
            failures = session.execute(
                select(SyncAttempt).where(SyncAttempt.destination_id == row.id,
                                          SyncAttempt.error.is_not(None))
                .order_by(SyncAttempt.id.desc()).limit(RECENT_FAILURES)).scalars()
            data = serialise.destination(row)
            data["recent_failures"] = [
                {"at": serialise.iso(a.started_at), "method": a.method, "status": a.status,
                 "error": a.error, "duration_ms": round(a.duration_ms, 1)} for a in failures]
            result.append(data)
        return result


def destination_diff(db: Database, principal: Principal, store_id: int, destination_id: int,
                     page: int = 1, per_page: int = serialise.DEFAULT_PER_PAGE) -> dict[str, Any]:
    """What a sync would add and remove per customer now, a page at a time; sends nothing."""
    with db.session() as session:
        store = visible_store(session, principal, store_id)
        destination = session.get(Destination, destination_id)
        if destination is None or destination.store_id != store_id:
            raise NotFound("destination_not_found", f"no destination {destination_id}")
        changes = sorted(pending_changes(session, store, destination, None),
                         key=lambda change: change.customer_id)
        start = (page - 1) * per_page
        return {
            "destination": serialise.destination(destination),
            "total": len(changes), "page": page, "per_page": per_page,
            "changes": [{"platform_customer_id": c.platform_customer_id, "email": c.email,
                         "add": sorted(c.add), "remove": sorted(c.remove)}
                        for c in changes[start:start + per_page]],
        }
