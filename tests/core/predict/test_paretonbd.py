"""Pareto/NBD: the published CDNOW fit and the closed form against a direct integral."""

from __future__ import annotations

import numpy as np
import pytest

from app.core.predict import paretonbd
from app.core.predict.model import aggregate_rows
from tests.core.predict.integrals import paretonbd_log_likelihood_by_integration

FHL_2005 = {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}


def test_fit_reproduces_the_published_cdnow_estimates(cdnow_summary):
    x, t_x, T, weights = aggregate_rows(cdnow_summary)
    params, ll, converged = paretonbd.fit(x, t_x, T, weights)
    assert converged
    assert {k: round(v, 3) for k, v in params.items()} == FHL_2005
    assert round(ll, 1) == -9595.0


@pytest.mark.parametrize(
    ("params", "x", "t_x", "T"),
    [
        (FHL_2005, 2, 30.43, 38.86),  # alpha < beta branch
        (FHL_2005, 0, 0.0, 38.86),
        ({"r": 1.5, "alpha": 12.0, "s": 1.2, "beta": 3.0}, 3, 20.0, 39.0),  # alpha > beta
        ({"r": 1.5, "alpha": 6.0, "s": 1.2, "beta": 6.0}, 1, 5.0, 30.0),  # alpha == beta
        ({"r": 2.0, "alpha": 30.0, "s": 0.5, "beta": 300.0}, 500, 7000.0, 7300.0),  # 20 years
        ({"r": 2.0, "alpha": 300.0, "s": 0.5, "beta": 3.0}, 500, 7000.0, 7300.0),
    ],
)
def test_likelihood_equals_direct_integration(params, x, t_x, T):
    closed_form = paretonbd.log_likelihood(params, x, t_x, T)
    assert closed_form == pytest.approx(
        paretonbd_log_likelihood_by_integration(params, x, t_x, T), abs=1e-9
    )


@pytest.mark.parametrize("x", [0, 3, 500])
def test_likelihood_is_continuous_across_alpha_equals_beta(x):
    below = {"r": 0.8, "alpha": 10.0 * (1 - 1e-9), "s": 0.7, "beta": 10.0}
    above = {"r": 0.8, "alpha": 10.0 * (1 + 1e-9), "s": 0.7, "beta": 10.0}
    t_x, T = (0.0, 30.0) if x == 0 else (900.0, 1000.0)
    assert paretonbd.log_likelihood(below, x, t_x, T) == pytest.approx(
        paretonbd.log_likelihood(above, x, t_x, T), abs=1e-6
    )


def test_expectation_handles_s_equal_to_one_by_its_limit():
    base = {"r": 0.8, "alpha": 10.0, "beta": 12.0}
    at_one = paretonbd.expected_purchases(base | {"s": 1.0}, 52.0, 4, 30.0, 39.0)
    near_one = paretonbd.expected_purchases(base | {"s": 1.0 + 1e-7}, 52.0, 4, 30.0, 39.0)
    assert np.isfinite(at_one)
    assert at_one == pytest.approx(near_one, rel=1e-6)
