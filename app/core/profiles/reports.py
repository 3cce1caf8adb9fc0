"""Store-level reports for the dashboard, computed once per rescore so no page aggregates rows.

Pure and vectorised: frames in, plain JSON-able dicts out.

- ``rfm_grid``: customers with orders by R (rows, 5 = most recent) × F (columns, 5 = most
  frequent), each cell's count, mean net spend and mean M score.
- ``cohort_retention``: customers by the month of their first order (store timezone); for each
  later month k, the share of the cohort that ordered in month k. Month 0 is the cohort itself.
- ``segment_sizes``: how many customers each segment key holds.
- ``rfm_movement``: how many customers went from each RFM group to each other group between two
  rescores (a from × to matrix, ``none`` for customers without a group on that side).
- ``rate``: a share with its base, flagged when the base is under ``SMALL_COHORT_CUSTOMERS``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from app.core.profiles.rfm import RFM_GROUPS

SCORES = (1, 2, 3, 4, 5)
COHORT_MONTHS = 12  # the most recent cohorts shown
COHORT_OFFSETS = 12  # months after the first order followed
# A share of fewer customers than this swings by 3+ points per customer: shown, never charted.
SMALL_COHORT_CUSTOMERS = 30
NO_GROUP = "none"  # the movement matrix's row/column for customers outside every RFM group


def rfm_grid(profiles: pd.DataFrame) -> dict[str, Any]:
    """Count, mean net spend and mean M score per (R, F) cell; rows R 5→1, columns F 1→5."""
    scored = profiles.loc[profiles["r_score"].notna() & profiles["f_score"].notna()]
    frame = pd.DataFrame({"r": scored["r_score"].astype(int), "f": scored["f_score"].astype(int),
                          "m": scored["m_score"].astype(float),
                          "net": scored["net_spent"].astype(float)})
    cells = frame.groupby(["r", "f"]).agg(count=("net", "size"), mean_monetary=("net", "mean"),
                                          mean_m=("m", "mean"))
    cells = cells.reindex(pd.MultiIndex.from_product([SCORES[::-1], SCORES]))
    shape = (len(SCORES), len(SCORES))

    def matrix(column: str, digits: int) -> list[list[float | None]]:
        values = cells[column].to_numpy(float).reshape(shape).round(digits)
        return [[None if np.isnan(v) else float(v) for v in row] for row in values]

    counts = cells["count"].fillna(0).to_numpy(int).reshape(shape)
    return {
        "r_scores": list(SCORES[::-1]),
        "f_scores": list(SCORES),
        "count": counts.tolist(),
        "mean_monetary": matrix("mean_monetary", 2),
        "mean_m": matrix("mean_m", 2),
        "customers": int(counts.sum()),
    }


def cohort_retention(orders: pd.DataFrame, as_of: pd.Timestamp, timezone: str = "UTC",
                     cohorts: int = COHORT_MONTHS, offsets: int = COHORT_OFFSETS,
                     ) -> dict[str, Any]:
    """Share of each first-order-month cohort ordering in each later month (None: not yet)."""
    live = orders.loc[~orders["cancelled"], ["customer_id", "created_at"]]
    local = live["created_at"].dt.tz_convert(timezone).dt.tz_localize(None)
    month = local.dt.year * 12 + local.dt.month - 1
    active = pd.DataFrame({"customer_id": live["customer_id"].to_numpy(),
                           "month": month.to_numpy()}).drop_duplicates()
    first = active.groupby("customer_id")["month"].min().rename("cohort")
    active = active.join(first, on="customer_id")
    active["offset"] = active["month"] - active["cohort"]
    as_of_local = as_of.tz_convert(timezone)
    current = as_of_local.year * 12 + as_of_local.month - 1
    shown = sorted(c for c in first.unique() if c > current - cohorts)
    sizes = first.value_counts()
    counts = (active.loc[active["cohort"].isin(shown) & active["offset"].between(1, offsets)]
              .groupby(["cohort", "offset"]).size())
    rows = []
    for cohort in shown:
        size = int(sizes[cohort])
        shares: list[float | None] = []
        for offset in range(1, offsets + 1):
            if cohort + offset > current:
                shares.append(None)
            else:
                shares.append(round(int(counts.get((cohort, offset), 0)) / size, 4))
        rows.append({"month": f"{cohort // 12:04d}-{cohort % 12 + 1:02d}", "customers": size,
                     "retention": shares})
    return {"offsets": list(range(1, offsets + 1)), "cohorts": rows}


def monthly_activity(orders: pd.DataFrame, timezone: str = "UTC") -> pd.DataFrame:
    """One live order per customer and month (store timezone): all ``cohort_retention`` reads.

    Per customer, so the activity of disjoint sets of customers concatenates into the store's.
    """
    live = orders.loc[~orders["cancelled"], ["customer_id", "created_at", "cancelled"]]
    local = live["created_at"].dt.tz_convert(timezone)
    month = (local.dt.year * 12 + local.dt.month).to_numpy()
    first = ~pd.DataFrame({"c": live["customer_id"].to_numpy(), "m": month}).duplicated()
    return live.loc[first.to_numpy()]


def segment_sizes(segment_keys: Iterable[Iterable[str]]) -> dict[str, int]:
    """How many customers carry each segment key, largest first."""
    exploded = pd.Series(list(segment_keys), dtype=object).explode().dropna()
    counts = exploded.value_counts()
    return _largest_first({str(key): int(n) for key, n in counts.items()})


def add_segment_sizes(total: dict[str, int], more: dict[str, int]) -> dict[str, int]:
    """Two ``segment_sizes`` of disjoint sets of customers, summed, largest first."""
    return _largest_first({key: total.get(key, 0) + more.get(key, 0)
                           for key in total.keys() | more.keys()})


def _largest_first(sizes: dict[str, int]) -> dict[str, int]:
    return dict(sorted(sizes.items(), key=lambda kv: (-kv[1], kv[0])))


def is_small(customers: int, minimum: int | None = None) -> bool:
    """Whether a share or rate over this many customers is too noisy to read as a trend
    (under ``minimum``, by default ``SMALL_COHORT_CUSTOMERS``)."""
    return customers < (SMALL_COHORT_CUSTOMERS if minimum is None else minimum)


def rate(count: float, base: int, minimum: int | None = None) -> dict[str, Any]:
    """``count / base`` with its base and whether the base is small (share None when base 0)."""
    return {"share": count / base if base else None, "base": int(base),
            "small": is_small(base, minimum)}


def rfm_movement(before: pd.Series, after: pd.Series) -> dict[str, Any]:
    """Count customers by (group before, group after): rows "from", columns "to".

    ``before`` and ``after`` map customer id to an RFM group (None/NaN: no group). A customer on
    one side only is counted from or to ``none``; customers without a group on either side are
    not counted. ``moved`` counts customers whose group changed, ``stayed`` those whose did not.
    """
    labels = [*RFM_GROUPS, NO_GROUP]
    pairs = pd.concat({"before": before, "after": after}, axis=1)
    pairs = pairs.where(pairs.isin(RFM_GROUPS), NO_GROUP)  # NaN and unknown labels: no group
    pairs = pairs.loc[(pairs["before"] != NO_GROUP) | (pairs["after"] != NO_GROUP)]
    counts = (pd.crosstab(pairs["before"], pairs["after"])
              .reindex(index=labels, columns=labels, fill_value=0))
    matrix = counts.to_numpy(int)
    stayed = int(np.trace(matrix))
    return {"groups": labels, "count": matrix.tolist(), "customers": int(matrix.sum()),
            "moved": int(matrix.sum()) - stayed, "stayed": stayed}
