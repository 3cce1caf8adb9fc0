"""Draw customers from the BG/NBD process with known parameters (for recovery tests)."""

from __future__ import annotations

import numpy as np


def simulate_bgnbd(
    params: dict[str, float], T: np.ndarray, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Return (x, t_x) for customers observed for T after their first purchase."""
    rng = np.random.default_rng(seed)
    n = T.size
    lam = rng.gamma(params["r"], 1.0 / params["alpha"], n)
    p = rng.beta(params["a"], params["b"], n)
    x = np.zeros(n, dtype=np.int64)
    t_x = np.zeros(n)
    clock = np.zeros(n)
    active = np.arange(n)
    while active.size:
        clock[active] += rng.exponential(1.0 / lam[active])
        active = active[clock[active] < T[active]]
        x[active] += 1
        t_x[active] = clock[active]
        # BG/NBD: after each repeat purchase the customer drops out with probability p.
        active = active[rng.random(active.size) >= p[active]]
    return x.astype(float), t_x
