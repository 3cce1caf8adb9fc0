"""Assemble full profiles: metrics, RFM, lifecycle, predictions and segment memberships.

Pure: frames in, frames out. ``score_profiles`` is the single code path for one customer
after a webhook and for a whole store on rescore; ``fit_scoring`` is what rescore re-bins.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from app.core.predict import (
    FittedModel,
    churn_band,
    churn_cutoffs,
    fit_store,
    score,
    store_totals,
    summarise_orders,
    value_tier_cutoffs,
    value_tiers,
)
from app.core.predict.validation import holdout_report
from app.core.profiles import lifecycle, rfm
from app.core.profiles.metrics import SECONDS_PER_DAY, compute_metrics
from app.core.segments.catalogue import evaluate_builtins
from app.core.segments.rules import Rule

PREDICTION_HORIZON_DAYS = 90
MIN_BIG_BASKET_ITEMS = 3.0
BIG_BASKET_QUANTILE = 0.8


@dataclass
class StoreInputs:
    """Everything about a store's customers the profile needs, as frames."""

    customer_ids: np.ndarray
    orders: pd.DataFrame
    lines: pd.DataFrame
    customers: pd.DataFrame  # index customer_id: has_email, accepts_marketing
    timezone: str = "UTC"


@dataclass
class Scoring:
    """Store-level numbers fixed at rescore and used for every event until the next one."""

    cutoffs: rfm.RfmCutoffs = rfm.DEFAULT_CUTOFFS
    default_cadence_days: float = lifecycle.DEFAULT_STORE_CADENCE_DAYS
    big_basket_items: float = 4.0
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON form stored on the store row."""
        return {"cutoffs": self.cutoffs.to_dict(),
                "default_cadence_days": self.default_cadence_days,
                "big_basket_items": self.big_basket_items, **self.extra}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Scoring:
        """Read the stored form; defaults for a store never rescored."""
        if not data:
            return cls()
        return cls(rfm.RfmCutoffs.from_dict(data["cutoffs"]),
                   float(data["default_cadence_days"]), float(data["big_basket_items"]))


def days_between(earlier: pd.Series, as_of: pd.Timestamp) -> pd.Series:
    """Fractional days from each timestamp to ``as_of`` (NaN where missing)."""
    return (as_of - earlier).dt.total_seconds() / SECONDS_PER_DAY


def metrics_as_of(inputs: StoreInputs, as_of: pd.Timestamp) -> pd.DataFrame:
    """Behavioural metrics plus the day counts that depend on ``as_of``."""
    profiles = compute_metrics(inputs.customer_ids, inputs.orders, inputs.lines, inputs.timezone)
    profiles["days_since_first_order"] = days_between(profiles["first_order_at"], as_of)
    profiles["days_since_last_order"] = days_between(profiles["last_order_at"], as_of)
    customers = inputs.customers.reindex(profiles.index)
    profiles["has_email"] = customers["has_email"].fillna(False).astype(bool)
    profiles["accepts_marketing"] = customers["accepts_marketing"]
    return profiles


def fit_scoring(profiles: pd.DataFrame) -> Scoring:
    """Re-bin the store: RFM quintiles, default cadence and the big-basket threshold."""
    cutoffs = rfm.compute_cutoffs(profiles["days_since_last_order"], profiles["orders_count"],
                                  profiles["net_spent"])
    items = profiles["mean_items_per_order"].dropna()
    basket = float(np.quantile(items, BIG_BASKET_QUANTILE)) if len(items) else 4.0
    return Scoring(cutoffs, lifecycle.store_cadence(profiles["median_days_between_orders"]),
                   max(MIN_BIG_BASKET_ITEMS, basket))


PREDICTION_COLUMNS = ("p_alive", "p_order_90d", "expected_orders_90d", "predicted_clv_12m",
                      "days_until_next_order")


def score_profiles(profiles: pd.DataFrame, scoring: Scoring, as_of: pd.Timestamp,
                   predictions: pd.DataFrame | None = None) -> pd.DataFrame:
    """Add R/F/M, group, lifecycle and (given) predictions to metric rows, in place."""
    scores = rfm.score(profiles["days_since_last_order"], profiles["orders_count"],
                       profiles["net_spent"], scoring.cutoffs)
    for column in scores:
        profiles[column] = scores[column]
    profiles["rfm_group"] = rfm.groups(profiles["r_score"], profiles["f_score"],
                                       profiles["m_score"])
    profiles["lifecycle_stage"] = lifecycle.stages(
        profiles["orders_count"], profiles["days_since_last_order"],
        profiles["median_days_between_orders"], scoring.default_cadence_days)
    predictions = predictions if predictions is not None else pd.DataFrame(index=profiles.index)
    for column in (*PREDICTION_COLUMNS, "churn_risk", "value_tier", "prediction_basis"):
        values = predictions[column] if column in predictions else None
        profiles[column] = values.reindex(profiles.index) if values is not None else np.nan
    days = profiles["days_until_next_order"].astype(float)
    profiles["expected_next_order_at"] = (as_of + pd.to_timedelta(days, unit="D")).dt.floor("D")
    return profiles


def memberships(profiles: pd.DataFrame, scoring: Scoring, disabled: tuple[str, ...] = (),
                rules: tuple[tuple[str, Rule], ...] = ()) -> dict[int, dict[str, str]]:
    """Each customer's segment keys with their explanations (built-ins, then the store's rules)."""
    found = evaluate_builtins(profiles, scoring.to_dict(), disabled)
    result: dict[int, dict[str, str]] = {int(c): {} for c in profiles.index}
    for customer_id, key, why in found.itertuples(index=False):
        result[int(customer_id)][key] = why
    for key, rule in rules:
        matched = profiles.index[rule.evaluate_frame(profiles).to_numpy(bool)]
        columns = sorted(rule.fields)
        for customer_id, row in zip(matched, profiles.loc[matched, columns].to_dict("records"),
                                    strict=True):
            result[int(customer_id)][key] = rule.explain(row)
    return result


def predict(orders: pd.DataFrame, as_of: pd.Timestamp, timezone: str,
            model: FittedModel | None = None,
            value_cutoffs: tuple[float, float] | None = None,
            previous: FittedModel | None = None,
            ) -> tuple[pd.DataFrame, FittedModel]:
    """Score customers with a stored fit, or fit the store (warm-started from ``previous``).

    Value tiers and churn bands need store-wide cut-offs: when fitting they come from this fit
    (the churn cut-offs are kept on the model); with a stored fit, its churn cut-offs and the
    given value cut-offs are used, and without value cut-offs tiers stay empty rather than guessed.
    A fresh fit also gets its holdout validation (app.core.predict.validation). A prediction
    that cannot be computed raises app.core.predict.PredictionError: nothing is stored.
    """
    live = orders.loc[~orders["cancelled"]]
    summary = summarise_orders(live["customer_id"].to_numpy(),
                               live["created_at"].dt.tz_convert(timezone),
                               as_of.tz_convert(timezone), values=live["net"].to_numpy())
    fitting = model is None
    if fitting:
        model = fit_store(summary, previous)
    scored = score(model, summary, PREDICTION_HORIZON_DAYS)
    if fitting and len(scored):
        model = replace(model, churn_cutoffs=churn_cutoffs(scored["p_order_90d"]),
                        totals=store_totals(model, summary),
                        validation=holdout_report(live["customer_id"].to_numpy(),
                                                  live["created_at"].dt.tz_convert(timezone),
                                                  as_of.tz_convert(timezone)))
    out = pd.DataFrame(index=summary.index)
    for column in ("p_alive", "p_order_90d", "expected_orders_90d", "predicted_clv_12m"):
        out[column] = scored[column]
    out["days_until_next_order"] = scored["expected_next_order_days"]
    out["churn_risk"] = churn_band(scored["p_order_90d"], model.churn_cutoffs)
    if fitting and value_cutoffs is None and len(scored):
        value_cutoffs = value_tier_cutoffs(scored["predicted_clv_12m"])
    out["value_tier"] = (value_tiers(scored["predicted_clv_12m"], tuple(value_cutoffs))
                         if value_cutoffs is not None else None)
    out["prediction_basis"] = model.basis
    out.attrs["value_cutoffs"] = value_cutoffs
    return out, model
