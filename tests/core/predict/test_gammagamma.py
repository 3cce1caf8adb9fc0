"""Gamma-Gamma spend model on the CDNOW repeat buyers."""

from __future__ import annotations

import numpy as np
import pytest

from app.core.predict import gammagamma

FHL_2005B = {"p": 6.25, "q": 3.74, "gamma": 15.44}


def _repeat_buyers(summary):
    repeat = summary[summary["frequency"] > 0]
    return repeat["frequency"].to_numpy(), repeat["monetary"].to_numpy()


def test_fit_reproduces_the_published_cdnow_estimates(cdnow_summary):
    x, m_x = _repeat_buyers(cdnow_summary)
    params, _, converged = gammagamma.fit(x, m_x)
    assert converged
    assert {k: round(v, 2) for k, v in params.items()} == FHL_2005B


def test_fit_is_independent_of_the_currency_unit(cdnow_summary):
    # The same spend in yen-sized numbers: shape parameters unchanged, scale follows the unit.
    x, m_x = _repeat_buyers(cdnow_summary)
    params, _, converged = gammagamma.fit(x, m_x * 1000.0)
    assert converged
    assert params["p"] == pytest.approx(6.25, abs=0.005)
    assert params["q"] == pytest.approx(3.74, abs=0.005)
    assert params["gamma"] == pytest.approx(15440.0, rel=1e-3)


def test_fit_converges_on_spend_without_customer_heterogeneity():
    # Every customer draws orders from the same gamma: q runs to its bound instead of diverging.
    rng = np.random.default_rng(5)
    x = rng.integers(1, 8, 3000).astype(float)
    m_x = np.array([rng.gamma(4.0, 10.0, int(k)).mean() for k in x])
    params, _, converged = gammagamma.fit(x, m_x)
    assert converged
    assert all(np.isfinite(v) for v in params.values())
    assert gammagamma.population_mean_spend(params) == pytest.approx(40.0, rel=0.03)


def test_expected_spend_shrinks_towards_the_population_mean():
    population = gammagamma.population_mean_spend(FHL_2005B)
    spend = gammagamma.expected_spend(FHL_2005B, [0, 1, 10, 100], [0.0, 100.0, 100.0, 100.0])
    assert spend[0] == pytest.approx(population)
    # More repeat purchases: more weight on the customer's own mean of 100.
    assert population < spend[1] < spend[2] < spend[3] < 100.0
