"""Turn a committed inbox row into profile, segment and sync changes."""

from __future__ import annotations

import logging

from celery import shared_task
from flask import current_app

from app import hot
from app.pipeline import process_event, record_failure
from tasks.sync import schedule_sync

log = logging.getLogger(__name__)
RETRY_BASE_SECONDS = 5


def apply_processed(processed) -> None:
    """After commit: refresh the hot profiles and queue the debounced syncs."""
    redis = current_app.extensions["redis"]
    if processed.redacted_store:
        hot.forget_store(redis, processed.store_id)
        return
    if processed.forgotten:
        hot.forget_profiles(redis, processed.store_id, processed.forgotten)
    if processed.profiles:
        hot.save_profiles(redis, processed.store_id, processed.profiles)
    if processed.changed:
        for destination_id in processed.destination_ids:
            schedule_sync(destination_id, processed.changed)


@shared_task(bind=True, acks_late=True, max_retries=None)
def ingest_event(self, inbox_id: int) -> str:
    """Process one inbox event (idempotent); retry with backoff, park after the limit."""
    db = current_app.extensions["db"]
    try:
        processed = process_event(db, inbox_id)
    except Exception as exc:  # recorded on the event, retried, then parked: never lost
        status = record_failure(db, inbox_id, f"{type(exc).__name__}: {exc}",
                                current_app.config["INBOX_MAX_ATTEMPTS"])
        if status == "pending":
            raise self.retry(countdown=RETRY_BASE_SECONDS * 2 ** self.request.retries,
                             exc=exc) from exc
        return status
    apply_processed(processed)
    return processed.status
