"""Log of the Gauss hypergeometric function 2F1 by a log-space power series.

``scipy.special.hyp2f1`` overflows or loses accuracy when the first two parameters grow with the
customer's purchase count (``r + x`` with x in the hundreds), which is exactly where the BG/NBD and
Pareto/NBD expressions use it. The callers first apply Euler's transformation
``2F1(a, b; c; z) = (1 - z)^(c - a - b) 2F1(c - a, c - b; c; z)`` so that the parameters that
reach this module stay bounded while ``c`` grows with x, which makes the series converge faster,
not slower, for heavy buyers. The series is summed with a running scale so no term overflows.

For speed, SciPy's compiled ``hyp2f1`` is used where it is trustworthy for these transformed
parameters: ``z <= SCIPY_TRUSTED_Z`` and a finite positive result (tests compare it with the
series there). Everything else (z close to 1, where SciPy returns inf/nan for large parameters)
goes through the series.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special

SERIES_TOLERANCE = 1e-15
SERIES_MAX_TERMS = 200_000
SCIPY_TRUSTED_Z = 0.9


def log_hyp2f1(a: ArrayLike, b: ArrayLike, c: ArrayLike, z: ArrayLike) -> NDArray[np.float64]:
    """Return log 2F1(a, b; c; z) for 0 <= z < 1 and c > 0 where the function is positive."""
    a, b, c, z = (np.asarray(v, dtype=float) for v in np.broadcast_arrays(a, b, c, z))
    with np.errstate(all="ignore"):
        fast = special.hyp2f1(a, b, c, z)
    trusted = (z <= SCIPY_TRUSTED_Z) & np.isfinite(fast) & (fast > 0)
    result = np.empty(a.shape)
    result[trusted] = np.log(fast[trusted])
    rest = ~trusted
    if rest.any():
        result[rest] = log_hyp2f1_series(a[rest], b[rest], c[rest], z[rest])
    return result


def log_hyp2f1_series(
    a: ArrayLike, b: ArrayLike, c: ArrayLike, z: ArrayLike
) -> NDArray[np.float64]:
    """Return log 2F1(a, b; c; z) by the power series summed in log space (0 <= z < 1)."""
    a, b, c, z = (np.asarray(v, dtype=float) for v in np.broadcast_arrays(a, b, c, z))
    shape = a.shape
    a, b, c, z = a.ravel(), b.ravel(), c.ravel(), z.ravel()
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
        done = dead | (small & (np.abs(ratio) < 1.0)) | ~np.isfinite(lt)
        active = active[~done]
        k += 1
    # A sum that cancelled to <= 0 stands for a value below rounding: its log is -inf, not NaN.
    with np.errstate(divide="ignore"):
        result = scale + np.log(np.maximum(total, 0.0))
    if active.size:
        # Series not converged within the budget (z extremely close to 1): fall back to SciPy's
        # implementation, which uses connection formulas there, and keep the partial sum if
        # SciPy cannot give a finite positive value either.
        fallback = special.hyp2f1(a[active], b[active], c[active], z[active])
        ok = np.isfinite(fallback) & (fallback > 0)
        result[active[ok]] = np.log(fallback[ok])
    return result.reshape(shape)
