"""BG/NBD model (Fader, Hardie & Lee 2005): likelihood, fit, P(alive), expected purchases.

Parameters: ``r, alpha`` (gamma heterogeneity of the purchase rate; ``alpha`` is in the summary's
time unit) and ``a, b`` (beta heterogeneity of the drop-out probability after each purchase).
Everything is computed in log space with ``gammaln``/``betaln``/``logaddexp`` so that 500 orders
or 20 years of history neither overflow nor underflow.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import integrate, special

from app.core.predict.fitting import NOT_FINITE, CountModel
from app.core.predict.hypergeometric import signed_log_hyp2f1

PARAM_NAMES = ("r", "alpha", "a", "b")
# Bounds on each parameter: wide enough for any store, tight enough to keep the optimiser out of
# regions where the likelihood is flat to machine precision.
LOG_PARAM_BOUNDS = [(np.log(1e-4), np.log(1e4))] * 4
# Within this distance of a == 1 the conditional expectation (0/0 at a == 1) is interpolated.
A_NEAR_ONE = 1e-4
C_NEAR_ZERO = 1e-3
# When the alive customer's drop-out probability p ~ Beta(a, b + x) has both shape parameters at
# least CONCENTRATED_SHAPE, or a + b of at least CONCENTRATED_TOTAL, it is concentrated and the
# expectation is a smooth average over a near-normal logit(p): Gauss-Hermite quadrature,
# vectorised over rows. As a + b grows this tends to the fixed-drop-out limit (p = a / (a + b) for
# everyone), which is exactly where the 2F1 series needs thousands of terms.
CONCENTRATED_SHAPE = 10.0
CONCENTRATED_TOTAL = 100.0
HERMITE_NODES, HERMITE_WEIGHTS = special.roots_hermite(40)

Array = NDArray[np.float64]


def log_likelihood_terms(
    params: Mapping[str, float], x: ArrayLike, t_x: ArrayLike, T: ArrayLike
) -> Array:
    """Return each customer's BG/NBD log-likelihood (FHL 2005, eq. 6)."""
    r, alpha, a, b = (float(params[k]) for k in PARAM_NAMES)
    x, t_x, T = _as_arrays(x, t_x, T)
    shared = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha) - special.betaln(a, b)
    no_drop = special.betaln(a, b + x) - (r + x) * np.log(alpha + T)
    dropped = _dropped_term(r, alpha, a, b, x, t_x)
    return shared + np.logaddexp(no_drop, dropped)


def p_alive(params: Mapping[str, float], x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> Array:
    """Return P(still alive at T | x, t_x, T) (FHL 2005, eq. 11)."""
    r, alpha, a, b = (float(params[k]) for k in PARAM_NAMES)
    x, t_x, T = _as_arrays(x, t_x, T)
    return special.expit(-_log_odds_dead(r, alpha, a, b, x, t_x, T))


def expected_purchases(
    params: Mapping[str, float], t: ArrayLike, x: ArrayLike, t_x: ArrayLike, T: ArrayLike
) -> Array:
    """Return E[purchases in (T, T + t] | x, t_x, T] (FHL 2005, eq. 10), computed stably."""
    expected_if_alive = expected_purchases_if_alive(params, t, x, T)
    return np.maximum(expected_if_alive * p_alive(params, x, t_x, T), 0.0)


def expected_purchases_if_alive(
    params: Mapping[str, float], t: ArrayLike, x: ArrayLike, T: ArrayLike
) -> Array:
    """Return E[purchases in (T, T + t] | alive at T, x, T]: depends on (x, T), not t_x."""
    r, alpha, a, b = (float(params[k]) for k in PARAM_NAMES)
    t, x, T = (np.asarray(v, dtype=float) for v in np.broadcast_arrays(t, x, T))
    shape = t.shape
    t, x, T = t.ravel(), x.ravel(), T.ravel()
    if abs(a - 1.0) < A_NEAR_ONE:
        # The closed form is 0/0 at a = 1 and loses digits near it; E is smooth in a, so
        # interpolate between a = 1 -+ A_NEAR_ONE (error O(A_NEAR_ONE^2)).
        low = _expected_if_alive(r, alpha, 1.0 - A_NEAR_ONE, b, t, x, T)
        high = _expected_if_alive(r, alpha, 1.0 + A_NEAR_ONE, b, t, x, T)
        weight = (a - (1.0 - A_NEAR_ONE)) / (2.0 * A_NEAR_ONE)
        expected_if_alive = low + weight * (high - low)
    else:
        expected_if_alive = _expected_if_alive(r, alpha, a, b, t, x, T)
    return np.where(t > 0, np.maximum(expected_if_alive, 0.0), 0.0).reshape(shape)


def _expected_if_alive(
    r: float, alpha: float, a: float, b: float, t: Array, x: Array, T: Array
) -> Array:
    """Return E[purchases in t | alive at T] for 1-D arrays, closed form with fallbacks."""
    z = t / (alpha + T + t)
    # Euler's transformation turns ((alpha+T)/(alpha+T+t))^(r+x) 2F1(r+x, b+x; a+b+x-1; z) into
    # (1-z)^(a-1) 2F1(a+b-1-r, a-1; a+b+x-1; z): bounded parameters whatever x is. The 2F1 is
    # negative for some x = 0 rows when a + b < 1, hence the signed logarithm.
    c = a + b + x - 1.0
    log_f, sign = signed_log_hyp2f1(a + b - 1.0 - r, a - 1.0, np.where(c == 0, 1.0, c), z)
    log_product = (a - 1.0) * np.log1p(-z) + log_f
    with np.errstate(over="ignore"):
        bracket = np.where(sign > 0, -np.expm1(log_product), 1.0 + np.exp(log_product))
    expected_if_alive = (a + b + x - 1.0) / (a - 1.0) * bracket
    # Integrate instead where the series did not converge (z within a few % of 1: a horizon far
    # beyond the customer's history) or where c = a+b+x-1 is near 0 (x = 0 with a + b near 1),
    # a pole of 2F1 cancelled by the factor in front.
    near_pole = np.abs(a + b + x - 1.0) < C_NEAR_ZERO
    missing = (~np.isfinite(expected_if_alive) | near_pole) & (t > 0)
    concentrated = missing & (min(a, b) >= CONCENTRATED_SHAPE or a + b >= CONCENTRATED_TOTAL)
    if concentrated.any():
        expected_if_alive[concentrated] = _expected_if_alive_concentrated(
            r, alpha, a, b, t[concentrated], x[concentrated], T[concentrated]
        )
    for i in np.flatnonzero(missing & ~concentrated):
        expected_if_alive[i] = _expected_if_alive_by_quadrature(r, alpha, a, b, t[i], x[i], T[i])
    return np.where(t > 0, expected_if_alive, 0.0)


def _expected_if_alive_concentrated(
    r: float, alpha: float, a: float, b: float, t: Array, x: Array, T: Array
) -> Array:
    """Return E[purchases in t | alive] for a concentrated Beta(a, b + x) drop-out probability.

    Averages (1 - (1 + p t/(alpha+T))^-(r+x)) / p over p = expit(y), with y's Beta-logit density
    e^(a y) / (1 + e^y)^(a+b+x) integrated by Gauss-Hermite around its mode log(a / (b + x)) with
    its curvature's scale; the density is renormalised on the same nodes, so the only error is the
    density's departure from a polynomial-times-normal: below 1e-9 relative for both shapes >= 10
    (tests compare it with the closed form).
    """
    beta_b = b + x
    mode = np.log(a) - np.log(beta_b)
    scale = np.sqrt(2.0 * (1.0 / a + 1.0 / beta_b))
    y = mode[:, None] + scale[:, None] * HERMITE_NODES[None, :]
    log_density = a * y - (a + beta_b)[:, None] * np.logaddexp(0.0, y)
    log_density += HERMITE_NODES[None, :] ** 2 - np.max(log_density, axis=1, keepdims=True)
    weights = HERMITE_WEIGHTS[None, :] * np.exp(log_density)
    p = special.expit(y)
    n = (r + x)[:, None]
    value = -np.expm1(-n * np.log1p(p * (t / (alpha + T))[:, None])) / p
    return np.sum(weights * value, axis=1) / np.sum(weights, axis=1)


def _expected_if_alive_by_quadrature(
    r: float, alpha: float, a: float, b: float, t: float, x: float, T: float
) -> float:
    """Return E[purchases in t | alive] by integrating over the drop-out probability p.

    An alive customer has p ~ Beta(a, b + x) and rate ~ Gamma(r + x, alpha + T), and given p
    expects (1 - ((alpha+T)/(alpha+T+p t))^(r+x)) / p purchases. QUADPACK's algebraic weights
    take the p^(a-1) and (1-p)^(b+x-1) end-point singularities exactly. Used only for the rare
    rows the series cannot do; a QUADPACK accuracy warning is not an error here, its best
    estimate is still far better than nothing. Tests check it against the closed form.
    """
    n = r + x
    scale = t / (alpha + T)
    beta_b = b + x
    log_norm = float(special.betaln(a, beta_b))

    # For a > 1, E[1/p] = (a+b+x-1)/(a-1) is finite and E = E[1/p] - E[(1 + p scale)^-n / p]:
    # the subtracted integrand is concentrated near p = 0 where the beta density is smooth, which
    # is far more accurate than integrating the gain when the horizon is long.
    subtract = a > 1.0
    # Integrand = value(p) * p^zero_power * (1-p)^(b+x-1) / B(a, b+x); both value functions are
    # smooth and bounded on [0, 1].
    zero_power = a - 2.0 if subtract else a - 1.0

    def value(p: float) -> float:
        if subtract:
            return float(np.exp(-n * np.log1p(p * scale)))  # (1 + p scale)^-n
        if p * scale < 1e-12:
            return n * scale  # limit of (1 - (1 + p scale)^-n) / p as p -> 0
        return float(-np.expm1(-n * np.log1p(p * scale)) / p)

    # Split [0, 1] around the beta bulk (mean +- 12 sd) and the knee of gain_per_p at
    # p = 1 / (n scale); the two end pieces carry the algebraic end-point weights.
    mean = a / (a + beta_b)
    spread = 12.0 * np.sqrt(mean * (1.0 - mean) / (a + beta_b + 1.0))
    inner = [mean - spread, mean, mean + spread, 1.0 / max(n * scale, 1e-300)]
    edges = sorted({0.0, 1.0, *(e for e in inner if 1e-12 < e < 1.0 - 1e-12)})
    total = 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", integrate.IntegrationWarning)
        for low, high in zip(edges[:-1], edges[1:], strict=True):
            at_zero, at_one = low == 0.0, high == 1.0

            def integrand(p: float, at_zero: bool = at_zero, at_one: bool = at_one) -> float:
                log_weight = -log_norm
                if not at_zero:
                    log_weight += zero_power * np.log(p)
                if not at_one:
                    log_weight += (beta_b - 1.0) * np.log1p(-p)
                return value(p) * float(np.exp(log_weight))

            wvar = (zero_power if at_zero else 0.0, beta_b - 1.0 if at_one else 0.0)
            piece, _ = integrate.quad(
                integrand, low, high, weight="alg", wvar=wvar, epsabs=0.0, epsrel=1e-11,
                limit=200,
            )
            total += piece
    return (a + beta_b - 1.0) / (a - 1.0) - total if subtract else total


def _dropped_term(
    r: float, alpha: float, a: float, b: float, x: Array, t_x: Array
) -> Array:
    """Return the log of the 'dropped out after the last purchase' term; -inf when x == 0."""
    repeat = x > 0
    safe_x = np.where(repeat, x, 1.0)
    value = special.betaln(a + 1.0, b + safe_x - 1.0) - (r + safe_x) * np.log(alpha + t_x)
    return np.where(repeat, value, -np.inf)


def _log_odds_dead(
    r: float, alpha: float, a: float, b: float, x: Array, t_x: Array, T: Array
) -> Array:
    """Return log of a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x); -inf when x == 0 (never dead)."""
    repeat = x > 0
    safe_x = np.where(repeat, x, 1.0)
    value = (
        np.log(a)
        - np.log(b + safe_x - 1.0)
        + (r + safe_x) * (np.log(alpha + T) - np.log(alpha + t_x))
    )
    return np.where(repeat, value, -np.inf)


def _negative_ll_and_gradient(
    log_params: Array, x: Array, t_x: Array, T: Array, w: Array
) -> tuple[float, Array]:
    """Return -LL and its gradient with respect to the log-parameters (analytic, for speed)."""
    r, alpha, a, b = np.exp(log_params)
    psi = special.digamma
    repeat = x > 0
    safe_x = np.where(repeat, x, 1.0)
    no_drop = special.betaln(a, b + x) - (r + x) * np.log(alpha + T)
    dropped = _dropped_term(r, alpha, a, b, x, t_x)
    log_sum = np.logaddexp(no_drop, dropped)
    shared = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha) - special.betaln(a, b)
    ll = float(np.sum(w * (shared + log_sum)))
    w_stay = np.exp(no_drop - log_sum)
    w_drop = np.where(repeat, np.exp(dropped - log_sum), 0.0)

    d_r = psi(r + x) - psi(r) + np.log(alpha) - w_stay * np.log(alpha + T)
    d_r -= w_drop * np.log(alpha + t_x)
    d_alpha = r / alpha - w_stay * (r + x) / (alpha + T) - w_drop * (r + x) / (alpha + t_x)
    d_a = -(psi(a) - psi(a + b)) + w_stay * (psi(a) - psi(a + b + x))
    d_a += np.where(repeat, w_drop * (psi(a + 1.0) - psi(a + b + x)), 0.0)
    d_b = -(psi(b) - psi(a + b)) + w_stay * (psi(b + x) - psi(a + b + x))
    d_b += np.where(repeat, w_drop * (psi(b + safe_x - 1.0) - psi(a + b + x)), 0.0)
    grad = np.array([np.sum(w * d) for d in (d_r, d_alpha, d_a, d_b)]) * np.array([r, alpha, a, b])
    if not np.isfinite(ll) or not np.all(np.isfinite(grad)):
        return NOT_FINITE, np.zeros(4)
    return -ll, -grad


def _starting_points(x: Array, T: Array, w: Array) -> list[tuple[float, float, float, float]]:
    """Return a few scale-aware starting points (alpha matched to the observed purchase rate)."""
    rate = max(float(np.sum(w * x)) / max(float(np.sum(w * T)), 1e-9), 1e-6)
    starts = []
    for r0, a0, b0 in ((1.0, 1.5, 3.0), (0.3, 0.8, 2.5), (3.0, 0.5, 5.0)):
        alpha0 = float(np.clip(r0 / rate, 1e-3, 1e3))
        starts.append((r0, alpha0, a0, b0))
    return starts


def _as_arrays(*values: ArrayLike) -> tuple[Array, ...]:
    return tuple(np.asarray(v, dtype=float) for v in np.broadcast_arrays(*values))


MODEL = CountModel(PARAM_NAMES, LOG_PARAM_BOUNDS, log_likelihood_terms, _starting_points,
                   negative_ll_and_gradient=_negative_ll_and_gradient)
log_likelihood = MODEL.log_likelihood  # the total, each row counted ``weights`` times
fit = MODEL.fit  # MAP fit with the analytic gradient: (params, LL, converged)


def p_purchase_within(
    params: Mapping[str, float], t: ArrayLike, x: ArrayLike, t_x: ArrayLike, T: ArrayLike
) -> Array:
    """Return P(at least one purchase in (T, T + t] | x, t_x, T).

    An alive customer drops out only right after a purchase, so "no purchase in t" is "no
    purchase event in t": given alive, rate ~ Gamma(r + x, alpha + T) and
    P(none) = ((alpha+T)/(alpha+T+t))^(r+x). Multiplied by P(alive).
    """
    r, alpha, _, _ = (float(params[k]) for k in PARAM_NAMES)
    t, x, t_x, T = (np.asarray(v, dtype=float) for v in np.broadcast_arrays(t, x, t_x, T))
    if_alive = -np.expm1(-(r + x) * np.log1p(t / (alpha + T)))
    return p_alive(params, x, t_x, T) * if_alive
