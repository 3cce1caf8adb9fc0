"""Holdout validation of a store's model on its own history: would it have predicted last quarter?

The store's history is cut at ``as_of - holdout_share * (as_of - first order)``: the model is fitted
(``fit_store``, same prior and budget as a rescore) on the orders before the cut, and its expected
repeat orders over the rest are compared with what the same customers actually did, by how many
repeat purchases they had made before the cut (the calibration table of Fader, Hardie & Lee 2005)
and as a cumulative weekly tracking series. Customers whose first order falls after the cut are
not part of it (the model says nothing about people it has not met).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from app.core.predict.model import MODELS, fit_store
from app.core.predict.summaries import calendar_days, summarise_orders

HOLDOUT_SHARE = 0.25
MIN_HOLDOUT_DAYS = 7  # a quarter of at least four weeks of history
FREQUENCY_CAP = 7  # rows 0..6 and "7+" repeat purchases before the cut
TRACKING_STEP_DAYS = 7


def holdout_report(
    customer_ids: ArrayLike,
    order_times: ArrayLike,
    as_of: object,
    *,
    holdout_share: float = HOLDOUT_SHARE,
    unit_days: float = 7.0,
) -> dict[str, Any] | None:
    """Return the holdout calibration report, or None when the history is too short to cut.

    Keys: ``calibration_end`` and ``as_of`` (ISO days), ``holdout_days``, ``customers``,
    ``model``, ``predicted_repeat_orders`` and ``actual_repeat_orders`` (totals),
    ``by_frequency`` (rows: ``repeat_purchases_before`` ("7+" for the last), ``customers``,
    ``predicted`` and ``actual`` mean repeat orders in the holdout), and ``tracking`` (rows:
    ``day`` after the cut, cumulative ``predicted`` and ``actual`` repeat orders).
    """
    if np.size(order_times) == 0:
        return None
    days = calendar_days(order_times)
    end = calendar_days([as_of])[0]
    days_to_end = days[days <= end]
    if days_to_end.size == 0:
        return None
    start = days_to_end.min()
    holdout_days = int(np.floor((end - start).astype(int) * holdout_share))
    if holdout_days < MIN_HOLDOUT_DAYS:
        return None
    cut = end - np.timedelta64(holdout_days, "D")
    ids = np.asarray(customer_ids)
    calibration = summarise_orders(ids, days, cut, unit_days=unit_days)
    if calibration.empty:
        return None
    model = fit_store(calibration)
    actual = _holdout_purchase_days(ids, days, cut, end, calibration.index)
    module = MODELS[model.name]
    x, t_x, T = (calibration[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T"))
    steps = np.unique(np.append(np.arange(TRACKING_STEP_DAYS, holdout_days,
                                          TRACKING_STEP_DAYS), holdout_days))
    alive = module.p_alive(model.params, x, t_x, T)
    # The expectation if alive depends on (x, T) only: computed once per distinct pair (tens of
    # thousands even for a million customers), so the customers x steps matrix never exists.
    pairs, pair_of = np.unique(np.column_stack([x, T]), axis=0, return_inverse=True)
    pair_of = pair_of.ravel()
    if_alive = module.expected_purchases_if_alive(
        model.params, steps[None, :] / unit_days, pairs[:, :1], pairs[:, 1:])
    predicted = if_alive[pair_of, -1] * alive
    alive_per_pair = np.bincount(pair_of, weights=alive, minlength=len(pairs))
    predicted_by_step = if_alive * alive_per_pair[:, None]
    return {
        "calibration_end": str(cut), "as_of": str(end), "holdout_days": holdout_days,
        "customers": int(len(calibration)), "model": model.name,
        "predicted_repeat_orders": round(float(predicted.sum()), 2),
        "actual_repeat_orders": int(actual["total"].sum()),
        "by_frequency": _by_frequency(x, predicted, actual["total"].to_numpy()),
        "tracking": _tracking(steps, predicted_by_step.sum(axis=0), actual["days"], cut),
    }


def _holdout_purchase_days(ids: np.ndarray, days: np.ndarray, cut: np.datetime64,
                           end: np.datetime64, customers: pd.Index) -> dict[str, Any]:
    """Return the count of each calibrated customer's purchase days after the cut, and the days."""
    after = (days > cut) & (days <= end) & np.isin(ids, customers)
    distinct = pd.DataFrame({"customer_id": ids[after], "day": days[after]}).drop_duplicates()
    total = distinct.groupby("customer_id").size().reindex(customers, fill_value=0)
    return {"total": total, "days": distinct["day"].to_numpy().astype("datetime64[D]")}


def _by_frequency(x: np.ndarray, predicted: np.ndarray, actual: np.ndarray) -> list[dict]:
    """Return mean predicted and actual holdout repeat orders by repeat purchases before."""
    group = np.minimum(x, FREQUENCY_CAP).astype(int)
    rows = []
    for value in range(FREQUENCY_CAP + 1):
        members = group == value
        if not members.any():
            continue
        label = f"{FREQUENCY_CAP}+" if value == FREQUENCY_CAP else str(value)
        rows.append({"repeat_purchases_before": label, "customers": int(members.sum()),
                     "predicted": round(float(predicted[members].mean()), 3),
                     "actual": round(float(actual[members].mean()), 3)})
    return rows


def _tracking(steps: np.ndarray, predicted: np.ndarray, purchase_days: np.ndarray,
              cut: np.datetime64) -> list[dict]:
    """Return cumulative predicted and actual repeat orders at each step after the cut."""
    offsets = np.sort((purchase_days - cut).astype(int))
    actual = np.searchsorted(offsets, steps, side="right")
    return [{"day": int(step), "predicted": round(float(p), 2), "actual": int(a)}
            for step, p, a in zip(steps, predicted, actual, strict=True)]
