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
    """Sum the 2F1 series of 1-D inputs; return (log |sum|, sign of sum)."""
    # The partial sum is kept as exp(scale) * total so terms far above 1e308 never overflow.
    scale = np.zeros(a.size)
    total = np.ones(a.size)
    log_term = np.zeros(a.size)
    sign_term = np.ones(a.size)
    log_tail_factor = -np.log1p(-np.minimum(z, 1 - 1e-16))
    active = np.flatnonzero((z > 0) & (a != 0) & (b != 0))
    k = 0
    while active.size and k < SERIES_MAX_TERMS:
        ai, bi, ci, zi = a[active], b[active], c[active], z[active]
        ratio = (ai + k) * (bi + k) / ((ci + k) * (k + 1.0)) * zi
        dead = ratio == 0  # a or b is a non-positive integer: the series terminates
        with np.errstate(divide="ignore"):
            log_term[active] += np.log(np.abs(ratio))
        sign_term[active] *= np.sign(ratio)
        lt = log_term[active]
        sc = scale[active]
        grow = lt > sc
        tot = total[active]
        tot = np.where(grow, tot * np.exp(np.minimum(sc - lt, 0.0)), tot)
        sc = np.where(grow, lt, sc)
        tot = tot + np.where(dead, 0.0, sign_term[active] * np.exp(lt - sc))
        total[active] = tot
        scale[active] = sc
        # Stop once the terms shrink geometrically and the tail bound term/(1 - z) is negligible.
        with np.errstate(divide="ignore"):
            log_sum = sc + np.log(np.abs(tot))
        small = lt + log_tail_factor[active] < np.log(SERIES_TOLERANCE) + log_sum
        settled = (np.abs(ratio) < 1.0) & (ci + k > 0)  # past any sign flip of (c)_k
        done = dead | (small & settled) | ~np.isfinite(lt)
        active = active[~done]
        k += 1
    with np.errstate(divide="ignore"):
        log_abs = scale + np.log(np.abs(total))
    sign = np.where(total < 0, -1.0, 1.0)
    log_abs[active] = np.nan  # not converged: the caller integrates instead
    # total is the sum relative to the largest term: below CANCELLATION_LIMIT, alternating terms
    # have cancelled away too many digits (a large negative first parameter); integrate instead.
    log_abs[np.abs(total) < CANCELLATION_LIMIT] = np.nan
    return log_abs, sign
