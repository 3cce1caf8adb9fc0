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
    spend = np.asarray(spend_per_order, dtype=float)
    clv = np.zeros(np.broadcast_shapes(spend.shape, np.shape(expected_orders_by_days(0.0))))
    previous = np.zeros_like(clv)
    for month in range(1, months + 1):
        cumulative = expected_orders_by_days(month * DAYS_PER_MONTH)
        # Cumulative expectations are monotone; clip guards against last-digit jitter.
        increment = np.maximum(cumulative - previous, 0.0)
        clv += increment * spend / (1.0 + monthly_discount_rate) ** month
        previous = np.maximum(cumulative, previous)
    return clv
