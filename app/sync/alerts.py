"""Operator alerts: one message when a condition starts, one when it clears, none in between.

Each condition is an :class:`~app.storage.models.Alert` row keyed by what it is about
(``destination:3:unhealthy``, ``store:1:inbox_parked``, ``store:1:webhooks_stopped``).
Evaluating a condition only flips the row's state; :func:`deliver_pending` posts the rows whose
state changed since their last message, after the evaluating transaction has committed, so a
message never goes out for a state that was rolled back and a receiver that is down gets the
message on the next check instead of losing it.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from app.storage import metrics
from app.storage.db import Database, utcnow
from app.storage.models import (
    INBOX_PARKED,
    Alert,
    Destination,
    InboxEvent,
    Store,
    SyncFailure,
    SyncRun,
)
from connectors.base import ConnectorError
from connectors.netguard import UnsafeURL
from connectors.slack import AlertClient

log = logging.getLogger(__name__)
WEBHOOK_BASELINE_DAYS = 7
WEBHOOK_BASELINE_EVENTS = 10  # a store that sent fewer in a week is not one that "normally sends"
FINISHED_RUNS = ("completed", "failed")


def set_state(session: Session, key: str, store_id: int | None, firing: bool,
              summary: str, now: datetime | None = None) -> None:
    """Record whether a condition holds; only a change of state queues a message."""
    now = now or utcnow()
    row = session.get(Alert, key)
    if row is None:
        if not firing:
            return
        row = Alert(key=key, store_id=store_id, firing=False, summary=summary, notified=True)
        session.add(row)
    if row.firing == firing:
        return
    row.firing, row.notified, row.summary = firing, False, summary[:500]
    row.store_notified = row.store_id is None  # the store's own receiver hears it too
    if firing:
        row.fired_at, row.cleared_at = now, None
    else:
        row.cleared_at = now


def note_run(session: Session, run: SyncRun) -> None:
    """Judge a destination's health from the run that just finished.

    Unhealthy when its credentials are rejected or it cannot be reached at all, when the
    last ALERT_FAILED_RUNS runs all failed, or when this run failed for more than
    ALERT_FAILURE_SHARE of the customers it changed; healthy again after a run that is none
    of these.
    """
    destination = session.get(Destination, run.destination_id)
    config = current_app.config
    rejected = session.execute(select(func.count()).select_from(SyncFailure).where(
        SyncFailure.run_id == run.id, SyncFailure.reason == "credentials_rejected")).scalar_one()
    recent = list(session.execute(
        select(SyncRun.status).where(SyncRun.destination_id == run.destination_id,
                                     SyncRun.status.in_(FINISHED_RUNS + ("running",)))
        .order_by(SyncRun.id.desc()).limit(config["ALERT_FAILED_RUNS"])).scalars())
    failed_streak = (len(recent) >= config["ALERT_FAILED_RUNS"]
                     and all(status == "failed" for status in recent))
    share = run.failed / run.changed if run.changed else 0.0
    problem = None
    if run.error:
        problem = run.error
    elif rejected:
        problem = "credentials rejected by the destination"
    elif failed_streak:
        problem = f"the last {len(recent)} sync runs failed"
    elif share > config["ALERT_FAILURE_SHARE"]:
        problem = f"run {run.id} failed for {run.failed} of {run.changed} customers"
    where = f"{destination.kind} destination {destination.id} of store {destination.store_id}"
    set_state(session, f"destination:{destination.id}:unhealthy", destination.store_id,
              problem is not None,
              f"{where} is unhealthy: {problem}" if problem else f"{where} is healthy again")


def check_stores(session: Session, now: datetime | None = None) -> None:
    """Judge every active store's inbox (parked events) and webhook flow (stopped or not)."""
    now = now or utcnow()
    config = current_app.config
    silence = timedelta(minutes=config["ALERT_WEBHOOK_SILENCE_MINUTES"])
    baseline_from = now - timedelta(days=WEBHOOK_BASELINE_DAYS)
    parked = dict(session.execute(
        select(InboxEvent.store_id, func.count()).where(InboxEvent.status == INBOX_PARKED)
        .group_by(InboxEvent.store_id)).all())
    flow = {store_id: (n, last) for store_id, n, last in session.execute(
        select(InboxEvent.store_id, func.count(), func.max(InboxEvent.received_at))
        .where(InboxEvent.received_at >= baseline_from).group_by(InboxEvent.store_id))}
    for store in session.execute(select(Store).where(Store.install_state == "active")).scalars():
        n_parked = parked.get(store.id, 0)
        set_state(session, f"store:{store.id}:inbox_parked", store.id, n_parked > 0,
                  f"store {store.id}: {n_parked} inbox events parked "
                  f"(see them with GET /api/v1/stores/{store.id}/inbox, replay with "
                  f"`tagwise inbox replay --store {store.id}`)" if n_parked else
                  f"store {store.id}: no inbox events parked any more", now)
        received, last = flow.get(store.id, (0, None))
        stopped = (received >= WEBHOOK_BASELINE_EVENTS and last is not None
                   and last < now - silence)
        set_state(session, f"store:{store.id}:webhooks_stopped", store.id, stopped,
                  f"store {store.id} ({store.domain}): no webhook for "
                  f"{int((now - last).total_seconds() // 60) if last else 0} minutes"
                  if stopped else f"store {store.id} ({store.domain}): webhooks arrive again",
                  now)


def _client(url: str, what: str) -> AlertClient | None:
    """The receiver at ``url``, or None (logged) when the URL is refused."""
    try:
        return AlertClient(url, signing_secret=current_app.config["ALERT_SIGNING_SECRET"],
                           allow_private=current_app.config["TAGWISE_ALLOW_PRIVATE_URLS"])
    except UnsafeURL as exc:
        log.error("%s refused: %s", what, exc)
        return None


def _post(client: AlertClient, row: Alert) -> bool:
    """Post one alert's current state; False (logged) when the receiver did not take it."""
    state = "firing" if row.firing else "resolved"
    try:
        client.post_message(f"[Tagwise] {state.upper()}: {row.summary}",
                            {"alert": row.key, "state": state, "store_id": row.store_id})
    except ConnectorError as exc:
        log.warning("alert %s not delivered (%s); next check retries", row.key, exc.reason)
        return False
    metrics.count("tagwise_alerts", (row.key.rsplit(":", 1)[-1], state))
    return True


def deliver_pending(db: Database) -> int:
    """Post every alert whose state changed since its last message, to the deployment's
    receiver (ALERT_WEBHOOK_URL) and to its store's own one (``tagwise stores alert-url``);
    return how many messages went out. Each receiver gets each change once."""
    url = current_app.config["ALERT_WEBHOOK_URL"]
    deployment = _client(url, "ALERT_WEBHOOK_URL") if url else None
    box = current_app.extensions["secret_box"]
    receivers: dict[int, tuple[bool, AlertClient | None]] = {}  # store id -> (has one, it)
    pending = [Alert.store_notified.is_(False)]
    if deployment is not None:
        pending.append(Alert.notified.is_(False))
    sent = 0
    with db.session() as session:
        for row in session.execute(select(Alert).where(or_(*pending)).order_by(Alert.key)
                                   .with_for_update(skip_locked=True)).scalars():
            if not row.notified and deployment is not None and _post(deployment, row):
                row.notified = True
                sent += 1
            if row.store_notified:
                continue
            if row.store_id not in receivers:
                store = session.get(Store, row.store_id)
                url = box.decrypt(store.alert_url_enc) if store and store.alert_url_enc else None
                receivers[row.store_id] = (url is not None, url and _client(
                    url, f"store {row.store_id} alert URL"))
            has_receiver, client = receivers[row.store_id]
            if not has_receiver:
                row.store_notified = True  # no receiver of its own: nothing to send
            elif client is not None and _post(client, row):
                row.store_notified = True
                sent += 1
    return sent
