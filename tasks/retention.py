"""Purge raw webhook bodies once they are older than ``INBOX_RETENTION_DAYS``."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from flask import current_app

from app.ingest.inbox import purge_bodies
from app.storage.db import utcnow

log = logging.getLogger(__name__)


@shared_task
def purge_inbox_bodies() -> int:
    """Null the body of finished inbox events past retention; return how many (daily, beat)."""
    days = current_app.config["INBOX_RETENTION_DAYS"]
    purged = purge_bodies(current_app.extensions["db"], utcnow() - timedelta(days=days))
    log.info("inbox retention: %s bodies older than %s days purged", purged, days)
    return purged
