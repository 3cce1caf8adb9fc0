"""BG/NBD: the published CDNOW fit, closed forms against integrals, parameter recovery."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import optimize

from app.core.predict import bgnbd
from app.core.predict.model import aggregate_rows
from tests.core.predict.integrals import bgnbd_expected_by_integration
from tests.core.predict.simulate import simulate_bgnbd

FHL_2005 = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}


def test_fit_reproduces_fader_hardie_lee_2005(cdnow_summary):
    x, t_x, T, weights = aggregate_rows(cdnow_summary)
    params, ll, converged = bgnbd.fit(x, t_x, T, weights)
    assert converged
    assert {k: round(v, 3) for k, v in params.items()} == FHL_2005
    assert round(ll, 1) == -9582.4


def test_weighted_rows_give_the_same_likelihood_as_one_row_per_customer(cdnow_summary):
    x, t_x, T, weights = aggregate_rows(cdnow_summary)
    assert len(x) < len(cdnow_summary) / 2
    per_customer = bgnbd.log_likelihood(
        FHL_2005, cdnow_summary["frequency"], cdnow_summary["recency"], cdnow_summary["T"]
    )
    assert bgnbd.log_likelihood(FHL_2005, x, t_x, T, weights) == pytest.approx(per_customer)


def test_conditional_expectation_matches_the_paper_example():
    # FHL 2005, section 5: x=2, t_x=30.43, T=38.86 expects 1.226 purchases in the next 39 weeks.
    expected = bgnbd.expected_purchases(FHL_2005, 39.0, 2, 30.43, 38.86)
    assert round(float(expected), 3) == 1.226


@pytest.mark.parametrize(
    ("params", "t", "x", "t_x", "T"),
    [
        (FHL_2005, 39.0, 2, 30.43, 38.86),
        (FHL_2005, 52.0, 0, 0.0, 0.0),
        (FHL_2005, 13.0, 40, 300.0, 310.0),
        ({"r": 2.0, "alpha": 30.0, "a": 1.5, "b": 8.0}, 365.0, 500, 7000.0, 7300.0),
        ({"r": 0.5, "alpha": 10.0, "a": 3.0, "b": 0.7}, 90.0, 7, 50.0, 400.0),
    ],
)
def test_conditional_expectation_equals_direct_integration(params, t, x, t_x, T):
    closed_form = float(bgnbd.expected_purchases(params, t, x, t_x, T))
    integrated = bgnbd_expected_by_integration(params, t, x, t_x, T)
    assert closed_form == pytest.approx(integrated, rel=1e-7)


def test_p_alive_matches_the_paper_example_shape():
    # No repeat purchase: never observed to drop out, so alive with certainty under BG/NBD.
    assert bgnbd.p_alive(FHL_2005, 0, 0.0, 38.86) == 1.0
    # Same x, older last purchase: less likely alive.
    recent, stale = bgnbd.p_alive(FHL_2005, [5, 5], [38.0, 10.0], [38.86, 38.86])
    assert 0 < stale < recent < 1


def test_analytic_gradient_matches_finite_differences(cdnow_summary):
    x, t_x, T, w = aggregate_rows(cdnow_summary)
    log_params = np.log([0.5, 3.0, 1.2, 2.0])
    _, gradient = bgnbd._negative_ll_and_gradient(log_params, x, t_x, T, w)
    numeric = optimize.approx_fprime(
        log_params, lambda v: bgnbd._negative_ll_and_gradient(v, x, t_x, T, w)[0], 1e-7
    )
    np.testing.assert_allclose(gradient, numeric, rtol=1e-4)


def test_fit_recovers_simulated_parameters_within_sampling_error():
    truth = {"r": 0.6, "alpha": 5.0, "a": 0.8, "b": 3.0}
    T = np.random.default_rng(1).uniform(20.0, 80.0, 20_000)
    x, t_x = simulate_bgnbd(truth, T, seed=2)
    params, _, converged = bgnbd.fit(x, t_x, T)
    assert converged
    log_hat = np.log([params[k] for k in bgnbd.PARAM_NAMES])
    ones = np.ones_like(x)
    # Standard errors from the observed information (numerical Hessian of the exact gradient).
    hessian = np.array(
        [
            (
                bgnbd._negative_ll_and_gradient(log_hat + step, x, t_x, T, ones)[1]
                - bgnbd._negative_ll_and_gradient(log_hat - step, x, t_x, T, ones)[1]
            )
            / 2e-5
            for step in np.eye(4) * 1e-5
        ]
    )
    standard_errors = np.sqrt(np.diag(np.linalg.inv(hessian)))
    z_scores = (log_hat - np.log([truth[k] for k in bgnbd.PARAM_NAMES])) / standard_errors
    assert np.all(np.abs(z_scores) < 4), dict(zip(bgnbd.PARAM_NAMES, z_scores, strict=True))
