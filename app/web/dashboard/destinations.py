"""Destinations: sync health, recent failures, the dry-run diff, and switching to live."""

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
