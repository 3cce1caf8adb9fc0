"""Gamma-Gamma spend model (Fader, Hardie & Lee 2005b; Fader & Hardie 2013, note 025).

Each repeat purchase of a customer is Gamma(p, nu) distributed and nu is Gamma(q, gamma) across
customers, so a customer's mean repeat spend ``m_x`` over ``x`` repeat purchases has the closed-form
density used below. Fitted on repeat buyers only (x > 0, m_x > 0). ``q`` is bounded above 1 because
the population mean spend ``p * gamma / (q - 1)`` does not exist otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import optimize, special

PARAM_NAMES = ("p", "q", "gamma")
Q_MINIMUM = 1.0 + 1e-3
# q above 1e3 means under 3 % spread of customers' mean spend: homogeneous for any purpose here.
BOUNDS = [(1e-3, 1e4), (Q_MINIMUM, 1e3), (1e-6, 1e12)]

Array = NDArray[np.float64]


def log_likelihood_terms(params: Mapping[str, float], x: ArrayLike, m_x: ArrayLike) -> Array:
    """Return each repeat buyer's Gamma-Gamma log-likelihood of its mean spend m_x."""
    p, q, gamma = (float(params[k]) for k in PARAM_NAMES)
    x = np.asarray(x, dtype=float)
    m_x = np.asarray(m_x, dtype=float)
    px = p * x
    return (
        special.gammaln(px + q)
        - special.gammaln(px)
        - special.gammaln(q)
        + q * np.log(gamma)
        + (px - 1.0) * np.log(m_x)
        + px * np.log(x)
        - (px + q) * np.log(gamma + m_x * x)
    )


def log_likelihood(params: Mapping[str, float], x: ArrayLike, m_x: ArrayLike) -> float:
    """Return the total Gamma-Gamma log-likelihood over repeat buyers."""
    return float(np.sum(log_likelihood_terms(params, x, m_x)))


def fit(x: ArrayLike, m_x: ArrayLike) -> tuple[dict[str, float], float, bool]:
    """Fit (p, q, gamma) on repeat buyers; return (params, log-likelihood, converged)."""
    x = np.asarray(x, dtype=float)
    m_x = np.asarray(m_x, dtype=float)
    keep = (x > 0) & (m_x > 0) & np.isfinite(m_x)
    x, m_x = x[keep], m_x[keep]
    scale = float(np.mean(m_x))
    # Spend is rescaled to mean 1 so gamma is O(1) for any currency; gamma scales back linearly
    # (the likelihood of m_x/scale differs from that of m_x only by a constant).
    m_scaled = m_x / scale

    def negative_ll(log_theta: Array) -> tuple[float, Array]:
        # Optimised in log space: the ridge q, gamma -> infinity (no spend heterogeneity) is a
        # straight line there, which L-BFGS-B follows in few steps instead of many.
        theta = np.exp(log_theta)
        ll, grad = _log_likelihood_and_gradient(theta, x, m_scaled)
        if not np.isfinite(ll) or not np.all(np.isfinite(grad)):
            return 1e300, np.zeros(3)
        return -ll, -grad * theta

    starts = sorted(
        (np.log(start) for start in _moment_starts(x, m_scaled)),
        key=lambda start: negative_ll(start)[0],
    )
    best: tuple[dict[str, float], float, bool] | None = None
    # The most likely start usually converges; the others are tried only if it does not.
    for start in starts:
        result = optimize.minimize(
            negative_ll,
            start,
            jac=True,
            method="L-BFGS-B",
            bounds=np.log([BOUNDS[0], BOUNDS[1], (1e-9, 1e9)]),
            options={"ftol": 1e-11, "gtol": 1e-8, "maxiter": 300},
        )
        if best is None or -result.fun > best[1]:
            p, q, gamma = np.exp(result.x)
            params = {"p": float(p), "q": float(q), "gamma": float(gamma * scale)}
            best = (params, -float(result.fun), _converged(result, x.size))
        if best[2]:
            break
    params, _, converged = best  # type: ignore[misc]  # the loop ran at least once
    return params, log_likelihood(params, x, m_x), converged


def expected_spend(params: Mapping[str, float], x: ArrayLike, m_x: ArrayLike) -> Array:
    """Return E[spend per order | x, m_x]; the population mean for customers with x == 0."""
    p, q, gamma = (float(params[k]) for k in PARAM_NAMES)
    x = np.asarray(x, dtype=float)
    m_x = np.where(x > 0, np.asarray(m_x, dtype=float), 0.0)
    return p * (gamma + x * m_x) / (p * x + q - 1.0)


def population_mean_spend(params: Mapping[str, float]) -> float:
    """Return the model's mean spend per order, p * gamma / (q - 1)."""
    return float(params["p"]) * float(params["gamma"]) / (float(params["q"]) - 1.0)


def _log_likelihood_and_gradient(theta: Array, x: Array, m: Array) -> tuple[float, Array]:
    """Return the total log-likelihood and its analytic gradient in (p, q, gamma)."""
    p, q, gamma = theta
    psi = special.digamma
    px = p * x
    log_total = np.log(gamma + m * x)
    ll = log_likelihood({"p": p, "q": q, "gamma": gamma}, x, m)
    d_p = np.sum(x * (psi(px + q) - psi(px) + np.log(m) + np.log(x) - log_total))
    d_q = np.sum(psi(px + q) - psi(q) + np.log(gamma) - log_total)
    d_gamma = np.sum(q / gamma - (px + q) / (gamma + m * x))
    return ll, np.array([d_p, d_q, d_gamma])


def _converged(result: optimize.OptimizeResult, n_customers: float) -> bool:
    """Return whether the optimiser stopped at a maximum.

    L-BFGS-B reports "ABNORMAL" when the line search cannot improve at machine precision, which
    at a flat optimum is success; a gradient below 1e-6 per customer is taken as converged.
    """
    gradient = np.asarray(result.jac, dtype=float)
    return bool(result.success) or bool(np.max(np.abs(gradient)) <= 1e-6 * max(n_customers, 1.0))


def _moment_starts(x: Array, m: Array) -> list[Array]:
    """Return method-of-moments starting points for (p, q, gamma) on mean-1 scaled spend.

    Mean spends alone do not identify p, so a small grid of p is tried and q, gamma are matched
    to the mean and the between-customer variance of m_x for each.
    """
    mean = float(np.mean(m))
    var = float(np.var(m)) if m.size > 1 else 1.0
    weights_x = float(np.mean(1.0 / x))
    starts = []
    for p0 in (1.0, 4.0, 10.0):
        # Var(m_x) = E[Var(m_x|nu)] + Var(E[m_x|nu]) = p E[1/x] E[nu^-2] + p^2 Var(1/nu), with
        # 1/nu ~ inverse gamma: E[1/nu] = gamma/(q-1), Var(1/nu) = E[1/nu]^2/(q-2).
        between = var - mean**2 * weights_x / p0
        q0 = 2.0 + mean**2 / between if between > 0 else 10.0
        q0 = float(np.clip(q0, 1.5, 1e3))
        gamma0 = mean * (q0 - 1.0) / p0
        starts.append(np.array([p0, q0, gamma0]))
    return starts
