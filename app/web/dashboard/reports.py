"""Overview, RFM heat map and cohort retention: read what rescore precomputed, draw it."""

from __future__ import annotations

from flask import render_template, request
from sqlalchemy import func, select

from app.core.profiles.reports import SMALL_COHORT_CUSTOMERS, is_small, rate
from app.core.profiles.rfm import RFM_GROUPS
from app.core.segments.catalogue import CATALOGUE, FAMILIES
from app.scoring.reports import load_report, segment_trend
from app.services import segments as segment_admin
from app.storage.db import db, utcnow
from app.storage.models import Customer
from app.web.dashboard import bp, current_store, principal
from app.web.dashboard.charts import heat_style, mix_bars, sparkline_points

RFM_MEASURES = {"count": "Customers", "mean_monetary": "Mean net spend", "mean_m": "Mean M score"}
TRACKING_WIDTH, TRACKING_HEIGHT = 480, 160
MOVES_LISTED = 12  # the movement page lists the largest moves in words (what fits a phone)
OVERVIEW_FAMILIES = {**{key: title.split(" — ")[0] for key, title in FAMILIES.items()},
                     "rule": "Your rule segments"}
FAMILY_SCOPE = {  # what the shares of a family add up to
    "rfm": "Every customer is in at most one RFM group: these shares add up to 100% at most.",
    "lifecycle": "Every customer is in at most one stage: these shares add up to 100% at most.",
    "prediction": "Several questions at once (churn risk, value tier, next order): a customer "
                  "carries one answer to each, so shares overlap across questions.",
    "habit": "Independent habits: a customer may have several, or none.",
    "rule": "Your own rules; they may overlap each other and the built-in families.",
}
CATALOGUE_FAMILY = {entry.key: entry.family for entry in CATALOGUE}


@bp.get("/stores/<int:store_id>/")
def overview(store_id: int):
    """Customers, the RFM group mix, and each family's segments: size, share and trend."""
    store = current_store(store_id)
    segments = segment_admin.list_segments(db(), principal(), store_id)
    with db().session() as session:
        customers = session.execute(select(func.count()).select_from(Customer).where(
            Customer.store_id == store_id, Customer.deleted_at.is_(None))).scalar_one()
        trend = segment_trend(session, store_id, utcnow().date())
    families = []
    for family, title in OVERVIEW_FAMILIES.items():
        rows = [_row(segment, customers, trend) for segment in segments
                if segment["members"] and _family(segment) == family]
        rows.sort(key=lambda r: (-r["members"], r["key"]))
        families.append({"key": family, "title": title, "note": FAMILY_SCOPE[family],
                         "rows": rows})
    sizes = {s["key"]: s["members"] for s in segments}
    grouped = sum(sizes.get(g, 0) for g in RFM_GROUPS)
    mix = mix_bars([(g, sizes.get(g, 0)) for g in RFM_GROUPS], grouped)
    return render_template("overview.html", store=store, customers=customers,
                           families=families, mix=mix, grouped=grouped,
                           mix_small=is_small(grouped), small_below=SMALL_COHORT_CUSTOMERS,
                           share_small=is_small(customers), trend_days=trend["days"],
                           in_use=sum(len(f["rows"]) for f in families))


def _family(segment: dict) -> str:
    """The overview section of a segment: its catalogue family, or ``rule`` for the merchant's."""
    if segment["kind"] == "rule":
        return "rule"
    return CATALOGUE_FAMILY.get(segment["key"], "habit")  # category-* is a habit


def _row(segment: dict, customers: int, trend: dict) -> dict:
    history = _history(trend, segment["key"])
    return {**segment, **rate(segment["members"], customers),
            "history": history,
            "history_label": ", ".join("–" if v is None else str(v) for v in history),
            "small_segment": is_small(max((v or 0 for v in history), default=0)),
            "points": sparkline_points(history)}


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
        # A mean over a handful of customers is not coloured as if it said something.
        values = [[v if measure == "count" or not is_small(n) else None
                   for v, n in zip(row, counts, strict=True)]
                  for row, counts in zip(grid[measure], grid["count"], strict=True)]
        top = max((v for row in values for v in row if v is not None), default=None)
        for r_index, r in enumerate(grid["r_scores"]):
            cells.append([{"r": r, "f": f, "count": grid["count"][r_index][f_index],
                           "mean_monetary": grid["mean_monetary"][r_index][f_index],
                           "mean_m": grid["mean_m"][r_index][f_index],
                           "small": is_small(grid["count"][r_index][f_index]),
                           "style": heat_style(values[r_index][f_index], top)}
                          for f_index, f in enumerate(grid["f_scores"])])
    return render_template("rfm.html", store=store, grid=grid, cells=cells, measure=measure,
                           measures=RFM_MEASURES, small_below=SMALL_COHORT_CUSTOMERS,
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
        # A cohort of a few customers swings 0–100%: shown, but never coloured as a trend.
        large = [c for c in data["cohorts"] if not is_small(c["customers"])]
        top = max((s for c in large for s in c["retention"] if s is not None), default=None)
        rows = [{**cohort, "small": is_small(cohort["customers"]),
                 "cells": [{"share": share, "style": "" if is_small(cohort["customers"])
                            else heat_style(share, top)} for share in cohort["retention"]]}
                for cohort in data["cohorts"]]
    return render_template("cohorts.html", store=store, data=data, rows=rows,
                           small_below=SMALL_COHORT_CUSTOMERS,
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


@bp.get("/stores/<int:store_id>/rfm/movement")
def rfm_movement(store_id: int):
    """How many customers moved from each RFM group to each other one at the last rescore."""
    store = current_store(store_id)
    with db().session() as session:
        report = load_report(session, store_id, "rfm_movement")
    data = report.data if report and report.data.get("since") else None
    rows, moves = [], []
    if data:
        groups, counts = data["groups"], data["count"]
        top = max((n for i, row in enumerate(counts) for j, n in enumerate(row)
                   if i != j and not is_small(sum(row))), default=0)
        for i, source in enumerate(groups):
            total = sum(counts[i])
            if not total:
                continue
            small = is_small(total)  # its moves are a few people: counted, not coloured
            rows.append({"group": source, "total": total, "small": small,
                         "cells": [{"to": target, "count": n, "stay": i == j,
                                    "style": "" if i == j or small else heat_style(n, top)}
                                   for j, (target, n) in enumerate(zip(groups, counts[i],
                                                                       strict=True))]})
            moves += [{"from": source, "to": target, "count": n, "of": total,
                       "small": is_small(total)}
                      for target, n in zip(groups, counts[i], strict=True)
                      if n and target != source]
        moves.sort(key=lambda m: (-m["count"], m["from"], m["to"]))
    return render_template("rfm_movement.html", store=store, data=data, rows=rows,
                           moves=moves[:MOVES_LISTED], small_below=SMALL_COHORT_CUSTOMERS,
                           first_rescore=report is not None and data is None)
