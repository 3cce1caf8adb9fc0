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

from app.core.predict.model import LIKELY_ALIVE
from app.core.profiles.rfm import RFM_GROUPS

LIFECYCLE_STAGES = ("new", "active", "lapsing", "churned")
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


@dataclass(frozen=True)
class BuiltinSegment:
    """A catalogue entry: its key (or key pattern) and what it means."""

    key: str
    name: str
    description: str


CATALOGUE: tuple[BuiltinSegment, ...] = (
    *(BuiltinSegment(g, g.replace("-", " ").title(), f"RFM group {g}") for g in RFM_GROUPS),
    *(BuiltinSegment(f"lifecycle-{s}", f"Lifecycle: {s}", "relative to the customer's cadence")
      for s in LIFECYCLE_STAGES),
    *(BuiltinSegment(f"churn-risk-{b}", f"Churn risk {b}",
                     "chance of an order in the next 90 days, by thirds of the store")
      for b in CHURN_BANDS),
    *(BuiltinSegment(f"value-{t}", f"Value {t}", "predicted 12-month CLV tier")
      for t in VALUE_TIERS),
    BuiltinSegment("next-order-due", "Next order due",
                   f"likely still a customer and next order expected within "
                   f"{NEXT_ORDER_DUE_DAYS} days"),
    BuiltinSegment("discount-seeker", "Discount seeker",
                   f"a discount on at least {DISCOUNT_SEEKER_SHARE:.0%} of orders"),
    BuiltinSegment("full-price-buyer", "Full-price buyer", "never used a discount"),
    BuiltinSegment("category-*", "Category lover",
                   f"at least {CATEGORY_AFFINITY_SHARE:.0%} of items from one product type"),
    BuiltinSegment("weekend-shopper", "Weekend shopper",
                   f"at least {WEEKEND_SHARE:.0%} of orders on Saturday or Sunday"),
    *(BuiltinSegment(f"{d}-shopper", f"{d.title()} shopper",
                     f"at least {DAYPART_SHARE:.0%} of orders in the {d}") for d in DAYPARTS),
    BuiltinSegment("big-basket", "Big basket", "items per order in the store's top 20%"),
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
