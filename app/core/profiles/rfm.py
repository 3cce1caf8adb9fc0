"""RFM: quintile scores within the store and the eleven groups Shopify merchants know.

Scores are 1–5 (5 = best 20%). Recency is days since the last order (fewer is better),
frequency the order count, monetary the net spend. Cut-offs are the 20/40/60/80th
percentiles over the store's customers with orders, stored on the store and re-binned by
``tagwise rescore``; between rescores new events are scored against the stored cut-offs.
A value tied with a cut-off gets the lower score, so a store where most customers ordered
once puts them all at F 1, not spread over several scores.

The group grid, by R and FM = (F + M) / 2 (Shopify's ``CustomerRfmGroup`` vocabulary; Shopify
does not publish its cell boundaries, so these are ours):

    R \\ FM   1 ─────── 2 ─────── 3 ─────── 4 ─────── 5
    5        new ............... | active ...| champions .....
    4        promising ......... | active ...| loyal .........
    3        almost-lost | needs-attention ..| loyal .........
    2        dormant | almost-lost | at-risk ......| previously-loyal
    1        dormant ........... | at-risk ......| previously-loyal

    R 5: FM >= 4 champions; 3 <= FM < 4 active; FM < 3 new
    R 4: FM >= 4 loyal;     3 <= FM < 4 active; FM < 3 promising
    R 3: FM >= 4 loyal;     2 <= FM < 4 needs-attention; FM < 2 almost-lost
    R 2: FM >= 4.5 previously-loyal; 3 <= FM < 4.5 at-risk; 2 <= FM < 3 almost-lost; FM < 2 dormant
    R 1: FM >= 4.5 previously-loyal; 3 <= FM < 4.5 at-risk; FM < 3 dormant
    no orders: prospects
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

QUINTILES = (0.2, 0.4, 0.6, 0.8)
RFM_GROUPS = (
    "champions", "loyal", "active", "promising", "new", "needs-attention", "at-risk",
    "almost-lost", "previously-loyal", "dormant", "prospects",
)


@dataclass(frozen=True)
class RfmCutoffs:
    """The four quintile boundaries of each dimension."""

    recency_days: tuple[float, ...]
    frequency: tuple[float, ...]
    monetary: tuple[float, ...]

    def to_dict(self) -> dict[str, list[float]]:
        """A JSON-able form for the store row."""
        return {key: list(value) for key, value in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, list[float]]) -> RfmCutoffs:
        """Read the stored form back."""
        return cls(tuple(data["recency_days"]), tuple(data["frequency"]), tuple(data["monetary"]))


# Until a store is first rescored: a month / quarter / half-year / year for recency, order
# counts 1, 2, 3, 5, and spend in round amounts of the store currency.
DEFAULT_CUTOFFS = RfmCutoffs((30.0, 90.0, 180.0, 365.0), (1.0, 2.0, 3.0, 5.0),
                             (50.0, 100.0, 250.0, 500.0))


def compute_cutoffs(days_since_last: pd.Series, orders_count: pd.Series,
                    net_spent: pd.Series) -> RfmCutoffs:
    """Quintile cut-offs over the customers with orders (defaults when there are none)."""
    buyers = orders_count > 0
    if not buyers.any():
        return DEFAULT_CUTOFFS

    def quantiles(values: pd.Series) -> tuple[float, ...]:
        return tuple(float(v) for v in np.quantile(values[buyers].to_numpy(float), QUINTILES))

    return RfmCutoffs(quantiles(days_since_last), quantiles(orders_count), quantiles(net_spent))


def score(days_since_last: pd.Series, orders_count: pd.Series, net_spent: pd.Series,
          cutoffs: RfmCutoffs) -> pd.DataFrame:
    """R, F and M scores (nullable integers; missing for customers without orders)."""
    buyers = (orders_count > 0).to_numpy()

    def binned(values: pd.Series, edges: tuple[float, ...]) -> np.ndarray:
        # Number of cut-offs strictly below the value: ties with a cut-off score low.
        return np.searchsorted(np.asarray(edges), values.to_numpy(float), side="left")

    r = 5 - binned(days_since_last, cutoffs.recency_days)
    f = 1 + binned(orders_count, cutoffs.frequency)
    m = 1 + binned(net_spent, cutoffs.monetary)
    frame = pd.DataFrame({"r_score": r, "f_score": f, "m_score": m}, index=orders_count.index)
    return frame.astype("Int64").mask(~np.repeat(buyers[:, None], 3, axis=1))


def groups(r: pd.Series, f: pd.Series, m: pd.Series) -> pd.Series:
    """The RFM group of each customer by the grid in this module's docstring."""
    rr = r.to_numpy(dtype=float, na_value=np.nan)
    fm = (f.to_numpy(dtype=float, na_value=np.nan) + m.to_numpy(dtype=float, na_value=np.nan)) / 2
    conditions = [
        np.isnan(rr),
        (rr == 5) & (fm >= 4), (rr == 5) & (fm >= 3), rr == 5,
        (rr == 4) & (fm >= 4), (rr == 4) & (fm >= 3), rr == 4,
        (rr == 3) & (fm >= 4), (rr == 3) & (fm >= 2), rr == 3,
        (rr <= 2) & (fm >= 4.5), (rr <= 2) & (fm >= 3), (rr == 2) & (fm >= 2),
    ]
    choices = [
        "prospects",
        "champions", "active", "new",
        "loyal", "active", "promising",
        "loyal", "needs-attention", "almost-lost",
        "previously-loyal", "at-risk", "almost-lost",
    ]
    return pd.Series(np.select(conditions, choices, default="dormant"), index=r.index)
