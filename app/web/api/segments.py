"""Segments: list, create, change, disable, and preview a rule before saving it."""

from __future__ import annotations

from flask import jsonify

from app.services import segments as segment_admin
from app.storage.db import db
from app.web.api import bp, current_principal
from app.web.api.body import json_body


@bp.get("/stores/<int:store_id>/segments")
def list_segments(store_id: int):
    """Built-in and rule segments with their current member counts."""
    return jsonify({"segments": segment_admin.list_segments(db(), current_principal(),
                                                            store_id)})


@bp.post("/stores/<int:store_id>/segments")
def create_segment(store_id: int):
    """Create a rule segment; 422 names the position and reason of a bad rule."""
    body = json_body("SegmentCreate")
    created = segment_admin.create_segment(db(), current_principal(), store_id, **body)
    return jsonify(created), 201


@bp.post("/stores/<int:store_id>/segments/preview")
def preview_segment(store_id: int):
    """Count, share and a sample (with reasons) of the customers a rule selects now."""
    body = json_body("PreviewRequest")
    return jsonify(segment_admin.preview_rule(db(), current_principal(), store_id,
                                              body["rule"],
                                              body.get("sample_size",
                                                       segment_admin.DEFAULT_SAMPLE_SIZE)))


@bp.get("/stores/<int:store_id>/segments/<key>")
def show_segment(store_id: int, key: str):
    """One segment by key."""
    return jsonify(segment_admin.get_segment(db(), current_principal(), store_id, key))


@bp.patch("/stores/<int:store_id>/segments/<key>")
def update_segment(store_id: int, key: str):
    """Change name, rule, enabled or holdout (a built-in: only enabled)."""
    changes = json_body("SegmentUpdate")
    return jsonify(segment_admin.update_segment(db(), current_principal(), store_id, key,
                                                changes))


@bp.delete("/stores/<int:store_id>/segments/<key>")
def disable_segment(store_id: int, key: str):
    """Disable a segment: its tag leaves every member; the rule and history stay."""
    return jsonify(segment_admin.disable_segment(db(), current_principal(), store_id, key))
