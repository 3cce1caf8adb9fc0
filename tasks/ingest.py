"""Turn committed inbox rows into profile, segment and sync changes, a batch at a time."""

from __future__ import annotations

import logging

from celery import shared_task
from flask import current_app

from app.ingest.events import Processed, process_batch, process_event, record_failure
from app.storage import redis_state
from app.storage.db import Base
from tasks.sync import schedule_sync

log = logging.getLogger(__name__)
RETRY_BASE_SECONDS = 5


def apply_processed(processed: Processed) -> None:
    """After commit: refresh the hot profiles and queue the debounced syncs."""
    redis = current_app.extensions["redis"]
    if processed.redacted_store or processed.forgotten:
        # Rare (privacy requests), so every table is vacuumed: a shop's rows cascade widely.
        current_app.extensions["db"].erase_freed_space(
            t.name for t in Base.metadata.sorted_tables)
    if processed.redacted_store:
        redis_state.forget_store(redis, processed.store_id)
        return
    if processed.forgotten:
        redis_state.forget_profiles(redis, processed.store_id, processed.forgotten)
    if processed.profiles:
        redis_state.save_profiles(redis, processed.store_id, processed.profiles)
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
