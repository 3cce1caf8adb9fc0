"""Pareto/NBD model (Schmittlein, Morrison & Colombo 1987): likelihood, fit, P(alive), E[purchases].

The likelihood is the form in Fader & Hardie, "A note on deriving the Pareto/NBD model and related
expressions" (2005, note 008, eq. 22-24). Its 2F1 terms are rewritten with Euler's transformation
so the series that remains has the bounded first parameter 1, and the whole expression is combined
in log space with signs, which also covers alpha == beta (there z = 0 and 2F1 = 1) exactly.
Parameters: ``r, alpha`` (purchase-rate heterogeneity) and ``s, beta`` (drop-out-rate
heterogeneity); ``alpha`` and ``beta`` are in the summary's time unit.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import integrate, special

from app.core.predict.fitting import CountModel
from app.core.predict.hypergeometric import log_hyp2f1

PARAM_NAMES = ("r", "alpha", "s", "beta")
LOG_PARAM_BOUNDS = [(np.log(1e-4), np.log(1e4))] * 4
# Below this |s - 1| the expectation uses the s -> 1 limit (a logarithm) instead of 0/0.
S_NEAR_ONE = 1e-9

Array = NDArray[np.float64]


def log_likelihood_terms(
    params: Mapping[str, float], x: ArrayLike, t_x: ArrayLike, T: ArrayLike
) -> Array:
    """Return each customer's Pareto/NBD log-likelihood (note 008, eq. 22)."""
    r, alpha, s, beta = (float(params[k]) for k in PARAM_NAMES)
    x, t_x, T = _as_arrays(x, t_x, T)
    shared = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha) + s * np.log(beta)
    return shared + _log_bracket(r, alpha, s, beta, x, t_x, T)[0]


def _starting_points(x: Array, T: Array, w: Array) -> list[tuple[float, float, float, float]]:
    """Return scale-aware starts: alpha from the observed purchase rate, beta a multiple of it."""
    rate = max(float(np.sum(w * x)) / max(float(np.sum(w * T)), 1e-9), 1e-6)
    starts = []
    for r0, s0, lifetime_ratio in ((0.5, 0.5, 1.0), (1.0, 1.0, 3.0), (0.5, 0.5, 5.0)):
        alpha0 = float(np.clip(r0 / rate, 1e-3, 1e3))
        beta0 = float(np.clip(alpha0 * lifetime_ratio, 1e-3, 1e3))
        starts.append((r0, alpha0, s0, beta0))
    return starts


# Gradients are central differences (the likelihood's 2F1 has no cheap parameter derivative).
MODEL = CountModel(PARAM_NAMES, LOG_PARAM_BOUNDS, log_likelihood_terms, _starting_points,
                   options={"ftol": 1e-14, "gtol": 1e-9, "maxiter": 1000})
log_likelihood = MODEL.log_likelihood  # the total, each row counted ``weights`` times
fit = MODEL.fit  # MAP fit on every distinct row: (params, LL, converged)


def p_alive(params: Mapping[str, float], x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> Array:
    """Return P(still alive at T | x, t_x, T) (note 008, eq. 18 in log space)."""
    r, alpha, s, beta = (float(params[k]) for k in PARAM_NAMES)
    x, t_x, T = _as_arrays(x, t_x, T)
    log_bracket, log_alive_term = _log_bracket(r, alpha, s, beta, x, t_x, T)
    return np.clip(np.exp(log_alive_term - log_bracket), 0.0, 1.0)


def expected_purchases(
    params: Mapping[str, float], t: ArrayLike, x: ArrayLike, t_x: ArrayLike, T: ArrayLike
) -> Array:
    """Return E[purchases in (T, T + t] | x, t_x, T] (note 008, eq. 21)."""
    expected_if_alive = expected_purchases_if_alive(params, t, x, T)
    return np.maximum(expected_if_alive * p_alive(params, x, t_x, T), 0.0)


def expected_purchases_if_alive(
    params: Mapping[str, float], t: ArrayLike, x: ArrayLike, T: ArrayLike
) -> Array:
    """Return E[purchases in (T, T + t] | alive at T, x, T]: depends on (x, T), not t_x."""
    r, alpha, s, beta = (float(params[k]) for k in PARAM_NAMES)
    t, x, T = (np.asarray(v, dtype=float) for v in np.broadcast_arrays(t, x, T))
    log_u = np.log(beta + T) - np.log(beta + T + t)  # log((beta+T)/(beta+T+t)) <= 0
    if abs(s - 1.0) < S_NEAR_ONE:
        lifetime_factor = -log_u
    else:
        lifetime_factor = -np.expm1((s - 1.0) * log_u) / (s - 1.0)
    expected = (r + x) * (beta + T) / (alpha + T) * lifetime_factor
    return np.where(t > 0, np.maximum(expected, 0.0), 0.0)


def _log_bracket(
    r: float, alpha: float, s: float, beta: float, x: Array, t_x: Array, T: Array
) -> tuple[Array, Array]:
    """Return log of [alive term + s/(r+s+x) * A0] and log of the alive term (note 008)."""
    n = r + s + x
    log_alive_term = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
    log_a_tx = _log_a0_part(r, alpha, s, beta, x, t_x)
    log_a_T = _log_a0_part(r, alpha, s, beta, x, T)
    log_c = np.log(s) - np.log(n)
    # log(e^alive + c (e^{a_tx} - e^{a_T})) with a_tx >= a_T; combined around the largest term.
    top = np.maximum(log_alive_term, log_c + log_a_tx)
    inner = (
        np.exp(log_alive_term - top)
        + np.exp(log_c + log_a_tx - top)
        - np.exp(log_c + log_a_T - top)
    )
    log_bracket = np.array(top + np.log(np.maximum(inner, np.finfo(float).tiny)), ndmin=1)
    flat_x, flat_t_x, flat_T = (np.broadcast_to(v, x.shape).ravel() for v in (x, t_x, T))
    for i in np.flatnonzero(np.isnan(log_bracket)):
        # A 2F1 series did not converge (|alpha - beta| dominates and t_x is small).
        log_bracket[i] = _log_bracket_by_quadrature(
            r, alpha, s, beta, flat_x[i], flat_t_x[i], flat_T[i]
        )
    return log_bracket.reshape(np.shape(log_alive_term)), log_alive_term


def _log_bracket_by_quadrature(
    r: float, alpha: float, s: float, beta: float, x: float, t_x: float, T: float
) -> float:
    """Return the log bracket from its definition: alive at T, or died at tau in (t_x, T].

    Dying at tau contributes E[lambda^x e^(-lambda tau)] E[mu e^(-mu tau)], which is
    s (alpha+tau)^-(r+x) (beta+tau)^-(s+1) up to the shared factor; scaled by its value at t_x.
    """
    log_scale = (r + x) * np.log(alpha + t_x) + (s + 1.0) * np.log(beta + t_x)

    def died_at(tau: float) -> float:
        return float(
            s * np.exp(log_scale - (r + x) * np.log(alpha + tau) - (s + 1.0) * np.log(beta + tau))
        )

    with warnings.catch_warnings():
        # Rare fallback rows: QUADPACK's best estimate is kept even if it warns about accuracy.
        warnings.simplefilter("ignore", integrate.IntegrationWarning)
        died, _ = integrate.quad(died_at, t_x, T, epsabs=0.0, epsrel=1e-11, limit=500)
    alive = np.exp(log_scale - (r + x) * np.log(alpha + T) - s * np.log(beta + T))
    return float(np.log(alive + died) - log_scale)


def _log_a0_part(
    r: float, alpha: float, s: float, beta: float, x: Array, time: Array
) -> Array:
    """Return log 2F1(...) / (max(alpha, beta) + time)^(r+s+x) of note 008, eq. 23-24."""
    n = r + s + x
    log_alpha_t = np.log(alpha + time)
    log_beta_t = np.log(beta + time)
    if alpha >= beta:
        # 2F1(n, s+1; n+1; z) = (1-z)^(-s) 2F1(1, r+x; n+1; z), 1 - z = (beta+t)/(alpha+t).
        z = (alpha - beta) / (alpha + time)
        return -(r + x) * log_alpha_t - s * log_beta_t + log_hyp2f1(1.0, r + x, n + 1.0, z)
    # 2F1(n, r+x; n+1; z) = (1-z)^(1-r-x) 2F1(1, s+1; n+1; z), 1 - z = (alpha+t)/(beta+t).
    z = (beta - alpha) / (beta + time)
    log_f = log_hyp2f1(1.0, s + 1.0, n + 1.0, z)
    return (1.0 - r - x) * log_alpha_t - (1.0 + s) * log_beta_t + log_f


def _as_arrays(*values: ArrayLike) -> tuple[Array, ...]:
    return tuple(np.asarray(v, dtype=float) for v in np.broadcast_arrays(*values))


# Gauss-Legendre nodes and weights on [0, 1] for P(a purchase within t).
_LEGENDRE_NODES, _LEGENDRE_WEIGHTS = np.polynomial.legendre.leggauss(24)
LEGENDRE_NODES = (_LEGENDRE_NODES + 1.0) / 2.0
LEGENDRE_WEIGHTS = _LEGENDRE_WEIGHTS / 2.0


def p_purchase_within(
    params: Mapping[str, float], t: ArrayLike, x: ArrayLike, t_x: ArrayLike, T: ArrayLike
) -> Array:
    """Return P(at least one purchase in (T, T + t] | x, t_x, T).

    Given alive at T, rate lambda ~ Gamma(r+x, alpha+T) and death rate mu ~ Gamma(s, beta+T)
    independently, and the first purchase comes at tau before death with density
    E[lambda e^(-lambda tau)] E[e^(-mu tau)]. Substituting u = 1 - ((alpha+T)/(alpha+T+tau))^(r+x)
    (the purchase part integrated exactly) leaves the integral over u in [0, U] of the survival
    ((beta+T)/(beta+T+tau(u)))^s, smooth and within [0, 1]: 24-node Gauss-Legendre, vectorised.
    Multiplied by P(alive).
    """
    r, alpha, s, beta = (float(params[k]) for k in PARAM_NAMES)
    t, x, t_x, T = (np.asarray(v, dtype=float) for v in np.broadcast_arrays(t, x, t_x, T))
    n = r + x
    reach = -np.expm1(-n * np.log1p(t / (alpha + T)))  # U = P(purchase within t | alive, no death)
    u = reach[..., None] * LEGENDRE_NODES
    tau = (alpha + T)[..., None] * np.expm1(-np.log1p(-u) / n[..., None])
    survival = np.exp(-s * np.log1p(tau / (beta + T)[..., None]))
    if_alive = reach * np.sum(LEGENDRE_WEIGHTS * survival, axis=-1)
    return p_alive(params, x, t_x, T) * if_alive
