"""Retention: raw webhook bodies past ``INBOX_RETENTION_DAYS``, sync runs past
``SYNC_RUN_RETENTION_DAYS``, and the profile hashes earlier versions kept in Redis."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from flask import current_app
from sqlalchemy import delete

from app.ingest.inbox import purge_bodies
from app.storage import redis_state
from app.storage.db import utcnow
from app.storage.models import SyncRun
from app.sync.diff import RUN_HELD

log = logging.getLogger(__name__)


@shared_task
def purge_inbox_bodies() -> int:
    """Null the body of finished inbox events past retention; return how many (daily, beat)."""
    days = current_app.config["INBOX_RETENTION_DAYS"]
    purged = purge_bodies(current_app.extensions["db"], utcnow() - timedelta(days=days))
    log.info("inbox retention: %s bodies older than %s days purged", purged, days)
    return purged


@shared_task(acks_late=True)
def purge_sync_runs() -> int:
    """Delete sync runs (and their failures) past SYNC_RUN_RETENTION_DAYS; holds awaiting a
    decision stay. Return how many runs went (daily, beat)."""
    days = current_app.config["SYNC_RUN_RETENTION_DAYS"]
    cutoff = utcnow() - timedelta(days=days)
    with current_app.extensions["db"].session() as session:
        purged = session.execute(delete(SyncRun).where(
            SyncRun.started_at < cutoff, SyncRun.status != RUN_HELD)).rowcount
    log.info("sync run retention: %s runs older than %s days deleted", purged, days)
    return purged


@shared_task
def drop_legacy_profile_hashes() -> int | None:
    """Delete the Redis profile hashes earlier versions kept (once per Redis; daily, beat)."""
    dropped = redis_state.drop_legacy_profile_hashes(current_app.extensions["redis"])
    if dropped is not None:
        log.info("upgrade clean-up: %s profile hashes of earlier versions deleted from Redis",
                 dropped)
    return dropped
