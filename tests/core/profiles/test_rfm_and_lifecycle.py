import itertools

import pandas as pd
import pytest

from app.core.profiles import lifecycle, rfm


def group_of(r: int, f: int, m: int, orders: int) -> str:
    return rfm.groups(pd.Series([r]), pd.Series([f]), pd.Series([m]), pd.Series([orders]))[0]


@pytest.mark.parametrize("r, f, m, orders, group", [
    (5, 5, 5, 9, "champions"), (5, 3, 4, 4, "active"), (5, 1, 1, 1, "new"),
    (4, 4, 5, 6, "loyal"), (4, 3, 3, 3, "active"), (4, 1, 2, 1, "promising"),
    (3, 5, 3, 9, "loyal"), (3, 2, 2, 2, "needs-attention"), (3, 1, 1, 1, "almost-lost"),
    (2, 5, 4, 9, "previously-loyal"), (2, 3, 3, 3, "at-risk"), (2, 2, 2, 2, "almost-lost"),
    (2, 1, 1, 1, "dormant"), (1, 5, 5, 9, "previously-loyal"), (1, 3, 4, 3, "at-risk"),
    (1, 2, 3, 2, "dormant"),
    # The cells where the order count decides, so the groups agree with lifecycle stages:
    (5, 2, 2, 3, "promising"),  # 3 orders over 14 months, bought lately: not "new"
    (5, 1, 5, 1, "new"),  # one big first order: new, not "active"
    (4, 1, 5, 1, "promising"),
])
def test_group_grid(r, f, m, orders, group):
    assert group_of(r, f, m, orders) == group


def test_every_cell_of_the_grid_has_a_group_and_no_orders_means_prospects():
    cells = [(r, f, m, 1 if f == 1 else 5)
             for r in range(1, 6) for f in range(1, 6) for m in range(1, 6)]
    r, f, m, orders = (pd.Series(v, dtype="Int64") for v in zip(*cells, strict=True))
    groups = set(rfm.groups(r, f, m, orders))
    assert groups <= set(rfm.RFM_GROUPS) and len(groups) == 10
    missing = pd.Series([pd.NA], dtype="Int64")
    assert rfm.groups(missing, missing, missing, pd.Series([0]))[0] == "prospects"


# Pairs a merchant would read as a contradiction: "new" beside "repeat buyer, on rhythm", and
# repeat-buyer groups beside a first-time buyer's lifecycle stage.
CONTRADICTIONS = {("new", "active"), ("active", "new"), ("champions", "new"),
                  ("loyal", "new"), ("previously-loyal", "new")}


def test_rfm_groups_and_lifecycle_stages_agree_over_the_whole_grid():
    """Every R, F, M cell × order count (one order always scores F 1) × days since the last
    order in each lifecycle band: no contradictory pair, and every group and stage occurs."""
    cadence = 30.0
    rows = [(r, f, m, orders, days)
            for r, f, m in itertools.product(range(1, 6), repeat=3)
            for orders in ((1,) if f == 1 else ()) + (2, 3, 12)
            for days in (1.0, 29.0, 31.0, 44.0, 46.0, 89.0, 91.0, 400.0)]
    r, f, m, orders, days = (pd.Series(v) for v in zip(*rows, strict=True))
    grid = pd.DataFrame({
        "group": rfm.groups(r, f, m, orders),
        "stage": lifecycle.stages(orders, days, pd.Series(cadence, index=orders.index)
                                  .where(orders >= 2), cadence),
        "orders": orders})
    pairs = set(zip(grid["group"], grid["stage"], strict=True))
    assert not pairs & CONTRADICTIONS
    assert (grid.loc[grid["group"] == "new", "orders"] == 1).all()
    assert (grid.loc[grid["group"] == "active", "orders"] >= 2).all()
    assert set(grid["group"]) == set(rfm.RFM_GROUPS) - {"prospects"}
    assert set(grid["stage"]) == set(lifecycle.LIFECYCLE_STAGES)


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
