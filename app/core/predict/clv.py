"""Discounted customer lifetime value over a fixed horizon.

CLV = sum over months m = 1..12 of (E[orders by end of month m] - E[orders by end of month m-1])
      * E[spend per order] / (1 + d)^m,
with the expected orders from the purchase model and the spend from Gamma-Gamma. ``d`` is a
monthly discount rate; the default 1 % a month (about 12.7 % a year) is the conventional figure in
the CLV literature's worked examples (lifetimes' ``customer_lifetime_value`` uses the same monthly
scheme). Months are 365.25 / 12 days.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike, NDArray

MONTHLY_DISCOUNT_RATE = 0.01
CLV_MONTHS = 12
DAYS_PER_MONTH = 365.25 / 12

Array = NDArray[np.float64]


def discounted_clv(
    expected_orders_by_days: Callable[[float], Array],
    spend_per_order: ArrayLike,
    *,
    months: int = CLV_MONTHS,
    monthly_discount_rate: float = MONTHLY_DISCOUNT_RATE,
) -> Array:
    """Return sum of monthly expected-order increments x spend, discounted to today."""
    cumulative = np.stack(
        [np.asarray(expected_orders_by_days(days), dtype=float) for days in month_ends(months)],
        axis=-1,
    )
    return discounted_clv_from_cumulative(cumulative, spend_per_order,
                                          monthly_discount_rate=monthly_discount_rate)


def month_ends(months: int = CLV_MONTHS) -> Array:
    """Return the days from today to the end of each month 1..months."""
    return np.arange(1, months + 1) * DAYS_PER_MONTH


def discounted_clv_from_cumulative(
    cumulative: ArrayLike,
    spend_per_order: ArrayLike,
    *,
    monthly_discount_rate: float = MONTHLY_DISCOUNT_RATE,
) -> Array:
    """Return the CLV from expected orders by the end of each month (last axis = months)."""
    # Cumulative expectations are monotone; the running maximum guards against last-digit jitter.
    cumulative = np.maximum.accumulate(np.maximum(np.asarray(cumulative, dtype=float), 0.0),
                                       axis=-1)
    increments = np.diff(cumulative, axis=-1, prepend=0.0)
    spend = np.asarray(spend_per_order, dtype=float)
    clv = np.zeros(np.broadcast_shapes(spend.shape, cumulative.shape[:-1]))
    # Month by month, element-wise: a customer's CLV is the same number whether it is scored
    # alone or with the whole store (a matrix product's summation order depends on the shape).
    for month in range(cumulative.shape[-1]):
        clv += increments[..., month] * spend / (1.0 + monthly_discount_rate) ** (month + 1)
    return clv
