"""Time the prediction core on a synthetic store drawn from the BG/NBD process.

Run: ``.venv/bin/python bench/predict_core.py [n_customers]``. Prints seconds per stage.
"""

from __future__ import annotations

import sys
import time

import numpy as np
import pandas as pd

from app.core.predict import fit_store, score, summarise_orders

TRUE_PARAMS = {"r": 0.8, "alpha": 20.0, "a": 0.6, "b": 3.0}  # alpha in days


def simulate_orders(n_customers: int, history_days: int, seed: int = 7) -> pd.DataFrame:
    """Return (customer_id, order_time, value) rows drawn from the BG/NBD process."""
    rng = np.random.default_rng(seed)
    lam = rng.gamma(TRUE_PARAMS["r"], 1.0 / TRUE_PARAMS["alpha"], n_customers)
    p = rng.beta(TRUE_PARAMS["a"], TRUE_PARAMS["b"], n_customers)
    start = rng.uniform(0, history_days, n_customers)
    ids, times = [np.arange(n_customers)], [start]
    clock = start.copy()
    alive = np.ones(n_customers, dtype=bool)
    while alive.any():
        idx = np.flatnonzero(alive)
        clock[idx] += rng.exponential(1.0 / lam[idx])
        ok = clock[idx] < history_days
        alive[idx[~ok]] = False
        idx = idx[ok]
        ids.append(idx)
        times.append(clock[idx])
        alive[idx[rng.random(idx.size) < p[idx]]] = False
    cid = np.concatenate(ids)
    day = np.concatenate(times)
    stamps = np.datetime64("2020-01-01") + (day * 86400).astype("timedelta64[s]")
    # Gamma-Gamma spend: each customer's orders ~ Gamma(p=4, nu), nu ~ Gamma(q=3, gamma=100).
    nu = rng.gamma(3.0, 1.0 / 100.0, n_customers)
    values = rng.gamma(4.0, 1.0 / nu[cid])
    return pd.DataFrame({"customer_id": cid, "order_time": stamps, "value": values})


def main() -> None:
    """Simulate, summarise, fit and score; print timings."""
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    orders = simulate_orders(n, history_days=3 * 365)
    as_of = np.datetime64("2022-12-31")
    began = time.perf_counter()
    summary = summarise_orders(
        orders["customer_id"], orders["order_time"], as_of, values=orders["value"]
    )
    summarised = time.perf_counter()
    model = fit_store(summary)
    fitted = time.perf_counter()
    scores = score(model, summary)
    scored = time.perf_counter()
    print(f"{n} customers, {len(orders)} orders")
    print(f"summarise {summarised - began:.2f}s  fit {fitted - summarised:.2f}s  "
          f"score {scored - fitted:.2f}s")
    print(model.name, model.params, model.candidates)
    print("spend", model.spend_params)
    print(scores.describe().T)


if __name__ == "__main__":
    main()
