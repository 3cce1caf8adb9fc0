"""Judge every store's inbox and webhook flow, then send the alert messages that are due."""

from __future__ import annotations

from celery import shared_task
from flask import current_app

from app.sync import alerts


@shared_task(acks_late=True)
def check_alerts() -> int:
    """Update the store alerts and deliver pending messages; return how many went out."""
    db = current_app.extensions["db"]
    with db.session() as session:
        alerts.check_stores(session)
    return alerts.deliver_pending(db)
