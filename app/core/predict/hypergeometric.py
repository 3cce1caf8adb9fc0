"""Log of the Gauss hypergeometric function 2F1 by a log-space power series.

``scipy.special.hyp2f1`` overflows or loses accuracy when the first two parameters grow with the
customer's purchase count (``r + x`` with x in the hundreds), which is exactly where the BG/NBD and
Pareto/NBD expressions use it. The callers first apply Euler's transformation
``2F1(a, b; c; z) = (1 - z)^(c - a - b) 2F1(c - a, c - b; c; z)`` so that the parameters that
reach this module stay bounded while ``c`` grows with x, which makes the series converge faster,
not slower, for heavy buyers. The series is summed with a running scale so no term overflows.

For speed, ``log_hyp2f1`` (used by Pareto/NBD, whose transformed 2F1 always has a = 1) takes
SciPy's compiled ``hyp2f1`` where it is trustworthy for a = 1: ``z <= SCIPY_TRUSTED_Z`` and a
finite positive result (tests compare it with the series there). SciPy is *not* used for the
BG/NBD parameters: with a large and b near 0 it is off in the 7th digit. Everything else goes
through the series. Where even the series would need more than ``SERIES_MAX_TERMS`` terms
(z within a few percent of 1), or where alternating terms cancel more than five digits, the
result is NaN and the caller evaluates its quantity by quadrature
of the integral the 2F1 came from.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special

SERIES_TOLERANCE = 1e-15
SERIES_MAX_TERMS = 1_000
SCIPY_TRUSTED_Z = 0.9
CANCELLATION_LIMIT = 1e-5
COMPACT_SHARE = 0.25


def log_hyp2f1(a: ArrayLike, b: ArrayLike, c: ArrayLike, z: ArrayLike) -> NDArray[np.float64]:
    """Return log 2F1(a, b; c; z) (0 <= z < 1, c > 0, positive); NaN where not computable."""
    log_abs, sign = signed_log_hyp2f1(a, b, c, z)
    return np.where(sign > 0, log_abs, np.nan)


def signed_log_hyp2f1(
    a: ArrayLike, b: ArrayLike, c: ArrayLike, z: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Return (log |2F1(a, b; c; z)|, sign) for 0 <= z < 1; NaN log where not computable."""
    a, b, c, z = (np.asarray(v, dtype=float) for v in np.broadcast_arrays(a, b, c, z))
    log_abs = np.empty(a.shape)
    sign = np.ones(a.shape)
    trusted = np.zeros(a.shape, dtype=bool)
    if np.all(a == 1.0):
        with np.errstate(all="ignore"):
            fast = special.hyp2f1(a, b, c, z)
        trusted = (z <= SCIPY_TRUSTED_Z) & (c > 0) & np.isfinite(fast) & (fast > 0)
        log_abs[trusted] = np.log(fast[trusted])
    rest = ~trusted
    if rest.any():
        log_abs[rest], sign[rest] = _series(a[rest], b[rest], c[rest], z[rest])
    return log_abs, sign


def log_hyp2f1_series(
    a: ArrayLike, b: ArrayLike, c: ArrayLike, z: ArrayLike
) -> NDArray[np.float64]:
    """Return log 2F1(a, b; c; z) by the power series in log space; NaN if not converged."""
    a, b, c, z = (np.asarray(v, dtype=float) for v in np.broadcast_arrays(a, b, c, z))
    log_abs, sign = _series(a.ravel(), b.ravel(), c.ravel(), z.ravel())
    return np.where(sign > 0, log_abs, np.nan).reshape(a.shape)


def _series(
    a: NDArray[np.float64], b: NDArray[np.float64], c: NDArray[np.float64], z: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Sum the 2F1 series of 1-D inputs; return (log |sum|, sign of sum).

    All series advance together, one NumPy pass per term. Finished series stop contributing at
    once but are dropped from the working arrays only once a quarter of them are finished
    (COMPACT_SHARE): gathering and scattering every array on every term cost more than the sums.
    """
    # The partial sum is kept as exp(scale) * total so terms far above 1e308 never overflow.
    scale = np.zeros(a.size)
    total = np.ones(a.size)
    converged = np.ones(a.size, dtype=bool)
    idx = np.flatnonzero((z > 0) & (a != 0) & (b != 0))
    ai, bi, ci, zi = a[idx], b[idx], c[idx], z[idx]
    log_tail_factor = -np.log1p(-np.minimum(zi, 1 - 1e-16))
    log_term = np.zeros(idx.size)
    sign_term = np.ones(idx.size)
    sc = np.zeros(idx.size)
    tot = np.ones(idx.size)
    running = np.ones(idx.size, dtype=bool)
    log_tolerance = np.log(SERIES_TOLERANCE)
    k = 0
    while idx.size and k < SERIES_MAX_TERMS:
        ratio = (ai + k) * (bi + k) / ((ci + k) * (k + 1.0)) * zi
        dead = ratio == 0  # a or b is a non-positive integer: the series terminates
        with np.errstate(divide="ignore", invalid="ignore"):
            log_term += np.log(np.abs(ratio))
            sign_term *= np.sign(ratio)
            grow = running & (log_term > sc)
            tot = np.where(grow, tot * np.exp(np.minimum(sc - log_term, 0.0)), tot)
            sc = np.where(grow, log_term, sc)
            tot = tot + np.where(running & ~dead, sign_term * np.exp(log_term - sc), 0.0)
            # Stop once the terms shrink geometrically and the tail bound term/(1 - z) is
            # negligible.
            log_sum = sc + np.log(np.abs(tot))
        small = log_term + log_tail_factor < log_tolerance + log_sum
        settled = (np.abs(ratio) < 1.0) & (ci + k > 0)  # past any sign flip of (c)_k
        running &= ~(dead | (small & settled) | ~np.isfinite(log_term))
        k += 1
        n_running = int(np.count_nonzero(running))
        if n_running <= (1.0 - COMPACT_SHARE) * idx.size:
            done = ~running
            scale[idx[done]], total[idx[done]] = sc[done], tot[done]
            ai, bi, ci, zi, log_tail_factor, log_term, sign_term, sc, tot, idx = (
                v[running] for v in (ai, bi, ci, zi, log_tail_factor, log_term, sign_term, sc,
                                     tot, idx)
            )
            running = np.ones(idx.size, dtype=bool)
    scale[idx], total[idx] = sc, tot
    converged[idx[running]] = False
    with np.errstate(divide="ignore"):
        log_abs = scale + np.log(np.abs(total))
    sign = np.where(total < 0, -1.0, 1.0)
    log_abs[~converged] = np.nan  # not converged: the caller integrates instead
    # total is the sum relative to the largest term: below CANCELLATION_LIMIT, alternating terms
    # have cancelled away too many digits (a large negative first parameter); integrate instead.
    log_abs[np.abs(total) < CANCELLATION_LIMIT] = np.nan
    return log_abs, sign
