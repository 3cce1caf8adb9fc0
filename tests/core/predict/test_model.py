"""Store fit, prior fallback, scoring, serialisation, churn bands and value tiers."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from app.core.predict import (
    FittedModel,
    bgnbd,
    fit_best,
    fit_store,
    paretonbd,
    score,
    summarise_orders,
    value_tier_cutoffs,
    value_tiers,
)
from tests.core.predict.conftest import CDNOW_CALIBRATION_END

SCORE_COLUMNS = [
    "p_alive",
    "p_order_90d",
    "expected_orders_90d",
    "expected_next_order_days",
    "expected_spend",
    "predicted_clv_12m",
]


@pytest.fixture(scope="module")
def cdnow_model(cdnow_summary) -> FittedModel:
    return fit_store(cdnow_summary)


def test_cdnow_store_fit_picks_bgnbd_by_likelihood(cdnow_model):
    assert cdnow_model.basis == "store_fit"
    assert cdnow_model.spend_basis == "store_fit"
    assert cdnow_model.name == "bgnbd"  # -9582.4 beats Pareto/NBD's -9595.0
    assert cdnow_model.candidates["bgnbd"] > cdnow_model.candidates["paretonbd"]
    assert (cdnow_model.n_customers, cdnow_model.n_repeat_buyers) == (2357, 946)


def test_fit_best_returns_the_winner_and_both_likelihoods(cdnow_summary):
    best = fit_best(cdnow_summary)
    assert best.name == "bgnbd"
    assert set(best.params) == {"r", "alpha", "a", "b"}
    assert round(best.log_likelihood, 1) == -9582.4
    assert round(best.candidates["paretonbd"], 1) == -9595.0


def test_scores_are_finite_and_in_range(cdnow_model, cdnow_summary):
    scores = score(cdnow_model, cdnow_summary)
    assert list(scores.columns) == SCORE_COLUMNS
    assert scores.index.equals(cdnow_summary.index)
    must_be_finite = scores.drop(columns="expected_next_order_days")
    assert np.isfinite(must_be_finite.to_numpy()).all()
    assert scores["p_alive"].between(0, 1).all()
    assert scores["p_order_90d"].between(0, 1).all()
    assert (must_be_finite >= 0).all().all()


def test_paper_customer_scores(cdnow_model, cdnow_summary):
    # Customer 1 of the sample (x=2, t_x=30.43, T=38.86) is the example of FHL 2005.
    scores = score(cdnow_model, cdnow_summary.loc[[1]], horizon_days=39 * 7)
    assert scores.loc[1, "expected_orders_273d"] == pytest.approx(1.226, abs=5e-4)


def test_stored_fit_scores_one_customer_exactly_like_the_whole_store(cdnow_model, cdnow_summary):
    stored = json.loads(json.dumps(cdnow_model.to_dict()))
    restored = FittedModel.from_dict(stored)
    assert restored == cdnow_model
    one = cdnow_summary.loc[[1]]
    pd.testing.assert_frame_equal(score(restored, one), score(cdnow_model, cdnow_summary).loc[[1]])


def test_summary_in_days_is_scored_like_the_same_summary_in_weeks(cdnow_model, cdnow_orders):
    in_days = summarise_orders(
        cdnow_orders["customer_id"],
        cdnow_orders["ordered_at"],
        CDNOW_CALIBRATION_END,
        values=cdnow_orders["dollars"],
        unit_days=1.0,
    )
    in_weeks = summarise_orders(
        cdnow_orders["customer_id"],
        cdnow_orders["ordered_at"],
        CDNOW_CALIBRATION_END,
        values=cdnow_orders["dollars"],
    )
    pd.testing.assert_frame_equal(
        score(cdnow_model, in_days), score(cdnow_model, in_weeks), rtol=1e-9
    )


def test_next_order_is_sooner_for_frequent_recent_buyers(cdnow_model, cdnow_summary):
    scores = score(cdnow_model, cdnow_summary)
    days = scores["expected_next_order_days"]
    heavy = (cdnow_summary["frequency"] >= 10) & days.notna()
    light = (cdnow_summary["frequency"] <= 1) & days.notna()
    assert heavy.any() and light.any()
    assert days[heavy].median() < days[light].median()


def test_empty_store_does_not_raise():
    summary = summarise_orders([], np.array([], dtype="datetime64[D]"), "2024-01-01", values=[])
    model = fit_store(summary)
    assert model.basis == "prior"
    assert score(model, summary).empty


def test_value_tiers_split_top_20_next_30_and_ties_share_a_tier():
    clv = pd.Series(np.arange(100, 0, -1, dtype=float))
    tiers = value_tiers(clv)
    assert tiers.value_counts().to_dict() == {"high": 20, "medium": 30, "low": 50}
    assert (tiers[clv > 80] == "high").all()
    tied = value_tiers([5.0, 5.0, 5.0, 1.0, 1.0])
    assert list(tied) == ["high", "high", "high", "low", "low"]
    # Stored cut-offs score a newcomer later without the rest of the store.
    cutoffs = value_tier_cutoffs(clv)
    assert list(value_tiers([90.0, 60.0, 10.0], cutoffs)) == ["high", "medium", "low"]


def test_optimiser_failure_falls_back_to_the_prior(monkeypatch, cdnow_summary):
    def no_finite_fit(x, t_x, T, weights=None, **_):
        return {"r": 1.0, "alpha": 1.0, "a": 1.0, "b": 1.0, "s": 1.0, "beta": 1.0}, -np.inf, False

    monkeypatch.setattr(bgnbd, "fit", no_finite_fit)
    monkeypatch.setattr(paretonbd, "fit", no_finite_fit)
    model = fit_store(cdnow_summary)
    assert model.basis == "prior"
    assert "finite" in model.reason
    assert np.isfinite(score(model, cdnow_summary)["predicted_clv_12m"]).all()
