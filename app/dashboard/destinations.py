"""Destinations: sync health, recent failures, the dry-run diff, and switching to live."""

from __future__ import annotations

from flask import redirect, render_template, request, url_for

from app.auth import visible_store
from app.dashboard import bp, principal
from app.db_access import db
from app.services import destinations as service

DIFF_SAMPLE = 50


@bp.get("/stores/<int:store_id>/destinations")
def destination_list(store_id: int):
    """Every destination with its health; dry-run ones with what going live would change."""
    with db().session() as session:
        store = visible_store(session, principal(), store_id)
        rows = service.destination_status(session, store)
        for row in rows:
            row["diff"] = (service.dry_run_diff(session, store, row["id"], limit=DIFF_SAMPLE)
                           if row["mode"] == "dry_run" else None)
    return render_template("destinations.html", store=store, destinations=rows,
                           message=request.args.get("live") and "The destination is live: "
                           "the next sync writes the changes above.")


@bp.post("/stores/<int:store_id>/destinations/<int:destination_id>/live")
def destination_go_live(store_id: int, destination_id: int):
    """Switch a dry-run destination to live after the merchant confirmed the diff."""
    if request.form.get("confirm") != "yes":
        return redirect(url_for("dashboard.destination_list", store_id=store_id))
    with db().session() as session:
        store = visible_store(session, principal(), store_id)
        service.set_destination_mode(session, store, destination_id, "live")
    return redirect(url_for("dashboard.destination_list", store_id=store_id, live=1))
