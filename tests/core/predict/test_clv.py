"""Discounted CLV from monthly increments of expected orders."""

from __future__ import annotations

import numpy as np
import pytest

from app.core.predict.clv import DAYS_PER_MONTH, discounted_clv


def test_constant_rate_is_a_discounted_annuity():
    two_orders_a_month = lambda days: np.array([2.0 * days / DAYS_PER_MONTH])  # noqa: E731
    clv = discounted_clv(two_orders_a_month, [50.0], monthly_discount_rate=0.01)
    annuity = sum(100.0 / 1.01**month for month in range(1, 13))
    assert clv[0] == pytest.approx(annuity)


def test_without_discounting_clv_is_expected_orders_times_spend():
    saturating = lambda days: np.array([3.0 * (1 - np.exp(-days / 200.0))])  # noqa: E731
    clv = discounted_clv(saturating, [20.0], monthly_discount_rate=0.0)
    assert clv[0] == pytest.approx(20.0 * saturating(12 * DAYS_PER_MONTH)[0])
