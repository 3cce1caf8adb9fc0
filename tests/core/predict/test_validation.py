"""Holdout validation: fit on all but the last quarter, compare with what customers then did."""

from __future__ import annotations

import numpy as np

from app.core.predict.validation import holdout_report


def test_cdnow_holdout_report_predicts_the_last_quarter_and_tracks_it(cdnow_orders):
    report = holdout_report(cdnow_orders["customer_id"], cdnow_orders["ordered_at"], "1998-06-30")
    assert report["calibration_end"] == "1998-02-14" and report["holdout_days"] == 136
    assert report["customers"] == 2357
    # Predicted and actual repeat orders of the same customers agree to within 10 %.
    assert abs(report["predicted_repeat_orders"] / report["actual_repeat_orders"] - 1) < 0.1
    rows = report["by_frequency"]
    assert [r["repeat_purchases_before"] for r in rows][-1] == "7+"
    assert sum(r["customers"] for r in rows) == 2357
    # Heavier past buyers are predicted, and do, buy more.
    assert np.all(np.diff([r["predicted"] for r in rows]) > 0)
    assert rows[-1]["actual"] > rows[0]["actual"]
    tracking = report["tracking"]
    assert tracking[-1]["day"] == 136 and tracking[-1]["actual"] == report["actual_repeat_orders"]
    for column in ("predicted", "actual"):
        assert np.all(np.diff([t[column] for t in tracking]) >= 0)


def test_a_history_too_short_to_cut_has_no_report():
    times = np.datetime64("2024-01-01") + np.arange(3).astype("timedelta64[D]")
    assert holdout_report([1, 2, 1], times, "2024-01-05") is None
    assert holdout_report([], np.array([], dtype="datetime64[D]"), "2024-01-05") is None


def test_holdout_predictions_equal_the_per_customer_computation(cdnow_orders):
    # The report computes the expectation once per distinct (x, T) pair; every customer's own
    # computation (the customers x steps matrix) must give the same table and tracking.
    from app.core.predict.model import MODELS, fit_store
    from app.core.predict.summaries import calendar_days, summarise_orders

    report = holdout_report(cdnow_orders["customer_id"], cdnow_orders["ordered_at"], "1998-06-30")
    cut = np.datetime64(report["calibration_end"])
    calibration = summarise_orders(np.asarray(cdnow_orders["customer_id"]),
                                   calendar_days(cdnow_orders["ordered_at"]), cut)
    model = fit_store(calibration)
    module = MODELS[model.name]
    x, t_x, T = (calibration[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T"))
    steps = np.array([t["day"] for t in report["tracking"]], dtype=float)
    each = (module.expected_purchases_if_alive(model.params, steps[None, :] / 7.0, x[:, None],
                                               T[:, None])
            * module.p_alive(model.params, x, t_x, T)[:, None])
    assert report["predicted_repeat_orders"] == round(float(each[:, -1].sum()), 2)
    assert [t["predicted"] for t in report["tracking"]] == [round(float(v), 2)
                                                           for v in each.sum(axis=0)]
    seven = x >= 7
    assert report["by_frequency"][-1]["predicted"] == round(float(each[seven, -1].mean()), 3)
