"""Overview, RFM heat map and cohort retention: read what rescore precomputed, draw it."""

from __future__ import annotations

from flask import render_template, request
from sqlalchemy import func, select

from app.auth import visible_store
from app.dashboard import bp, principal
from app.dashboard.charts import heat_style, sparkline_points
from app.db import utcnow
from app.db_access import db
from app.models import Customer
from app.store_reports import live_segment_sizes, load_report, segment_trend

RFM_MEASURES = {"count": "Customers", "mean_monetary": "Mean net spend", "mean_m": "Mean M score"}


@bp.get("/stores/<int:store_id>/")
def overview(store_id: int):
    """Customers, segment sizes now, and each segment's size over the last 30 days."""
    with db().session() as session:
        store = visible_store(session, principal(), store_id)
        customers = session.execute(select(func.count()).select_from(Customer).where(
            Customer.store_id == store_id, Customer.deleted_at.is_(None))).scalar_one()
        sizes = live_segment_sizes(session, store_id)
        trend = segment_trend(session, store_id, utcnow().date())
    rows = []
    for key, size in sizes.items():
        history = trend["series"].get(key, [])
        rows.append({"key": key, "tag": f"{store.tag_prefix}{key}", "size": size,
                     "share": size / customers if customers else 0.0, "history": history,
                     "history_label": ", ".join("–" if v is None else str(v) for v in history),
                     "points": sparkline_points(history)})
    return render_template("overview.html", store=store, customers=customers, rows=rows,
                           trend_days=trend["days"])


@bp.get("/stores/<int:store_id>/rfm")
def rfm(store_id: int):
    """The R × F grid, coloured by customer count, mean spend or mean M score."""
    measure = request.args.get("by", "count")
    if measure not in RFM_MEASURES:
        measure = "count"
    with db().session() as session:
        store = visible_store(session, principal(), store_id)
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
                           measures=RFM_MEASURES, computed_at=report.computed_at if report else None)


@bp.get("/stores/<int:store_id>/cohorts")
def cohorts(store_id: int):
    """Retention by first-order month as a table heat map."""
    with db().session() as session:
        store = visible_store(session, principal(), store_id)
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
