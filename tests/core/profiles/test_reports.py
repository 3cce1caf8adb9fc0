import pandas as pd

from app.core.profiles import reports


def _profiles(rows):
    frame = pd.DataFrame(rows, columns=["r_score", "f_score", "m_score", "net_spent"])
    for column in ("r_score", "f_score", "m_score"):
        frame[column] = frame[column].astype("Int64")
    return frame


def test_rfm_grid_counts_and_means_per_cell_skipping_unscored_customers():
    grid = reports.rfm_grid(_profiles([
        (5, 1, 1, 10.0), (5, 1, 3, 30.0),  # R5 F1: two customers, spend 20 on average, M 2
        (1, 5, 5, 900.0),                  # R1 F5: one champion-sized spender, gone quiet
        (pd.NA, pd.NA, pd.NA, 0.0),        # a prospect without orders is not on the grid
    ]))
    assert grid["r_scores"] == [5, 4, 3, 2, 1] and grid["f_scores"] == [1, 2, 3, 4, 5]
    assert grid["customers"] == 3
    assert grid["count"][0] == [2, 0, 0, 0, 0]  # row R5
    assert grid["count"][4] == [0, 0, 0, 0, 1]  # row R1
    assert grid["mean_monetary"][0][0] == 20.0 and grid["mean_m"][0][0] == 2.0
    assert grid["mean_monetary"][4][4] == 900.0
    assert grid["mean_monetary"][2][2] is None  # an empty cell has no mean


def test_rfm_grid_of_a_store_without_buyers_is_all_zero():
    grid = reports.rfm_grid(_profiles([]))
    assert grid["customers"] == 0 and grid["count"] == [[0] * 5] * 5


def _orders(rows):
    customer, created, cancelled = zip(*rows, strict=True)
    return pd.DataFrame({"customer_id": list(customer),
                         "created_at": pd.to_datetime(list(created), utc=True, format="ISO8601"),
                         "cancelled": list(cancelled)})


def test_cohort_retention_is_the_share_of_each_first_month_cohort_ordering_in_month_k():
    orders = _orders([
        (1, "2026-01-05", False), (1, "2026-02-10", False), (1, "2026-02-20", False),
        (2, "2026-01-20", False), (2, "2026-03-01", False),
        (3, "2026-01-31", False), (3, "2026-02-01", True),  # a cancelled order does not count
        (4, "2026-02-14", False), (4, "2026-03-14", False),
    ])
    result = reports.cohort_retention(orders, pd.Timestamp("2026-03-20", tz="UTC"),
                                      offsets=3)
    assert result["offsets"] == [1, 2, 3]
    january, february = result["cohorts"]
    # January: 3 customers; in February only customer 1 ordered again, in March customer 2.
    assert january == {"month": "2026-01", "customers": 3,
                       "retention": [round(1 / 3, 4), round(1 / 3, 4), None]}
    # February: customer 4 alone, back in March; April has not happened yet.
    assert february == {"month": "2026-02", "customers": 1, "retention": [1.0, None, None]}


def test_cohorts_follow_the_store_timezone_and_keep_only_recent_months():
    # 23:30 UTC on 31 January is already February in Berlin.
    orders = _orders([(1, "2026-01-31T23:30:00", False), (2, "2025-01-10", False)])
    result = reports.cohort_retention(orders, pd.Timestamp("2026-02-15", tz="UTC"),
                                      timezone="Europe/Berlin", cohorts=12, offsets=2)
    assert [c["month"] for c in result["cohorts"]] == ["2026-02"]  # 2025-01 is 13 months back


def test_cohort_retention_without_orders_is_empty():
    empty = _orders([(1, "2026-01-01", True)])
    assert reports.cohort_retention(empty, pd.Timestamp("2026-02-01", tz="UTC"))["cohorts"] == []


def test_segment_sizes_count_every_key_largest_first():
    sizes = reports.segment_sizes([["champions", "vip"], ["vip"], [], ["at-risk"]])
    assert sizes == {"vip": 2, "at-risk": 1, "champions": 1}
    assert list(sizes) == ["vip", "at-risk", "champions"]
    assert reports.segment_sizes([]) == {}


def test_rfm_movement_counts_each_customer_from_its_old_group_to_its_new_one():
    before = pd.Series({1: "champions", 2: "champions", 3: "loyal", 4: "at-risk", 5: None,
                        6: "new"})
    after = pd.Series({1: "champions", 2: "loyal", 3: "loyal", 4: "champions", 5: "new",
                       7: "new"})  # 6 was deleted, 7 is a newcomer
    movement = reports.rfm_movement(before, after)
    groups = movement["groups"]
    assert groups[-1] == reports.NO_GROUP and "champions" in groups

    def cell(source, target):
        return movement["count"][groups.index(source)][groups.index(target)]

    assert cell("champions", "champions") == 1 and cell("champions", "loyal") == 1
    assert cell("loyal", "loyal") == 1 and cell("at-risk", "champions") == 1
    assert cell("none", "new") == 2  # one without a group before, one brand new
    assert cell("new", "none") == 1
    assert movement["customers"] == 7 and movement["moved"] == 5 and movement["stayed"] == 2
    assert sum(map(sum, movement["count"])) == 7


def test_rfm_movement_ignores_customers_without_a_group_on_either_side():
    movement = reports.rfm_movement(pd.Series({1: None}), pd.Series({1: None, 2: float("nan")}))
    assert movement["customers"] == movement["moved"] == movement["stayed"] == 0


def test_a_rate_over_fewer_than_thirty_customers_is_flagged_small():
    assert reports.rate(3, 29) == {"share": 3 / 29, "base": 29, "small": True}
    assert reports.rate(3, 30)["small"] is False
    assert reports.rate(0, 0) == {"share": None, "base": 0, "small": True}
    assert reports.is_small(5) and not reports.is_small(500)
