"""Stores, their destinations and their inbox."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import current_app, jsonify, request
from sqlalchemy import select

from app.services import destinations as destination_view
from app.services import serialise
from app.services.auth import visible_stores
from app.services.stores import set_alert_url
from app.storage.db import db
from app.storage.models import BackfillJob, InboxEvent
from app.web.api import bp, current_principal
from app.web.api.body import json_body, page_args
from app.web.api.lookup import get_store
from app.web.errors import ApiError

INBOX_PAGE = 100
INBOX_STATUSES = {"pending", "done", "ignored", "parked"}


@bp.get("/stores")
def list_stores():
    """The stores the caller may see."""
    with db().session() as session:
        rows = visible_stores(session, current_principal())
        return jsonify({"stores": [serialise.store(s) for s in rows]})


@bp.get("/stores/<int:store_id>")
def show_store(store_id: int):
    """One store."""
    with db().session() as session:
        return jsonify(serialise.store(get_store(session, store_id)))


@bp.get("/stores/<int:store_id>/destinations")
def list_destinations(store_id: int):
    """Each destination with its state and its most recent failed attempts."""
    return jsonify({"destinations": destination_view.list_destinations(
        db(), current_principal(), store_id)})


@bp.get("/stores/<int:store_id>/destinations/<int:destination_id>/diff")
def destination_diff(store_id: int, destination_id: int):
    """What a sync would add and remove per customer now, paged; nothing is sent."""
    page, per_page = page_args()
    return jsonify(destination_view.destination_diff(db(), current_principal(), store_id,
                                                     destination_id, page, per_page))


@bp.get("/stores/<int:store_id>/inbox")
def list_inbox(store_id: int):
    """Inbox events of a store, newest first; ``?status=parked`` shows what needs a replay."""
    status = request.args.get("status", "parked")
    if status not in INBOX_STATUSES:
        raise ApiError(400, "bad_status", f"status must be one of {sorted(INBOX_STATUSES)}")
    with db().session() as session:
        get_store(session, store_id)
        rows = session.execute(select(InboxEvent).filter_by(store_id=store_id, status=status)
                               .order_by(InboxEvent.id.desc()).limit(INBOX_PAGE)).scalars()
        return jsonify({"events": [serialise.inbox_event(e) for e in rows]})


# How the fit went (prior share, convergence, time budget, churn cut-offs, spend checks, holdout)
# and the store's next-year totals with their intervals.
MODEL_REPORT_FIELDS = ("prior_weight", "converged", "timed_out", "fit_seconds",
                       "fit_budget_seconds", "churn_cutoffs", "spend_checks", "validation",
                       "totals")


@bp.get("/stores/<int:store_id>/model")
def show_model(store_id: int):
    """The fitted prediction model: name, parameters, time unit, likelihood, basis."""
    with db().session() as session:
        store = get_store(session, store_id)
        stored = store.prediction_model
        if not stored:
            raise ApiError(404, "model_not_fitted",
                           f"store {store_id} has not been rescored yet (tagwise rescore)")
        model = stored["model"]
        return jsonify({
            "model": model.get("name"), "params": model.get("params"),
            "time_unit_days": model.get("unit_days"),
            "log_likelihood": model.get("log_likelihood"),
            "n_customers": model.get("n_customers"), "basis": model.get("basis"),
            "reason": model.get("reason"), "spend_params": model.get("spend_params"),
            "spend_basis": model.get("spend_basis"), "candidates": model.get("candidates"),
            "value_cutoffs": stored.get("value_cutoffs"), "fitted_at": stored.get("fitted_at"),
            "as_of": stored.get("as_of"),
            **{key: model.get(key) for key in MODEL_REPORT_FIELDS},
        })


@bp.get("/stores/<int:store_id>/backfill")
def show_backfill(store_id: int):
    """The store's latest history import: status, phase, lines read of the result, counts."""
    with db().session() as session:
        get_store(session, store_id)
        job = session.execute(select(BackfillJob).filter_by(store_id=store_id)
                              .order_by(BackfillJob.id.desc()).limit(1)).scalar()
        if job is None:
            raise ApiError(404, "no_backfill", f"store {store_id} has no backfill yet "
                                               "(tagwise backfill)")
        return jsonify(serialise.backfill_job(job))


@bp.get("/stores/<int:store_id>/destinations/<int:destination_id>/runs")
def list_sync_runs(store_id: int, destination_id: int):
    """The destination's sync runs, newest first, with how many failures await a replay."""
    page, per_page = page_args()
    return jsonify(destination_view.list_runs(db(), current_principal(), store_id,
                                              destination_id, page, per_page))


@bp.get("/stores/<int:store_id>/destinations/<int:destination_id>/runs/<int:run_id>")
def show_sync_run(store_id: int, destination_id: int, run_id: int):
    """One sync run with its per-customer failures (paged) and, when held, its diff summary."""
    page, per_page = page_args()
    return jsonify(destination_view.show_run(db(), current_principal(), store_id,
                                             destination_id, run_id, page, per_page))


@bp.post("/stores/<int:store_id>/destinations/<int:destination_id>/retry-failed")
def retry_failed_customers(store_id: int, destination_id: int):
    """Queue a replay of the failed customers (``since`` a time), re-diffed when it runs."""
    body = json_body("RetryFailedRequest")
    since = None
    if "since" in body:
        try:
            since = datetime.fromisoformat(body["since"])
        except ValueError as exc:
            raise ApiError(400, "invalid_since", "since must be an ISO 8601 date-time") from exc
        since = since if since.tzinfo else since.replace(tzinfo=UTC)
    return jsonify(destination_view.queue_retry(db(), current_principal(), store_id,
                                                destination_id, since)), 202


@bp.post("/stores/<int:store_id>/destinations/<int:destination_id>/runs/<int:run_id>/confirm")
def confirm_held_run(store_id: int, destination_id: int, run_id: int):
    """Let a held sync through: the pass that applies it is queued (409 if not held)."""
    return jsonify(destination_view.decide_hold(db(), current_principal(), store_id,
                                                destination_id, run_id, confirm=True))


@bp.post("/stores/<int:store_id>/destinations/<int:destination_id>/runs/<int:run_id>/reject")
def reject_held_run(store_id: int, destination_id: int, run_id: int):
    """Refuse a held sync: the destination goes back to dry run (409 if not held)."""
    return jsonify(destination_view.decide_hold(db(), current_principal(), store_id,
                                                destination_id, run_id, confirm=False))


@bp.put("/stores/<int:store_id>/alert-url")
def set_store_alert_url(store_id: int):
    """Give the store its own alert receiver (stored encrypted, never shown back)."""
    url = json_body("StoreAlertUrlRequest")["url"]
    with db().session() as session:
        store = get_store(session, store_id)
        set_alert_url(store, url, current_app.extensions["secret_box"],
                      allow_private=current_app.config["TAGWISE_ALLOW_PRIVATE_URLS"])
        return jsonify({"store_id": store.id, "alert_url_set": True})


@bp.delete("/stores/<int:store_id>/alert-url")
def clear_store_alert_url(store_id: int):
    """Remove the store's own alert receiver (the deployment's, if any, still hears)."""
    with db().session() as session:
        store = get_store(session, store_id)
        set_alert_url(store, None, current_app.extensions["secret_box"], allow_private=False)
        return jsonify({"store_id": store.id, "alert_url_set": False})
