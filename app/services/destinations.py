"""Destinations as the API, the dashboard and the CLI show them: health, recent failures,
dry-run diff, sync runs with their failures; and the operator's decisions on them (replay the
failures, confirm or reject a held sync).

Every function takes the caller's :class:`~app.services.auth.Principal` and answers
``NotFound`` for a store outside its scope. Nothing here sends anything: a replay or a
confirmed hold is queued for the sync worker.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.jobs import enqueue
from app.services import serialise
from app.services.auth import Principal, visible_store
from app.services.errors import Conflict, NotFound
from app.storage import metrics
from app.storage.db import Database, utcnow
from app.storage.models import Customer, Destination, SyncAttempt, SyncFailure, SyncRun
from app.sync.diff import (
    RUN_CONFIRMED,
    RUN_HELD,
    RUN_REJECTED,
    failed_customer_ids,
    pending_changes,
)

log = logging.getLogger(__name__)
RETRY_TASK = "tasks.sync.retry_failed_destination"
CONFIRMED_SYNC_TASK = "tasks.sync.sync_store_destination"  # (destination_id, full, trigger)

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
        destination = _destination(session, store_id, destination_id)
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


def _destination(session: Session, store_id: int, destination_id: int) -> Destination:
    destination = session.get(Destination, destination_id)
    if destination is None or destination.store_id != store_id:
        raise NotFound("destination_not_found", f"no destination {destination_id}")
    return destination


def _run(session: Session, destination_id: int, run_id: int) -> SyncRun:
    run = session.get(SyncRun, run_id)
    if run is None or run.destination_id != destination_id:
        raise NotFound("run_not_found", f"no sync run {run_id}")
    return run


def list_runs(db: Database, principal: Principal, store_id: int, destination_id: int,
              page: int = 1, per_page: int = serialise.DEFAULT_PER_PAGE) -> dict[str, Any]:
    """The destination's sync runs, newest first, a page at a time."""
    with db.session() as session:
        visible_store(session, principal, store_id)
        destination = _destination(session, store_id, destination_id)
        total = session.execute(select(func.count()).select_from(SyncRun).where(
            SyncRun.destination_id == destination_id)).scalar_one()
        rows = session.execute(select(SyncRun).where(SyncRun.destination_id == destination_id)
                               .order_by(SyncRun.id.desc())
                               .offset((page - 1) * per_page).limit(per_page)).scalars()
        return {"destination": serialise.destination(destination), "total": total,
                "page": page, "per_page": per_page,
                "unretried_failures": len(failed_customer_ids(session, destination_id)),
                "runs": [serialise.sync_run(r) for r in rows]}


def show_run(db: Database, principal: Principal, store_id: int, destination_id: int,
             run_id: int, page: int = 1,
             per_page: int = serialise.DEFAULT_PER_PAGE) -> dict[str, Any]:
    """One run with its per-customer failures (a page of them) and its hold summary."""
    with db.session() as session:
        visible_store(session, principal, store_id)
        _destination(session, store_id, destination_id)
        run = _run(session, destination_id, run_id)
        failures = session.execute(
            select(SyncFailure, Customer.platform_id)
            .join(Customer, Customer.id == SyncFailure.customer_id)
            .where(SyncFailure.run_id == run_id).order_by(SyncFailure.id)
            .offset((page - 1) * per_page).limit(per_page)).all()
        total = session.execute(select(func.count()).select_from(SyncFailure).where(
            SyncFailure.run_id == run_id)).scalar_one()
        return {**serialise.sync_run(run), "hold": run.hold, "failures_total": total,
                "page": page, "per_page": per_page,
                "failures": [serialise.sync_failure(f, platform_id) for f, platform_id in failures]}


def queue_retry(db: Database, principal: Principal, store_id: int, destination_id: int,
                since: datetime | None) -> dict[str, Any]:
    """Queue a replay of the destination's failed customers (since ``since``); say how many."""
    with db.session() as session:
        visible_store(session, principal, store_id)
        _destination(session, store_id, destination_id)
        customers = len(failed_customer_ids(session, destination_id, since))
    if customers:
        enqueue(RETRY_TASK, destination_id, since.isoformat() if since else None)
    log.info("replay of %s failed customers of destination %s queued by %s", customers,
             destination_id, principal.name)
    return {"customers": customers, "queued": bool(customers)}


def decide_hold(db: Database, principal: Principal, store_id: int, destination_id: int,
                run_id: int, confirm: bool, *, queue: bool = True) -> dict[str, Any]:
    """Confirm a held sync (queue the pass that applies it, unless the caller runs it itself:
    ``queue=False``) or reject it (back to dry run).

    A rejection switches the destination to dry run, so nothing more is sent until someone
    reviews the diff and switches it live again; either decision is recorded on the run.
    """
    with db.session() as session:
        visible_store(session, principal, store_id)
        destination = _destination(session, store_id, destination_id)
        run = _run(session, destination_id, run_id)
        if run.status != RUN_HELD:
            raise Conflict("not_held", f"sync run {run_id} is {run.status}, not held")
        run.status = RUN_CONFIRMED if confirm else RUN_REJECTED
        run.decided_by, run.decided_at = principal.name[:320], utcnow()
        if not confirm:
            destination.mode = "dry_run"
        metrics.count("tagwise_sync_holds", (destination.kind, run.status))
        decided = serialise.sync_run(run)
    if confirm and queue:
        enqueue(CONFIRMED_SYNC_TASK, destination_id, False, "confirmed")
    log.info("held sync run %s of destination %s %s by %s", run_id, destination_id,
             decided["status"], principal.name)
    return decided
