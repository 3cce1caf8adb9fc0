"""One maximiser for every model: penalised (MAP) likelihood, a time budget, the best point kept.

Each model hands over its negative log-likelihood in log-parameters (with its analytic gradient,
or without for central differences), its starting points and bounds. ``maximise`` adds the prior's
log density (a normal on each log-parameter, see ``LogNormalPrior``), stops at the deadline and
keeps the best point it evaluated, and reports the *unpenalised* log-likelihood there. The point
with the best penalised likelihood is accepted whatever the optimiser's "converged" flag says
(L-BFGS-B also stops "abnormally" at flat optima); ``converged`` is reported beside it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import optimize

Array = NDArray[np.float64]
# A gradient below this per customer (in log-parameters) counts as a maximum.
GRADIENT_TOLERANCE_PER_CUSTOMER = 1e-6


# The objective's value where the likelihood is not finite (L-BFGS-B needs a number); a fit
# whose best point is this bad found nothing.
NOT_FINITE = 1e300


class OutOfTime(Exception):
    """Raised inside an objective when the fit's deadline has passed."""


@dataclass(frozen=True)
class LogNormalPrior:
    """Independent normal priors on the log-parameters: centre (log values) and one sd.

    Its weight against the data falls as the store grows (the prior is fixed, the likelihood
    grows with every customer), so small stores are pulled toward the centre and large ones
    are not: maximising likelihood + log prior is the MAP estimate.
    """

    centre: tuple[float, ...]
    sd: float

    def log_density(self, log_params: Array) -> tuple[float, Array]:
        """Return the log density (up to a constant) and its gradient."""
        distance = (np.asarray(log_params) - np.asarray(self.centre)) / self.sd
        return -0.5 * float(distance @ distance), -distance / self.sd

    @property
    def precision(self) -> float:
        """Return 1 / sd^2: the curvature the prior adds to each log-parameter."""
        return 1.0 / self.sd**2


@dataclass(frozen=True)
class Maximum:
    """The best point found: log-parameters, unpenalised and penalised LL, how the search ended."""

    log_params: Array
    log_likelihood: float
    penalised: float
    converged: bool
    timed_out: bool


def maximise(
    negative_ll: Callable[[Array], float | tuple[float, Array]],
    starts: Sequence[Array],
    bounds: Sequence[tuple[float, float]],
    *,
    analytic_gradient: bool,
    n_customers: float,
    prior: LogNormalPrior | None = None,
    deadline: float | None = None,
    options: dict | None = None,
) -> Maximum | None:
    """Maximise the (penalised) likelihood from each start until one converges; None if none
    gave a finite value. ``deadline`` is a ``time.monotonic()`` instant."""
    best: dict[str, object] = {}

    def objective(log_params: Array) -> float | tuple[float, Array]:
        # The starts are always evaluated, so even a spent budget returns the best of them.
        if deadline is not None and "x" in best and time.monotonic() > deadline:
            raise OutOfTime
        value = negative_ll(log_params)
        f, grad = value if analytic_gradient else (value, None)
        penalised = f
        if prior is not None:
            log_prior, prior_grad = prior.log_density(log_params)
            penalised = f - log_prior
            grad = None if grad is None else grad - prior_grad
        if np.isfinite(penalised) and penalised < best.get("penalised", np.inf):
            best.update(penalised=penalised, ll=-f, x=np.array(log_params, dtype=float))
        return (penalised, grad) if analytic_gradient else penalised

    ordered = sorted(starts, key=lambda start: _safe_value(objective, start, analytic_gradient))
    converged = timed_out = False
    for start in ordered:
        try:
            result = optimize.minimize(
                objective, start, jac=True if analytic_gradient else "3-point",
                method="L-BFGS-B", bounds=bounds,
                options=options or {"ftol": 1e-13, "gtol": 1e-9, "maxiter": 1000},
            )
        except OutOfTime:
            timed_out = True
            break
        gradient = np.asarray(result.jac, dtype=float)
        converged = bool(result.success) or bool(
            np.max(np.abs(gradient)) <= GRADIENT_TOLERANCE_PER_CUSTOMER * max(n_customers, 1.0)
        )
        if converged:
            break
    if "x" not in best:
        return None
    return Maximum(best["x"], float(best["ll"]), -float(best["penalised"]), converged, timed_out)


def log_starts(
    starts: Sequence[Sequence[float]],
    warm_start: Mapping[str, float] | None,
    names: Sequence[str],
    bounds: Sequence[tuple[float, float]],
) -> list[Array]:
    """Return the starting points in log-parameters, the warm start (if any) first and clipped
    into the bounds."""
    logged = [np.log(np.asarray(start, dtype=float)) for start in starts]
    if warm_start is not None:
        low, high = np.array(bounds).T
        logged.insert(0, np.clip(np.log([warm_start[k] for k in names]), low, high))
    return logged


def _safe_value(objective: Callable, start: Array, analytic_gradient: bool) -> float:
    """Return the objective at a start, +inf if it cannot be evaluated (or time ran out)."""
    try:
        value = objective(np.asarray(start, dtype=float))
    except OutOfTime:
        return np.inf
    f = value[0] if analytic_gradient else value
    return float(f) if np.isfinite(f) else np.inf


@dataclass(frozen=True)
class CountModel:
    """A purchase-count model (BG/NBD, Pareto/NBD) as the fit sees it: its per-customer
    log-likelihood terms, its scale-aware starting points, its bounds in log-parameters and,
    when it has one, its analytic negative log-likelihood and gradient (else central
    differences). Gives the weighted log-likelihood and the (MAP) fit every model shares."""

    names: tuple[str, ...]
    log_bounds: Sequence[tuple[float, float]]
    terms: Callable[[Mapping[str, float], ArrayLike, ArrayLike, ArrayLike], Array]
    starting_points: Callable[[Array, Array, Array], list[tuple[float, ...]]]
    negative_ll_and_gradient: Callable[[Array, Array, Array, Array, Array],
                                       tuple[float, Array]] | None = None
    options: dict | None = None  # L-BFGS-B options, else ``maximise``'s

    def log_likelihood(self, params: Mapping[str, float], x: ArrayLike, t_x: ArrayLike,
                       T: ArrayLike, weights: ArrayLike | None = None) -> float:
        """Return the total log-likelihood, each row counted ``weights`` times."""
        terms = self.terms(params, x, t_x, T)
        return float(np.sum(terms if weights is None else terms * np.asarray(weights,
                                                                              dtype=float)))

    def fit(self, x: ArrayLike, t_x: ArrayLike, T: ArrayLike, weights: ArrayLike | None = None,
            *, prior: LogNormalPrior | None = None, warm_start: Mapping[str, float] | None = None,
            deadline: float | None = None) -> tuple[dict[str, float], float, bool]:
        """Fit by maximum likelihood (MAP with a prior) on the weighted rows; return
        (params, LL, converged).

        ``warm_start`` (e.g. the store's previous fit) is tried before the scale-aware starts;
        the search stops at ``deadline`` (``time.monotonic()``) with the best point so far,
        reported as not converged. The log-likelihood returned is the data's, without the
        prior; a fit that found no finite likelihood returns the last start, -inf, False.
        """
        x, t_x, T = (np.asarray(v, dtype=float) for v in np.broadcast_arrays(x, t_x, T))
        w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=float)
        starts = log_starts(self.starting_points(x, T, w), warm_start, self.names,
                            self.log_bounds)
        gradient = self.negative_ll_and_gradient

        def objective(log_params: Array) -> float | tuple[float, Array]:
            if gradient is not None:
                return gradient(log_params, x, t_x, T, w)
            ll = self.log_likelihood(dict(zip(self.names, np.exp(log_params), strict=True)),
                                     x, t_x, T, w)
            return -ll if np.isfinite(ll) else NOT_FINITE

        found = maximise(objective, starts, self.log_bounds,
                         analytic_gradient=gradient is not None, n_customers=float(np.sum(w)),
                         prior=prior, deadline=deadline, options=self.options)
        if found is None or found.log_likelihood <= -NOT_FINITE:
            return (dict(zip(self.names, np.exp(starts[-1]).tolist(), strict=True)), -np.inf,
                    False)
        params = dict(zip(self.names, np.exp(found.log_params).tolist(), strict=True))
        return params, found.log_likelihood, found.converged and not found.timed_out
