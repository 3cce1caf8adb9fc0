"""Turn committed inbox rows into profile, segment and sync changes, a batch at a time.

A delivery does not cost a task. The webhook commits its row and marks the store pending
(``app.ingest.inbox.signal_store``); a drain is queued only when the mark is new. The mark
stays set while the store's drain is queued or running, so a store has one drain message at a
time however fast its deliveries come: the drain takes one bounded batch of the store's
pending events and queues its own successor behind the other stores' drains, and clears the
mark only once the inbox holds nothing more for it. A store whose batch came back full has a
backlog: its next drain is queued at ``BACKLOG_PRIORITY``, which the worker takes only when no
other store's drain or sync waits, so a flood in one store delays that store, not the others
(Redis broker; on RabbitMQ, whose queues are declared without priorities, drains take turns
in arrival order). One drain per store runs at a time (a Redis lock with an expiry).
Correctness does not rest on Redis: events are claimed in SQL, so a lost mark, a flushed
Redis or a killed worker only delays events until the sweeper re-signals their store. A
failed event is retried alone with backoff (``ingest_event``).
"""

from __future__ import annotations

import logging

from celery import shared_task
from flask import current_app
from redis import Redis

from app.ingest.events import (
    Processed,
    drain_batch,
    has_pending,
    process_batch,
    process_event,
    record_failure,
)
from app.storage import redis_state
from app.storage.db import Base, Database
from tasks.sync import schedule_sync

log = logging.getLogger(__name__)
RETRY_BASE_SECONDS = 5
# A drain's lock outlives any one batch; a killed holder's lock expires after this.
DRAIN_LOCK_SECONDS = 120
# The Celery priority of a drain that continues a store's backlog. The Redis transport serves
# its queues' priority-0 messages (every other task's) before any of priority 3, 6 or 9.
BACKLOG_PRIORITY = 6


def apply_processed(processed: Processed) -> None:
    """After commit: erase what a privacy request freed and queue the debounced syncs."""
    if processed.redacted_store or processed.forgotten:
        # Rare (privacy requests), so every table is vacuumed: a shop's rows cascade widely.
        current_app.extensions["db"].erase_freed_space(
            t.name for t in Base.metadata.sorted_tables)
    if processed.redacted_store:
        return
    if processed.changed:
        for destination_id in processed.destination_ids:
            schedule_sync(destination_id, processed.changed)


def _process_alone(inbox_id: int) -> tuple[str, Exception | None]:
    """Process one event in its own transaction; on failure record it (parked at the limit)."""
    db = current_app.extensions["db"]
    try:
        processed = process_event(db, inbox_id)
    except Exception as exc:  # recorded on the event, retried, then parked: never lost
        return record_failure(db, inbox_id, f"{type(exc).__name__}: {exc}",
                              current_app.config["INBOX_MAX_ATTEMPTS"]), exc
    apply_processed(processed)
    return processed.status, None


@shared_task(acks_late=True)
def drain_store(store_id: int) -> str:
    """Apply one batch of the store's pending events, then queue the next drain if needed."""
    redis = current_app.extensions["redis"]
    token = redis_state.take_drain_lock(redis, store_id, DRAIN_LOCK_SECONDS)
    if token is None:
        return "busy"  # the holder looks at the pending mark again after it lets go
    db = current_app.extensions["db"]
    claimed: list[int] = []
    try:
        processed = drain_batch(db, store_id, current_app.config["INGEST_BATCH_SIZE"],
                                claimed=claimed)
    except Exception as exc:
        log.warning("drain of store %s failed on %d events (%s): one by one",
                    store_id, len(claimed), type(exc).__name__)
        for inbox_id in claimed:
            if _process_alone(inbox_id)[0] == "pending":
                ingest_event.apply_async(args=[inbox_id], countdown=RETRY_BASE_SECONDS)
        # Whatever the batch did not claim waits a little: the cause may not have passed.
        drain_store.apply_async(args=[store_id], countdown=RETRY_BASE_SECONDS)
        return "failed"
    finally:
        redis_state.release_drain_lock(redis, store_id, token)
    apply_processed(processed)
    if processed.more_pending:  # a backlog: after every store that has none
        drain_store.apply_async(args=[store_id], priority=BACKLOG_PRIORITY)
    elif _still_pending(db, redis, store_id):
        drain_store.delay(store_id)  # behind the drains other stores queued meanwhile
    return processed.status


def _still_pending(db: Database, redis: Redis, store_id: int) -> bool:
    """Clear the store's pending mark, then look at the inbox again: True (the mark set again)
    when events arrived that the batch did not read and no delivery has queued a drain since.

    A delivery commits its row before it marks the store, so one that found the mark still set
    (and queued nothing) committed before the mark was cleared, and the look after it sees it.
    """
    redis_state.unmark_pending(redis, store_id)
    return has_pending(db, store_id) and redis_state.mark_pending(redis, store_id)


@shared_task(bind=True, acks_late=True, max_retries=None)
def ingest_event(self, inbox_id: int) -> str:
    """Process this event with its store's other pending ones (idempotent).

    A failed batch is retried one event at a time, so one bad event is retried with backoff
    and parked after ``INBOX_MAX_ATTEMPTS`` while the rest go through.
    """
    db = current_app.extensions["db"]
    claimed: list[int] = []
    try:
        processed = process_batch(db, inbox_id, current_app.config["INGEST_BATCH_SIZE"],
                                  claimed=claimed)
    except Exception as exc:
        log.warning("batch of %d events from inbox %s failed (%s): one by one",
                    len(claimed), inbox_id, type(exc).__name__)
    else:
        apply_processed(processed)
        return processed.status
    for other in claimed:
        if other != inbox_id and _process_alone(other)[0] == "pending":
            ingest_event.apply_async(args=[other], countdown=RETRY_BASE_SECONDS)
    status, exc = _process_alone(inbox_id)
    if status == "pending":
        raise self.retry(countdown=RETRY_BASE_SECONDS * 2 ** self.request.retries, exc=exc)
    return status
