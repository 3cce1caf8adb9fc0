"""Destinations: sync health, recent failures, the dry-run diff, switching to live, sync runs
with their failures, replaying failures, and deciding on held syncs."""

from __future__ import annotations

import logging

from flask import redirect, render_template, request, url_for
from sqlalchemy import select

from app.services import destinations as destination_view
from app.services.auth import visible_store
from app.services.errors import NotFound
from app.storage.db import db
from app.storage.models import Destination
from app.web.dashboard import bp, current_store, principal

log = logging.getLogger(__name__)
DIFF_SAMPLE = 50
WENT_LIVE = "The destination is live: the next sync writes the changes it showed."
RUNS_PAGE = 50
FAILURES_PAGE = 200
RUN_MESSAGES = {
    "replay": "Replay queued: the failed customers are re-diffed and written in a moment.",
    "nothing": "No failed customers await a replay.",
    "confirm": "Confirmed: the held changes are being written now.",
    "reject": "Rejected: the destination is back in dry run; review its diff before going live.",
}


@bp.get("/stores/<int:store_id>/destinations")
def destination_list(store_id: int):
    """Every destination with its mode, health and recent failed requests."""
    store = current_store(store_id)
    rows = destination_view.list_destinations(db(), principal(), store_id)
    return render_template("destinations.html", store=store, destinations=rows,
                           message=WENT_LIVE if request.args.get("live") else None)


@bp.get("/stores/<int:store_id>/destinations/<int:destination_id>/diff")
def destination_diff(store_id: int, destination_id: int):
    """What going live would send now (computed on request: its own page, not the list's)."""
    store = current_store(store_id)
    diff = destination_view.destination_diff(db(), principal(), store_id, destination_id,
                                             per_page=DIFF_SAMPLE)
    return render_template("destination_diff.html", store=store, diff=diff,
                           destination=diff["destination"])


@bp.post("/stores/<int:store_id>/destinations/<int:destination_id>/live")
def destination_go_live(store_id: int, destination_id: int):
    """Switch a dry-run destination to live once the merchant ticked that they saw the diff."""
    if request.form.get("confirm") != "yes":
        return redirect(url_for("dashboard.destination_diff", store_id=store_id,
                                destination_id=destination_id))
    with db().session() as session:
        visible_store(session, principal(), store_id)
        destination = session.execute(select(Destination).filter_by(
            id=destination_id, store_id=store_id)).scalar()
        if destination is None:
            raise NotFound("destination_not_found", f"no destination {destination_id}")
        destination.mode = "live"
    log.info("destination %s of store %s switched to live by %s", destination_id, store_id,
             principal().name)
    return redirect(url_for("dashboard.destination_list", store_id=store_id, live=1))


@bp.get("/stores/<int:store_id>/destinations/<int:destination_id>/runs")
def destination_runs(store_id: int, destination_id: int):
    """The destination's sync runs, held ones first to decide, and the replay button."""
    store = current_store(store_id)
    page = destination_view.list_runs(db(), principal(), store_id, destination_id,
                                      per_page=RUNS_PAGE)
    return render_template("destination_runs.html", store=store, page=page,
                           destination=page["destination"],
                           message=RUN_MESSAGES.get(request.args.get("done", "")))


@bp.get("/stores/<int:store_id>/destinations/<int:destination_id>/runs/<int:run_id>")
def sync_run_page(store_id: int, destination_id: int, run_id: int):
    """One run: its counts, its per-customer failures and, when held, what it would change."""
    store = current_store(store_id)
    run = destination_view.show_run(db(), principal(), store_id, destination_id, run_id,
                                    per_page=FAILURES_PAGE)
    return render_template("sync_run.html", store=store, run=run, destination_id=destination_id)


@bp.post("/stores/<int:store_id>/destinations/<int:destination_id>/retry-failed")
def destination_retry_failed(store_id: int, destination_id: int):
    """Queue the replay of the destination's failed customers."""
    queued = destination_view.queue_retry(db(), principal(), store_id, destination_id, None)
    return redirect(url_for("dashboard.destination_runs", store_id=store_id,
                            destination_id=destination_id,
                            done="replay" if queued["queued"] else "nothing"))


@bp.post("/stores/<int:store_id>/destinations/<int:destination_id>/runs/<int:run_id>/decide")
def decide_held_run(store_id: int, destination_id: int, run_id: int):
    """Confirm or reject a held sync (the form's ``decision``)."""
    decision = request.form.get("decision")
    if decision not in ("confirm", "reject"):
        return redirect(url_for("dashboard.sync_run_page", store_id=store_id,
                                destination_id=destination_id, run_id=run_id))
    destination_view.decide_hold(db(), principal(), store_id, destination_id, run_id,
                                 confirm=decision == "confirm")
    return redirect(url_for("dashboard.destination_runs", store_id=store_id,
                            destination_id=destination_id, done=decision))
