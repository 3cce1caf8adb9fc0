"""The built-in segments (DESIGN §4), evaluated vectorised over any number of profiles.

Each segment yields, for every member, a one-line explanation of why it is there. A store may
switch any built-in off by key (``category-*`` switches off every category segment).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from app.core.predict.model import (
    CHURN_HIGH_SHARE,
    CHURN_MEDIUM_SHARE,
    DEFAULT_CHURN_CUTOFFS,
    LIKELY_ALIVE,
    VALUE_HIGH_SHARE,
    VALUE_MEDIUM_SHARE,
)
from app.core.profiles.lifecycle import LIFECYCLE_STAGES, STAGE_RULES
from app.core.profiles.metrics import DAYPARTS as DAYPART_RANGES
from app.core.profiles.rfm import GROUP_RULES, RFM_GROUPS

CHURN_BANDS = ("high", "medium", "low")
VALUE_TIERS = ("high", "medium", "low")
DAYPARTS = ("morning", "afternoon", "evening", "night")

MIN_ORDERS_FOR_HABITS = 2  # one order says nothing about a habit
DISCOUNT_SEEKER_SHARE = 0.5
CATEGORY_AFFINITY_SHARE = 0.5
WEEKEND_SHARE = 0.6
DAYPART_SHARE = 0.6
NEXT_ORDER_DUE_DAYS = 14
CATEGORY_SLUG_MAX = 40


BIG_BASKET_QUANTILE = 0.8  # big basket: the store's top 20% by items per order ...
MIN_BIG_BASKET_ITEMS = 3.0  # ... but never fewer items than this
DEFAULT_BIG_BASKET_ITEMS = 4.0  # until the first rescore

FAMILIES = {  # family: what it answers, in the order the dashboard and the reference show them
    "rfm": "RFM group — how this customer compares with the store's other buyers",
    "lifecycle": "Lifecycle — where this customer is in their own buying rhythm",
    "prediction": "Predictions — what the purchase model expects next",
    "habit": "Habits — how this customer likes to buy",
}


@dataclass(frozen=True)
class BuiltinSegment:
    """A catalogue entry: its key (or key pattern), its family and its rule in plain words."""

    key: str
    name: str
    description: str
    family: str


def _hours(daypart: str) -> str:
    """``17:00–22:00`` (night: ``22:00–05:00``) from the metrics' hour ranges."""
    ranges = [(start, end) for name, start, end in DAYPART_RANGES if name == daypart]
    start = max(ranges)[0] if len(ranges) > 1 else ranges[0][0]  # night wraps midnight
    end = min(ranges)[1] if len(ranges) > 1 else ranges[0][1]
    return f"{start:02d}:00–{end % 24:02d}:00"


def _rfm_entry(group: str) -> BuiltinSegment:
    return BuiltinSegment(group, group.replace("-", " ").title(), GROUP_RULES[group] + ".", "rfm")


CATALOGUE: tuple[BuiltinSegment, ...] = (
    *(_rfm_entry(g) for g in RFM_GROUPS),
    *(BuiltinSegment(f"lifecycle-{s}", f"Lifecycle: {s}", STAGE_RULES[s] + ".", "lifecycle")
      for s in LIFECYCLE_STAGES),
    BuiltinSegment("churn-risk-high", "Churn risk high",
                   f"The model's chance of at least one order in the next 90 days is in the "
                   f"store's lowest {CHURN_HIGH_SHARE:.0%} (before the first fit: under "
                   f"{DEFAULT_CHURN_CUTOFFS[0]:.0%}).", "prediction"),
    BuiltinSegment("churn-risk-medium", "Churn risk medium",
                   f"That chance is in the next {CHURN_MEDIUM_SHARE:.0%} (before the first fit: "
                   f"{DEFAULT_CHURN_CUTOFFS[0]:.0%} to under {DEFAULT_CHURN_CUTOFFS[1]:.0%}).",
                   "prediction"),
    BuiltinSegment("churn-risk-low", "Churn risk low",
                   f"That chance is in the store's highest "
                   f"{1 - CHURN_HIGH_SHARE - CHURN_MEDIUM_SHARE:.0%} (before the first fit: at "
                   f"least {DEFAULT_CHURN_CUTOFFS[1]:.0%}).", "prediction"),
    BuiltinSegment("value-high", "Value high",
                   f"Predicted spend over the next 12 months in the store's top "
                   f"{VALUE_HIGH_SHARE:.0%}.", "prediction"),
    BuiltinSegment("value-medium", "Value medium",
                   f"Predicted 12-month spend in the next {VALUE_MEDIUM_SHARE:.0%} after the top "
                   f"{VALUE_HIGH_SHARE:.0%}.", "prediction"),
    BuiltinSegment("value-low", "Value low", "Predicted 12-month spend in the remaining "
                   f"{1 - VALUE_HIGH_SHARE - VALUE_MEDIUM_SHARE:.0%}.", "prediction"),
    BuiltinSegment("next-order-due", "Next order due",
                   f"At least one order, more likely still a customer than not (P(alive) at "
                   f"least {LIKELY_ALIVE:.2f}), and the next order expected within "
                   f"{NEXT_ORDER_DUE_DAYS} days.", "prediction"),
    BuiltinSegment("discount-seeker", "Discount seeker",
                   f"At least {MIN_ORDERS_FOR_HABITS} orders, and a discount on at least "
                   f"{DISCOUNT_SEEKER_SHARE:.0%} of them.", "habit"),
    BuiltinSegment("full-price-buyer", "Full-price buyer",
                   f"At least {MIN_ORDERS_FOR_HABITS} orders and never a discount.", "habit"),
    BuiltinSegment("category-*", "Category lover",
                   f"At least {MIN_ORDERS_FOR_HABITS} orders, and at least "
                   f"{CATEGORY_AFFINITY_SHARE:.0%} of the items bought are of one product type; "
                   f"the tag names it (category-coffee).", "habit"),
    BuiltinSegment("weekend-shopper", "Weekend shopper",
                   f"At least {MIN_ORDERS_FOR_HABITS} orders, at least {WEEKEND_SHARE:.0%} of "
                   f"them on a Saturday or Sunday (store time).", "habit"),
    *(BuiltinSegment(f"{d}-shopper", f"{d.title()} shopper",
                     f"At least {MIN_ORDERS_FOR_HABITS} orders, at least {DAYPART_SHARE:.0%} of "
                     f"them in the {d} ({_hours(d)}, store time).", "habit")
      for d in DAYPARTS),
    BuiltinSegment("big-basket", "Big basket",
                   f"Items per order on average in the store's top "
                   f"{1 - BIG_BASKET_QUANTILE:.0%} (the {BIG_BASKET_QUANTILE:.0%} percentile, "
                   f"at least {MIN_BIG_BASKET_ITEMS:g} items; {DEFAULT_BIG_BASKET_ITEMS:g} until "
                   f"the first rescore).", "habit"),
)


def slugify(text: str) -> str:
    """A tag-safe lower-case slug (``Men's Shoes`` → ``men-s-shoes``)."""
    slug = re.sub(r"[^a-z0-9]+", "-", str(text).lower()).strip("-")
    return slug[:CATEGORY_SLUG_MAX].rstrip("-") or "other"


# .astype(str): mapping an empty Series keeps it float, and float + str would raise.
def _num(series: pd.Series, digits: int = 0) -> pd.Series:
    return series.astype(float).round(digits).map(lambda v: f"{v:.{digits}f}").astype(str)


def _pct(series: pd.Series) -> pd.Series:
    return (series.astype(float) * 100).round().map(lambda v: f"{v:.0f}%").astype(str)


Evaluator = Callable[[pd.DataFrame, dict], Iterable[tuple[pd.Series, pd.Series, pd.Series]]]


def _rfm(p: pd.DataFrame, _: dict):
    why = ("R" + p["r_score"].astype(str) + " F" + p["f_score"].astype(str)
           + " M" + p["m_score"].astype(str) + " → " + p["rfm_group"].astype(str))
    why = why.where(p["rfm_group"] != "prospects", "no orders yet")
    yield p["rfm_group"].notna(), p["rfm_group"], why


def _lifecycle(p: pd.DataFrame, scoring: dict):
    cadence = p["median_days_between_orders"].fillna(scoring.get("default_cadence_days", 45.0))
    why = (_num(p["days_since_last_order"]) + " days since last order; cadence "
           + _num(cadence) + " days")
    yield p["lifecycle_stage"].notna(), "lifecycle-" + p["lifecycle_stage"].astype(str), why


def _predictive(p: pd.DataFrame, _: dict):
    has = p["churn_risk"].notna()
    third = p["churn_risk"].map({"high": "lowest", "medium": "middle", "low": "highest"})
    # P(order) is computed with the predictions and not stored: a frame without it says less.
    p_order = p["p_order_90d"] if "p_order_90d" in p else pd.Series(np.nan, index=p.index)
    chance = (_pct(p_order) + " chance of an order in 90 days ("
              + third.astype(str) + " third of the store)")
    yield (has, "churn-risk-" + p["churn_risk"].astype(str),
           chance.where(p_order.notna(), "churn risk " + p["churn_risk"].astype(str)))
    has = p["value_tier"].notna()
    yield (has, "value-" + p["value_tier"].astype(str),
           "predicted 12-month CLV " + _num(p["predicted_clv_12m"], 2))
    due_in = p["days_until_next_order"]
    # A date is only predicted for customers likely alive; checked again so a stale row can't slip.
    due = (due_in.notna() & (due_in <= NEXT_ORDER_DUE_DAYS) & (p["orders_count"] > 0)
           & (p["p_alive"] >= LIKELY_ALIVE))
    yield (due, pd.Series("next-order-due", index=p.index),
           "next order expected in " + _num(due_in.clip(lower=0)) + " days; P(alive) "
           + _num(p["p_alive"], 2))


def _behaviour(p: pd.DataFrame, scoring: dict):
    habitual = p["orders_count"] >= MIN_ORDERS_FOR_HABITS
    share = p["discount_order_share"]
    yield (habitual & (share >= DISCOUNT_SEEKER_SHARE), pd.Series("discount-seeker", index=p.index),
           "discount on " + _pct(share) + " of " + p["orders_count"].astype(str) + " orders")
    yield (habitual & (share == 0), pd.Series("full-price-buyer", index=p.index),
           "no discount on " + p["orders_count"].astype(str) + " orders")
    affinity = p["top_product_type_share"]
    yield (habitual & (affinity >= CATEGORY_AFFINITY_SHARE) & p["top_product_type"].notna(),
           "category-" + p["top_product_type"].map(slugify, na_action="ignore").astype(str),
           _pct(affinity) + " of items are " + p["top_product_type"].astype(str))
    weekend = p["weekend_order_share"]
    yield (habitual & (weekend >= WEEKEND_SHARE), pd.Series("weekend-shopper", index=p.index),
           _pct(weekend) + " of orders at the weekend")
    part = p["preferred_daypart_share"]
    yield (habitual & (part >= DAYPART_SHARE), p["preferred_daypart"].astype(str) + "-shopper",
           _pct(part) + " of orders in the " + p["preferred_daypart"].astype(str))
    threshold = float(scoring.get("big_basket_items", 4.0))
    items = p["mean_items_per_order"]
    yield (items >= threshold, pd.Series("big-basket", index=p.index),
           _num(items, 1) + f" items per order ≥ {threshold:.1f}")


EVALUATORS: tuple[Evaluator, ...] = (_rfm, _lifecycle, _predictive, _behaviour)


def evaluate_builtins(profiles: pd.DataFrame, scoring: dict,
                      disabled: Iterable[str] = ()) -> pd.DataFrame:
    """Long frame (customer_id, key, explanation) of every built-in membership."""
    off = set(disabled)
    parts = []
    for evaluate in EVALUATORS:
        for mask, keys, why in evaluate(profiles, scoring):
            selected = mask.fillna(False).to_numpy(bool)
            if not selected.any():
                continue
            parts.append(pd.DataFrame({
                "customer_id": profiles.index.to_numpy()[selected],
                "key": np.asarray(keys[selected], dtype=object),
                "explanation": np.asarray(why[selected], dtype=object),
            }))
    if not parts:
        return pd.DataFrame(columns=["customer_id", "key", "explanation"])
    found = pd.concat(parts, ignore_index=True)
    if off:
        category_off = "category-*" in off
        keep = ~found["key"].isin(off)
        if category_off:
            keep &= ~found["key"].str.startswith("category-")
        found = found[keep]
    return found
