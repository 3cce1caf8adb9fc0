"""Reference values by numerical integration of the models' definitions (no 2F1 anywhere)."""

from __future__ import annotations

import warnings

import numpy as np
from scipy import integrate, special

from app.core.predict import bgnbd


def bgnbd_expected_by_integration(params, t, x, t_x, T):
    """Return E[Y(t)|x, t_x, T] from its definition as an integral over the drop-out probability.

    Alive customers have p ~ Beta(a, b + x) and lambda ~ Gamma(r + x, alpha + T); given both,
    E[Y(t)] = (1 - E[exp(-lambda p t)]) / p. The quadrature is the module's own fallback
    (QUADPACK with algebraic end-point weights, split at the beta bulk): plain adaptive
    quadrature misjudges the (1 - p)^(b + x - 1) singularity when b + x is near 0. It involves
    no hypergeometric function, so it is an independent check of the closed form.
    """
    r, alpha, a, b = (params[k] for k in ("r", "alpha", "a", "b"))
    given_alive = bgnbd._expected_if_alive_by_quadrature(r, alpha, a, b, t, x, T)
    return given_alive * float(bgnbd.p_alive(params, x, t_x, T))


def paretonbd_log_likelihood_by_integration(params, x, t_x, T):
    """Return log L(x, t_x, T) from the model's definition, integrating over the death time.

    Alive at T: E[lambda^x e^(-lambda T)] E[e^(-mu T)]. Died at tau in (t_x, T]:
    E[lambda^x e^(-lambda tau)] E[mu e^(-mu tau)], both gamma expectations in closed form, the
    integral over tau by quadrature; no hypergeometric function involved.
    """
    r, alpha, s, beta = (params[k] for k in ("r", "alpha", "s", "beta"))
    log_front = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha) + s * np.log(beta)

    # Everything is scaled by the integrand's largest value (at tau = t_x) to stay in range.
    log_scale = (r + x) * np.log(alpha + t_x) + (s + 1) * np.log(beta + t_x)

    def died_at(tau):
        return s * np.exp(log_scale - (r + x) * np.log(alpha + tau) - (s + 1) * np.log(beta + tau))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", integrate.IntegrationWarning)
        died, _ = integrate.quad(died_at, t_x, T, epsabs=0, epsrel=1e-12, limit=200)
    alive = np.exp(log_scale - (r + x) * np.log(alpha + T) - s * np.log(beta + T))
    return log_front - log_scale + np.log(alive + died)
