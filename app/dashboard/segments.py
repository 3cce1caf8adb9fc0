"""Segment list, editor with live preview, disable: thin views over the segment services."""

from __future__ import annotations

from flask import jsonify, redirect, render_template, request, url_for

from app.auth import visible_store
from app.dashboard import bp, principal
from app.db import utcnow
from app.db_access import db
from app.errors import ServiceError
from app.profiles.fields import PROFILE_FIELDS
from app.segments.rules import MAX_RULE_CHARS
from app.services import segments as service
from app.store_reports import live_segment_sizes

PREVIEW_SAMPLE = 5
MAX_NAME_CHARS = 255
MAX_KEY_CHARS = 64


@bp.get("/stores/<int:store_id>/segments")
def segment_list(store_id: int):
    """Every segment of the store with its live size."""
    with db().session() as session:
        store = visible_store(session, principal(), store_id)
        segments = service.list_segments(session, store)
        sizes = live_segment_sizes(session, store_id)
    rows = [{**s, "tag": f"{store.tag_prefix}{s['key']}", "size": sizes.get(s["key"], 0)}
            for s in segments]
    return render_template("segments.html", store=store, segments=rows,
                           message=request.args.get("saved") and "Segment saved. It applies "
                           "to each customer's next order and to everyone at the next rescore.")


def _form() -> dict[str, str]:
    return {"key": request.form.get("key", "")[:MAX_KEY_CHARS].strip(),
            "name": request.form.get("name", "")[:MAX_NAME_CHARS].strip(),
            "rule": request.form.get("rule", "")[:MAX_RULE_CHARS + 1]}


def _editor(store, segment, form, error=None, status=200):
    return render_template("segment_form.html", store=store, segment=segment, form=form,
                           error=error, fields=sorted(PROFILE_FIELDS.items()),
                           max_rule_chars=MAX_RULE_CHARS), status


@bp.route("/stores/<int:store_id>/segments/new", methods=["GET", "POST"])
def segment_new(store_id: int):
    """The editor for a new rule segment; saving checks the rule again."""
    with db().session() as session:
        store = visible_store(session, principal(), store_id)
        if request.method == "GET":
            return _editor(store, None, {"key": "", "name": "", "rule": ""})
        form = _form()
        try:
            service.create_segment(session, store, key=form["key"],
                                   name=form["name"] or form["key"], rule_text=form["rule"])
        except ServiceError as exc:
            session.rollback()
            return _editor(store, None, form, exc.message, exc.status)
    return redirect(url_for("dashboard.segment_list", store_id=store_id, saved=1))


@bp.route("/stores/<int:store_id>/segments/<key>/edit", methods=["GET", "POST"])
def segment_edit(store_id: int, key: str):
    """The editor for an existing rule segment."""
    with db().session() as session:
        store = visible_store(session, principal(), store_id)
        segment = service.get_segment(session, store, key[:MAX_KEY_CHARS])
        if request.method == "GET":
            return _editor(store, segment, {"key": segment["key"], "name": segment["name"],
                                            "rule": segment["rule_text"] or ""})
        form = _form()
        try:
            service.update_segment(session, store, segment["key"],
                                   name=form["name"] or segment["name"], rule_text=form["rule"])
        except ServiceError as exc:
            session.rollback()
            return _editor(store, segment, form, exc.message, exc.status)
    return redirect(url_for("dashboard.segment_list", store_id=store_id, saved=1))


@bp.post("/stores/<int:store_id>/segments/<key>/disable")
def segment_disable(store_id: int, key: str):
    """Switch a segment off (its tags leave customers at the next refresh)."""
    with db().session() as session:
        store = visible_store(session, principal(), store_id)
        service.disable_segment(session, store, key[:MAX_KEY_CHARS])
    return redirect(url_for("dashboard.segment_list", store_id=store_id))


@bp.post("/stores/<int:store_id>/segments/preview")
def segment_preview(store_id: int):
    """JSON for the editor: count, share and a sample, or the rule error with its position."""
    body = request.get_json(silent=True)
    rule = body.get("rule") if isinstance(body, dict) else None
    if not isinstance(rule, str):
        return jsonify({"error": {"reason": "bad_request",
                                  "message": "send {\"rule\": \"...\"} as JSON"}}), 400
    with db().session() as session:
        store = visible_store(session, principal(), store_id)
        try:
            result = service.preview_segment(session, store, rule, utcnow(),
                                             sample_size=PREVIEW_SAMPLE)
        except ServiceError as exc:
            error = {"reason": exc.reason, "message": exc.message}
            if exc.detail is not None:
                error["detail"] = exc.detail
            return jsonify({"error": error}), exc.status
    result["sample"] = [
        {"label": c["label"],
         "url": url_for("dashboard.customer_page", store_id=store_id, customer_id=c["id"])}
        for c in result["sample"]]
    return jsonify(result)
