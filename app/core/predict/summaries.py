"""Per-customer (frequency, recency, T[, monetary]) summaries in the BG/NBD sense.

Definitions follow Fader, Hardie & Lee (2005), "Counting your customers the easy way": orders on
the same calendar day are one purchase; ``frequency`` is the number of repeat purchase days
(distinct purchase days - 1); ``recency`` is the time from the first to the last purchase day;
``T`` is the time from the first purchase day to ``as_of``. Times are in units of ``unit_days``
days (7 = weeks, the unit of the published CDNOW results). ``monetary`` is the mean value of the
repeat purchase days (same-day orders summed; the first purchase is excluded because the
Gamma-Gamma model is fitted on repeat spend) and 0 for customers without a repeat purchase;
``mean_order_value`` is the mean value over all purchase days (used to scale the spend prior).
The calendar day is the one the caller's timestamps carry: pass local (store timezone) times.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

SUMMARY_COLUMNS = ("frequency", "recency", "T")
UNIT_DAYS_ATTR = "unit_days"


def summarise_orders(
    customer_ids: ArrayLike,
    order_times: ArrayLike,
    as_of: object,
    *,
    values: ArrayLike | None = None,
    unit_days: float = 7.0,
) -> pd.DataFrame:
    """Summarise every customer's orders up to ``as_of`` into frequency, recency, T (+ monetary)."""
    days = calendar_days(order_times)
    as_of_day = calendar_days([as_of])[0]
    orders = pd.DataFrame({"customer_id": np.asarray(customer_ids), "day": days})
    orders["value"] = 0.0 if values is None else np.asarray(values, dtype=float)
    orders = orders[orders["day"] <= as_of_day]

    daily = orders.groupby(["customer_id", "day"], sort=True)["value"].sum().reset_index()
    per_customer = daily.groupby("customer_id", sort=True)
    first_day = per_customer["day"].min()
    last_day = per_customer["day"].max()
    purchase_days = per_customer["day"].size()

    day_ns = np.timedelta64(1, "D")
    summary = pd.DataFrame(
        {
            "frequency": (purchase_days - 1).astype(np.int64),
            "recency": (last_day - first_day) / day_ns / unit_days,
            "T": (as_of_day - first_day) / day_ns / unit_days,
        }
    )
    if values is not None:
        first_value = per_customer["value"].first()
        repeat_total = per_customer["value"].sum() - first_value
        repeats = summary["frequency"].to_numpy()
        summary["monetary"] = np.where(repeats > 0, repeat_total / np.maximum(repeats, 1), 0.0)
        summary["mean_order_value"] = per_customer["value"].sum() / purchase_days
    summary.index.name = "customer_id"
    summary.attrs[UNIT_DAYS_ATTR] = float(unit_days)
    return summary


def calendar_days(times: ArrayLike) -> np.ndarray:
    """Return datetime64[D] wall-clock calendar days, dropping any timezone without converting."""
    if isinstance(times, np.ndarray) and np.issubdtype(times.dtype, np.datetime64):
        return times.astype("datetime64[D]")  # fast path: already naive datetime64
    stamps = pd.Series(pd.to_datetime(pd.Series(times) if np.ndim(times) else [times]))
    if isinstance(stamps.dtype, pd.DatetimeTZDtype):
        stamps = stamps.dt.tz_localize(None)
    return stamps.to_numpy().astype("datetime64[D]")
