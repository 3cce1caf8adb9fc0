import pandas as pd
import pytest

from app.core.profiles import lifecycle, rfm


@pytest.mark.parametrize("r, f, m, group", [
    (5, 5, 5, "champions"), (5, 3, 4, "active"), (5, 1, 1, "new"),
    (4, 4, 5, "loyal"), (4, 3, 3, "active"), (4, 1, 2, "promising"),
    (3, 5, 3, "loyal"), (3, 2, 2, "needs-attention"), (3, 1, 1, "almost-lost"),
    (2, 5, 4, "previously-loyal"), (2, 3, 3, "at-risk"), (2, 2, 2, "almost-lost"),
    (2, 1, 1, "dormant"), (1, 5, 5, "previously-loyal"), (1, 3, 4, "at-risk"),
    (1, 2, 3, "dormant"),
])
def test_group_grid(r, f, m, group):
    assert rfm.groups(pd.Series([r]), pd.Series([f]), pd.Series([m]))[0] == group


def test_every_cell_of_the_grid_has_a_group_and_no_orders_means_prospects():
    cells = [(r, f, m) for r in range(1, 6) for f in range(1, 6) for m in range(1, 6)]
    r, f, m = (pd.Series(v, dtype="Int64") for v in zip(*cells, strict=True))
    groups = set(rfm.groups(r, f, m))
    assert groups <= set(rfm.RFM_GROUPS) and len(groups) == 10
    missing = pd.Series([pd.NA], dtype="Int64")
    assert rfm.groups(missing, missing, missing)[0] == "prospects"


def test_quintile_scores_put_ties_low_and_recency_reversed():
    days = pd.Series([1.0, 10, 50, 100, 400, 0])
    orders = pd.Series([1, 1, 1, 2, 9, 0])
    spent = pd.Series([10.0, 20, 30, 40, 50, 0])
    cutoffs = rfm.compute_cutoffs(days, orders, spent)
    scores = rfm.score(days, orders, spent, cutoffs)
    assert scores["r_score"].tolist()[:5] == [5, 4, 3, 2, 1]
    assert scores["f_score"].tolist()[:3] == [1, 1, 1]  # the many one-time buyers all score F1
    assert scores["m_score"].tolist()[:5] == [1, 2, 3, 4, 5]
    assert scores.iloc[5].isna().all()  # no orders: no scores


def test_lifecycle_follows_each_customers_own_cadence():
    orders = pd.Series([1, 1, 3, 3, 3, 0])
    days = pd.Series([10.0, 100, 20, 50, 200, float("nan")])
    gap = pd.Series([None, None, 30.0, 30.0, 30.0, None], dtype=float)
    stages = lifecycle.stages(orders, days, gap, default_cadence=45.0)
    assert stages.tolist()[:5] == ["new", "lapsing", "active", "lapsing", "churned"]
    assert pd.isna(stages[5])  # no orders: no stage
