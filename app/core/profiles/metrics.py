"""Per-customer behavioural metrics from orders, vectorised over any number of customers.

The same function serves one customer after a webhook and a whole store on rescore, so the
two can never disagree.

Inputs (pandas, one row each):

- ``orders``: customer_id, created_at (datetime64 UTC), total, net (total less refunds; zero
  when cancelled), cancelled (bool), has_discount (bool), items (units in the order).
- ``lines``: customer_id, product_type, vendor, quantity (lines of non-cancelled orders).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

SECONDS_PER_DAY = 86_400.0
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
# Local hour ranges [start, end) of each daypart; night wraps midnight.
DAYPARTS = (("night", 0, 5), ("morning", 5, 12), ("afternoon", 12, 17), ("evening", 17, 22),
            ("night", 22, 24))
TOP_PRODUCT_TYPES = 5

ORDER_COLUMNS = ["customer_id", "created_at", "total", "net", "cancelled", "has_discount", "items"]
LINE_COLUMNS = ["customer_id", "product_type", "vendor", "quantity"]


def empty_orders() -> pd.DataFrame:
    """An orders frame with no rows and the right dtypes."""
    return pd.DataFrame({
        "customer_id": pd.Series(dtype="int64"),
        "created_at": pd.Series(dtype="datetime64[ns, UTC]"),
        "total": pd.Series(dtype="float64"),
        "net": pd.Series(dtype="float64"),
        "cancelled": pd.Series(dtype="bool"),
        "has_discount": pd.Series(dtype="bool"),
        "items": pd.Series(dtype="int64"),
    })


def compute_metrics(
    customer_ids: list[int] | np.ndarray,
    orders: pd.DataFrame,
    lines: pd.DataFrame,
    timezone: str = "UTC",
) -> pd.DataFrame:
    """One row per customer id (customers without orders included) of behavioural metrics."""
    index = pd.Index(np.asarray(customer_ids, dtype="int64"), name="customer_id")
    out = pd.DataFrame(index=index)
    live = orders.loc[~orders["cancelled"].astype(bool)]
    grouped = live.groupby("customer_id", sort=False)
    out["orders_count"] = grouped.size().reindex(index, fill_value=0).astype("int64")
    out["total_spent"] = grouped["total"].sum().reindex(index, fill_value=0.0)
    # Refunds on cancelled orders are already inside the zero net of those orders.
    out["net_spent"] = orders.groupby("customer_id")["net"].sum().reindex(index, fill_value=0.0)
    counts = out["orders_count"].replace(0, np.nan)
    out["aov"] = out["net_spent"] / counts
    out["first_order_at"] = grouped["created_at"].min().reindex(index)
    out["last_order_at"] = grouped["created_at"].max().reindex(index)
    gaps = _gaps_in_days(live)
    out["mean_days_between_orders"] = gaps.mean().reindex(index)
    out["median_days_between_orders"] = gaps.median().reindex(index)
    out["discount_order_share"] = grouped["has_discount"].mean().reindex(index)
    out["mean_items_per_order"] = grouped["items"].mean().reindex(index)
    out = out.join(_affinities(index, lines))
    out = out.join(_timing(index, live, timezone))
    return out


def _gaps_in_days(live: pd.DataFrame):
    ordered = live.sort_values(["customer_id", "created_at"])
    previous = ordered.groupby("customer_id", sort=False)["created_at"].shift()
    gaps = (ordered["created_at"] - previous).dt.total_seconds() / SECONDS_PER_DAY
    return gaps.groupby(ordered["customer_id"])


def _affinities(index: pd.Index, lines: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame(index=index)
    typed = lines.dropna(subset=["product_type"])
    if typed.empty:
        out["top_product_type"] = None
        out["top_product_type_share"] = np.nan
        out["product_types"] = None
    else:
        by_type = typed.groupby(["customer_id", "product_type"])["quantity"].sum()
        ranked = by_type.sort_values(ascending=False, kind="stable")
        totals = by_type.groupby(level=0).sum()
        top = ranked.groupby(level=0).head(1)
        top_types = pd.Series(top.index.get_level_values(1), index=top.index.get_level_values(0))
        out["top_product_type"] = top_types.reindex(index)
        shares = pd.Series(top.to_numpy(), index=top.index.get_level_values(0)) / totals
        out["top_product_type_share"] = shares.reindex(index)
        listed = ranked.groupby(level=0).head(TOP_PRODUCT_TYPES).reset_index()
        lists = listed.groupby("customer_id")["product_type"].agg(list)
        out["product_types"] = lists.reindex(index)
    vendors = lines.dropna(subset=["vendor"])
    if vendors.empty:
        out["top_vendor"] = None
    else:
        by_vendor = vendors.groupby(["customer_id", "vendor"])["quantity"].sum()
        top = by_vendor.sort_values(ascending=False, kind="stable").groupby(level=0).head(1)
        out["top_vendor"] = pd.Series(top.index.get_level_values(1),
                                      index=top.index.get_level_values(0)).reindex(index)
    return out


def _timing(index: pd.Index, live: pd.DataFrame, timezone: str) -> pd.DataFrame:
    out = pd.DataFrame(index=index)
    if live.empty:
        for column in ("preferred_weekday", "preferred_daypart"):
            out[column] = None
        out["preferred_daypart_share"] = np.nan
        out["weekend_order_share"] = np.nan
        return out
    local = live["created_at"].dt.tz_convert(timezone)
    weekday = local.dt.day_of_week.to_numpy()
    hour = local.dt.hour.to_numpy()
    daypart = np.empty(len(hour), dtype=object)
    for name, start, end in DAYPARTS:
        daypart[(hour >= start) & (hour < end)] = name
    frame = pd.DataFrame({
        "customer_id": live["customer_id"].to_numpy(),
        "weekday": np.asarray(WEEKDAYS, dtype=object)[weekday],
        "daypart": daypart,
        "weekend": weekday >= 5,
    })
    out["preferred_weekday"] = _mode(frame, "weekday")[0].reindex(index)
    parts, shares = _mode(frame, "daypart")
    out["preferred_daypart"] = parts.reindex(index)
    out["preferred_daypart_share"] = shares.reindex(index)
    out["weekend_order_share"] = frame.groupby("customer_id")["weekend"].mean().reindex(index)
    return out


def _mode(frame: pd.DataFrame, column: str) -> tuple[pd.Series, pd.Series]:
    """Most frequent value per customer (ties: alphabetical) and its share of orders."""
    counts = frame.groupby(["customer_id", column]).size()
    ordered = counts.reset_index(name="n").sort_values(
        ["customer_id", "n", column], ascending=[True, False, True])
    top = ordered.drop_duplicates("customer_id").set_index("customer_id")
    totals = counts.groupby(level=0).sum()
    return top[column], top["n"] / totals
