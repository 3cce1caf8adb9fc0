"""Debounced, batched sync of tag changes to each destination."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from celery import shared_task
from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.storage import redis_state
from app.storage.models import Destination, Store
from app.storage.models import SyncRun as Run
from app.sync import alerts
from app.sync.debounce import Pending, hold_seconds
from app.sync.diff import (
    SyncReport,
    brake_limit,
    brake_summary,
    close_run,
    hold_run,
    open_run,
    pending_changes,
    pending_hold,
    retry_failed,
    sync_customers,
)
from app.sync.writers import budget_low
from connectors.base import DestinationKind
from connectors.registry import destination_kind

log = logging.getLogger(__name__)
TRANSIENT_RETRY_SECONDS = 30
LOCK_SECONDS = 600


def schedule_sync(destination_id: int, customer_ids: list[int]) -> None:
    """Mark customers dirty; queue one debounced sync per destination, not one per event."""
    redis = current_app.extensions["redis"]
    debounce = current_app.config["SYNC_DEBOUNCE_SECONDS"]
    if redis_state.mark_dirty(redis, destination_id, customer_ids, debounce):
        sync_destination.apply_async(args=[destination_id], countdown=debounce)


@shared_task(acks_late=True)
def sync_destination(destination_id: int) -> int:
    """Send the destination's pending changes in batches; return how many changes were sent.

    A run takes what was pending when it started. For Klaviyo and Mailchimp it may first let
    a small pending set grow (app/sync/debounce.py); the store's own tags go at once.
    """
    redis = current_app.extensions["redis"]
    db = current_app.extensions["db"]
    redis.delete(redis_state.scheduled_key(destination_id))
    lock = redis.lock(f"tw:sync-lock:{destination_id}", timeout=LOCK_SECONDS, blocking=False)
    if not lock.acquire():
        # Another sync of this destination runs; come back once it is likely done.
        _queue_again(destination_id, current_app.config["SYNC_DEBOUNCE_SECONDS"])
        return 0
    sent = 0
    retry: list[int] = []
    try:
        if _held(destination_id):
            return 0  # the dirty set waits; confirming the hold syncs the whole store
        with db.session() as session:
            destination = session.get(Destination, destination_id)
            if destination is None:
                return 0
            try:
                kind = destination_kind(destination.kind)
            except KeyError:
                kind = None  # no longer offered: the run records it as unavailable
            wait = _gather_seconds(destination, kind) if kind else 0.0
            if wait > 0:
                _queue_again(destination_id, wait)
                return 0
            run_id = open_run(session, destination, "debounce").id
        batch_size = current_app.config["SYNC_BATCH_SIZE"]
        # A run takes what is pending now: later arrivals queued the next run (the scheduled
        # flag was cleared above), so a busy store's run cannot hold a worker process for as
        # long as its changes keep coming while other stores' syncs and drains wait.
        redis_state.start_taking_dirty(redis, destination_id)
        while ids := redis_state.take_dirty(redis, destination_id, batch_size):
            with db.session() as session:
                destination = session.get(Destination, destination_id)
                if destination is None:
                    return sent
                store = session.get(Store, destination.store_id)
                report = sync_customers(session, store, destination, ids, trigger="debounce",
                                        run=session.get(Run, run_id), brake=False)
            sent += report.sent
            retry.extend(report.transient)
        with db.session() as session:
            close_run(session, session.get(Run, run_id))
    finally:
        lock.release()
    alerts.deliver_pending(db)
    if retry:
        redis_state.mark_dirty(redis, destination_id, retry, TRANSIENT_RETRY_SECONDS)
        sync_destination.apply_async(args=[destination_id], countdown=TRANSIENT_RETRY_SECONDS)
    return sent


def _gather_seconds(destination: Destination, kind: DestinationKind) -> float:
    """How long to let the destination's pending set grow before this run sends it."""
    redis = current_app.extensions["redis"]
    config = current_app.config
    count = redis.scard(redis_state.dirty_key(destination.id))
    previous = redis_state.note_dirty_count(redis, destination.id, count)
    pending = Pending(count=count,
                      oldest_age_seconds=redis_state.dirty_age_seconds(redis, destination.id),
                      budget_low=kind.rate_bucket is not None and budget_low(destination),
                      growing=previous is None or count > previous)
    return hold_seconds(pending, bulk_from=kind.bulk_from,
                        debounce_seconds=config["SYNC_DEBOUNCE_SECONDS"],
                        max_delay_seconds=config["SYNC_MAX_DELAY_SECONDS"])


def _queue_again(destination_id: int, countdown: float) -> None:
    """Queue the destination's next run, marked so new changes do not queue another."""
    redis_state.mark_scheduled(current_app.extensions["redis"], destination_id, countdown)
    sync_destination.apply_async(args=[destination_id], countdown=countdown)


def _held(destination_id: int) -> bool:
    """True when the destination waits for a decision, or the dirty set trips the brake now.

    The whole dirty set is diffed at once only when it is large enough to trip the brake at
    all; then a hold is recorded and nothing is taken from the set.
    """
    redis = current_app.extensions["redis"]
    with current_app.extensions["db"].session() as session:
        destination = session.get(Destination, destination_id)
        if destination is None:
            return False
        if pending_hold(session, destination_id):
            return True
        limit = brake_limit(session, destination)
        dirty_key = redis_state.dirty_key(destination_id)
        if limit is None or redis.scard(dirty_key) <= limit[0] * limit[1]:
            return False  # too few dirty customers to trip the brake even if all change
        ids = sorted(int(v) for v in redis.smembers(dirty_key))
        store = session.get(Store, destination.store_id)
        summary = brake_summary(session, destination,
                                pending_changes(session, store, destination, ids))
        if summary is None:
            return False
        hold_run(session, destination, "debounce", summary)
        return True


@shared_task(acks_late=True)
def sync_all() -> int:
    """Compare wanted and confirmed tags for every customer of every store (catches losses)."""
    db = current_app.extensions["db"]
    with db.session() as session:
        rows = session.execute(select(Destination.id, Store.id).join(
            Store, Store.id == Destination.store_id).where(Store.install_state == "active")).all()
    for destination_id, _ in rows:
        sync_store_destination.delay(destination_id)
    return len(rows)


def _pass_on_destination(destination_id: int,
                         apply: Callable[[Session, Store, Destination], SyncReport]) -> int:
    """Run one whole pass on a destination in its own unit of work, then send due alerts."""
    db = current_app.extensions["db"]
    with db.session() as session:
        destination = session.get(Destination, destination_id)
        if destination is None:
            return 0
        sent = apply(session, session.get(Store, destination.store_id), destination).sent
    alerts.deliver_pending(db)
    return sent


@shared_task(acks_late=True)
def sync_store_destination(destination_id: int, full: bool = False,
                           trigger: str = "full_compare") -> int:
    """One pass over a whole store for one destination (``tagwise sync`` does the same).

    ``trigger="confirmed"`` is the pass an operator's confirmation of a hold starts: it is
    the one pass the safety brake lets through.
    """
    return _pass_on_destination(destination_id, lambda session, store, destination: (
        sync_customers(session, store, destination, None, full=full, trigger=trigger,
                       brake=trigger != "confirmed")))


@shared_task(acks_late=True)
def retry_failed_destination(destination_id: int, since: str | None = None) -> int:
    """Replay a destination's failed customers, re-diffed now; return how many were sent."""
    return _pass_on_destination(destination_id, lambda session, store, destination: (
        retry_failed(session, store, destination,
                     datetime.fromisoformat(since) if since else None)))
