"""Lifecycle stage relative to each customer's own buying cadence, not a fixed window.

A repeat buyer's cadence is the median days between their orders; a one-time buyer borrows
the store's default cadence (the median of repeat buyers' cadences, recomputed on rescore).
Cadences are floored at a week so two orders on one weekend do not make a customer "lapsing"
on Tuesday.

    one order, days since it <= cadence        -> lifecycle-new
    repeat buyer, days since last <= 1.5 x cadence -> lifecycle-active
    days since last order <= 3 x cadence        -> lifecycle-lapsing
    beyond that                                 -> lifecycle-churned
    no orders                                   -> (no stage)
"""

from __future__ import annotations

import numpy as np
import pandas as pd

MIN_CADENCE_DAYS = 7.0
DEFAULT_STORE_CADENCE_DAYS = 45.0
ACTIVE_FACTOR = 1.5
LAPSING_FACTOR = 3.0


def store_cadence(median_gaps: pd.Series) -> float:
    """The store's default cadence: the median of repeat buyers' median gaps."""
    gaps = median_gaps.dropna()
    if gaps.empty:
        return DEFAULT_STORE_CADENCE_DAYS
    return max(MIN_CADENCE_DAYS, float(gaps.median()))


def stages(orders_count: pd.Series, days_since_last: pd.Series, median_gap: pd.Series,
           default_cadence: float) -> pd.Series:
    """The lifecycle stage of each customer (None without orders)."""
    cadence = np.maximum(median_gap.fillna(default_cadence).to_numpy(float), MIN_CADENCE_DAYS)
    days = days_since_last.to_numpy(float)
    count = orders_count.to_numpy()
    conditions = [count == 0, (count == 1) & (days <= cadence),
                  (count >= 2) & (days <= ACTIVE_FACTOR * cadence),
                  days <= LAPSING_FACTOR * cadence]
    values = np.select(conditions, ["", "new", "active", "lapsing"], default="churned")
    return pd.Series(values, index=orders_count.index).replace("", None)
