"""Overview, RFM heat map and cohort retention: read what rescore precomputed, draw it."""

from __future__ import annotations

from flask import render_template, request
from sqlalchemy import func, select

from app.scoring.reports import load_report, segment_trend
from app.services import segments as segment_admin
from app.storage.db import db, utcnow
from app.storage.models import Customer
from app.web.dashboard import bp, current_store, principal
from app.web.dashboard.charts import heat_style, sparkline_points

RFM_MEASURES = {"count": "Customers", "mean_monetary": "Mean net spend", "mean_m": "Mean M score"}
TRACKING_WIDTH, TRACKING_HEIGHT = 480, 160


@bp.get("/stores/<int:store_id>/")
def overview(store_id: int):
    """Customers, segment sizes now, and each segment's size over the last 30 days."""
    store = current_store(store_id)
    segments = segment_admin.list_segments(db(), principal(), store_id)
    with db().session() as session:
        customers = session.execute(select(func.count()).select_from(Customer).where(
            Customer.store_id == store_id, Customer.deleted_at.is_(None))).scalar_one()
        trend = segment_trend(session, store_id, utcnow().date())
    rows = []
    for segment in sorted(segments, key=lambda s: (-s["members"], s["key"])):
        if not segment["members"]:
            continue
        history = _history(trend, segment["key"])
        rows.append({**segment, "share": segment["members"] / customers if customers else 0.0,
                     "history": history,
                     "history_label": ", ".join("–" if v is None else str(v) for v in history),
                     "points": sparkline_points(history)})
    return render_template("overview.html", store=store, customers=customers, rows=rows,
                           trend_days=trend["days"])


def _history(trend: dict, key: str) -> list[int | None]:
    """A segment's daily sizes; ``category-*`` adds up every category segment."""
    if key != segment_admin.CATEGORY_KEYS:
        return trend["series"].get(key, [])
    parts = [v for k, v in trend["series"].items() if k.startswith(segment_admin.CATEGORY_PREFIX)]
    return [sum(d or 0 for d in day) for day in zip(*parts, strict=True)] if parts else []


@bp.get("/stores/<int:store_id>/rfm")
def rfm(store_id: int):
    """The R × F grid, coloured by customer count, mean spend or mean M score."""
    measure = request.args.get("by", "count")
    if measure not in RFM_MEASURES:
        measure = "count"
    store = current_store(store_id)
    with db().session() as session:
        report = load_report(session, store_id, "rfm_grid")
    grid = report.data if report else None
    cells = []
    if grid:
        values = grid[measure]
        top = max((v for row in values for v in row if v is not None), default=None)
        for r_index, r in enumerate(grid["r_scores"]):
            cells.append([{"r": r, "f": f, "count": grid["count"][r_index][f_index],
                           "mean_monetary": grid["mean_monetary"][r_index][f_index],
                           "mean_m": grid["mean_m"][r_index][f_index],
                           "style": heat_style(values[r_index][f_index], top)}
                          for f_index, f in enumerate(grid["f_scores"])])
    return render_template("rfm.html", store=store, grid=grid, cells=cells, measure=measure,
                           measures=RFM_MEASURES,
                           computed_at=report.computed_at if report else None)


@bp.get("/stores/<int:store_id>/cohorts")
def cohorts(store_id: int):
    """Retention by first-order month as a table heat map."""
    store = current_store(store_id)
    with db().session() as session:
        report = load_report(session, store_id, "cohort_retention")
    data = report.data if report else None
    rows = []
    if data:
        top = max((s for c in data["cohorts"] for s in c["retention"] if s is not None),
                  default=None)
        rows = [{**cohort, "cells": [{"share": share, "style": heat_style(share, top)}
                                     for share in cohort["retention"]]}
                for cohort in data["cohorts"]]
    return render_template("cohorts.html", store=store, data=data, rows=rows,
                           computed_at=report.computed_at if report else None)


@bp.get("/stores/<int:store_id>/model")
def model_check(store_id: int):
    """The prediction model: how the fit went, and its holdout check on the store's history."""
    store = current_store(store_id)
    stored = store.prediction_model or {}
    model = stored.get("model") or {}
    validation = model.get("validation")
    lines = {}
    if validation and len(validation["tracking"]) >= 2:
        series = {name: [row[name] for row in validation["tracking"]]
                  for name in ("predicted", "actual")}
        top = max(max(series["predicted"]), max(series["actual"]), 1)
        lines = {name: sparkline_points(values, TRACKING_WIDTH, TRACKING_HEIGHT, low=0.0,
                                        high=top)
                 for name, values in series.items()}
    return render_template("model.html", store=store, stored=stored, model=model,
                           validation=validation, lines=lines, width=TRACKING_WIDTH,
                           height=TRACKING_HEIGHT)
