"""Order log -> (frequency, recency, T, monetary) summaries."""

from __future__ import annotations

import numpy as np
import pandas as pd

from app.core.predict import summarise_orders


def test_cdnow_summary_matches_the_published_one(cdnow_summary, cdnow_published_summary):
    rebuilt = cdnow_summary.loc[cdnow_published_summary.index]
    assert len(cdnow_summary) == 2357
    np.testing.assert_array_equal(rebuilt["frequency"], cdnow_published_summary["frequency"])
    np.testing.assert_allclose(rebuilt["recency"].round(2), cdnow_published_summary["recency"])
    np.testing.assert_allclose(rebuilt["T"].round(2), cdnow_published_summary["T"])
    # The cohort first bought in Q1 1997: T runs from 38.86 weeks (1 January) down to 27.00
    # (31 March), which pins the calibration end to 1997-09-30 inclusive.
    assert rebuilt["T"].round(2).max() == 38.86
    assert rebuilt["T"].round(2).min() == 27.00


def test_cdnow_repeat_spend_is_the_gamma_gamma_input(cdnow_summary):
    repeat_buyers = cdnow_summary[cdnow_summary["frequency"] > 0]
    assert len(repeat_buyers) == 946
    assert round(repeat_buyers["monetary"].mean(), 2) == 35.08


def test_same_day_orders_merge_and_later_orders_are_ignored():
    summary = summarise_orders(
        ["a", "a", "a", "a", "b"],
        np.array(
            ["2024-01-01T09:00", "2024-01-01T18:00", "2024-01-15T12:00", "2024-03-01T08:00",
             "2024-01-08T10:00"],
            dtype="datetime64[m]",
        ),
        np.datetime64("2024-01-29"),
        values=[10.0, 5.0, 30.0, 99.0, 20.0],
        unit_days=1.0,
    )
    a, b = summary.loc["a"], summary.loc["b"]
    assert (a["frequency"], a["recency"], a["T"]) == (1, 14.0, 28.0)
    assert a["monetary"] == 30.0  # the repeat day only; the 1 March order is after as_of
    assert a["mean_order_value"] == 22.5  # (10 + 5 + 30) / 2 purchase days
    assert (b["frequency"], b["recency"], b["T"], b["monetary"]) == (0, 0.0, 21.0, 0.0)


def test_customer_whose_first_order_is_after_as_of_is_absent():
    summary = summarise_orders(
        [1, 2], np.array(["2024-01-01", "2024-02-01"], dtype="datetime64[D]"), "2024-01-10"
    )
    assert list(summary.index) == [1]
    assert "monetary" not in summary


def test_timezone_aware_times_merge_on_the_local_calendar_day():
    # 23:30 and 00:30 the next day in New York are two days there (one day in UTC).
    times = pd.to_datetime(["2024-05-01 23:30", "2024-05-02 00:30"]).tz_localize("America/New_York")
    summary = summarise_orders(["c", "c"], times, "2024-05-10", unit_days=1.0)
    assert summary.loc["c", "frequency"] == 1
    assert summary.loc["c", "T"] == 9.0
    assert summary.attrs["unit_days"] == 1.0
