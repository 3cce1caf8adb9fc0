"""Segment list, editor with live preview, on/off switch: thin views over app.services.segments."""

from __future__ import annotations

from flask import abort, jsonify, redirect, render_template, request, url_for

from app.core.profiles.fields import PROFILE_FIELDS
from app.core.segments.rules import MAX_RULE_CHARS
from app.services import segments as segment_admin
from app.services.errors import ServiceError
from app.storage.db import db
from app.web.dashboard import bp, current_store, principal

PREVIEW_SAMPLE = 5
SAVED = "Segment saved. Every customer is being re-evaluated; sizes update in a moment."


@bp.get("/stores/<int:store_id>/segments")
def segment_list(store_id: int):
    """Every segment of the store with its live size."""
    store = current_store(store_id)
    # The merchant's own rules first, then the built-in catalogue.
    segments = sorted(segment_admin.list_segments(db(), principal(), store_id),
                      key=lambda s: s["kind"] != "rule")
    return render_template("segments.html", store=store, segments=segments,
                           message=SAVED if request.args.get("saved") else None)


def _form() -> dict[str, str]:
    # Over-long input is cut one past its limit so the service still refuses it by length.
    return {"key": request.form.get("key", "")[:segment_admin.KEY_MAX_CHARS + 1].strip(),
            "name": request.form.get("name", "")[:segment_admin.NAME_MAX_CHARS + 1].strip(),
            "rule": request.form.get("rule", "")[:MAX_RULE_CHARS + 1]}


def _editor(store, segment, form, error=None, status=200):
    return render_template("segment_form.html", store=store, segment=segment, form=form,
                           error=error, fields=sorted(PROFILE_FIELDS.items()),
                           max_rule_chars=MAX_RULE_CHARS), status


@bp.route("/stores/<int:store_id>/segments/new", methods=["GET", "POST"])
def segment_new(store_id: int):
    """The editor for a new rule segment; saving checks key and rule again."""
    store = current_store(store_id)
    if request.method == "GET":
        return _editor(store, None, {"key": "", "name": "", "rule": ""})
    form = _form()
    try:
        segment_admin.create_segment(db(), principal(), store_id, key=form["key"],
                                     rule=form["rule"], name=form["name"] or None)
    except ServiceError as exc:
        return _editor(store, None, form, exc.message, exc.status)
    return redirect(url_for("dashboard.segment_list", store_id=store_id, saved=1))


@bp.route("/stores/<int:store_id>/segments/<key>/edit", methods=["GET", "POST"])
def segment_edit(store_id: int, key: str):
    """The editor for an existing rule segment."""
    store = current_store(store_id)
    segment = segment_admin.get_segment(db(), principal(), store_id,
                                        key[:segment_admin.KEY_MAX_CHARS + 1])
    if segment["kind"] != "rule":
        return redirect(url_for("dashboard.segment_list", store_id=store_id))
    if request.method == "GET":
        return _editor(store, segment, {"key": segment["key"], "name": segment["name"],
                                        "rule": segment["rule"]})
    form = _form()
    try:
        segment_admin.update_segment(db(), principal(), store_id, segment["key"],
                                     {"name": form["name"] or segment["name"],
                                      "rule": form["rule"]})
    except ServiceError as exc:
        return _editor(store, segment, form, exc.message, exc.status)
    return redirect(url_for("dashboard.segment_list", store_id=store_id, saved=1))


@bp.post("/stores/<int:store_id>/segments/<key>/enabled")
def segment_switch(store_id: int, key: str):
    """Switch a segment off or back on; members gain or lose its tag at the refresh after."""
    enabled = request.form.get("enabled")
    if enabled not in ("yes", "no"):
        abort(400, "enabled must be yes or no")
    segment_admin.update_segment(db(), principal(), store_id,
                                 key[:segment_admin.KEY_MAX_CHARS + 1],
                                 {"enabled": enabled == "yes"})
    return redirect(url_for("dashboard.segment_list", store_id=store_id))


@bp.post("/stores/<int:store_id>/segments/preview")
def segment_preview(store_id: int):
    """JSON for the editor: count, share and a sample, or the rule error with its position."""
    body = request.get_json(silent=True)
    rule = body.get("rule") if isinstance(body, dict) else None
    if not isinstance(rule, str):
        return jsonify({"error": {"reason": "bad_request",
                                  "message": "send {\"rule\": \"...\"} as JSON"}}), 400
    try:
        result = segment_admin.preview_rule(db(), principal(), store_id, rule,
                                            sample_size=PREVIEW_SAMPLE)
    except ServiceError as exc:
        error = {"reason": exc.reason, "message": exc.message, "detail": exc.detail}
        return jsonify({"error": error}), exc.status
    result["sample"] = [
        {"label": f"{c['platform_customer_id'] or 'guest'}: {c['explanation']}",
         "url": url_for("dashboard.customer_page", store_id=store_id,
                        platform_customer_id=c["platform_customer_id"])
         if c["platform_customer_id"] else None}
        for c in result["sample"]]
    return jsonify(result)
