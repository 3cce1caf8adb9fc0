"""Benchmark Tagwise's prediction core against lifetimes 0.11.3 on one simulated BG/NBD store.

Not a test: it measures and reports. lifetimes is a bench-only dependency and lives in its own
venv, never in the project's (from the repository root, after ``make venv``)::

    make -f bench/Makefile bench-venv        # .venv/bin/python -m venv bench/.venv, then
                                             # bench/.venv/bin/pip install -e '.[test]' \\
                                             #     -r bench/requirements-bench.txt
    bench/.venv/bin/python bench/predict_vs_lifetimes.py [--customers N] [--quick]

The store is simulated once (bench/predict_core.simulate_orders) and saved to a temporary .npz;
each side then runs in its own subprocess so that its peak memory is its own. Per stage
(summaries, BG/NBD fit, Gamma-Gamma fit, scoring = P(alive) + expected purchases in 90 days +
12-month CLV at 1 %/month) it records wall seconds and the peak RSS growth over the stage
(sampled every 2 ms from /proc/self/statm), the peak traced allocation over the stage in one
extra untimed tracemalloc round, and the process's ru_maxrss. Ours is timed over 3 rounds
(median); lifetimes over 1 to 3 rounds, as many as fit in --lifetimes-budget seconds.

Both sides use weeks (days / 7) as the time unit: ours by default (unit_days=7), lifetimes via
``freq="D", freq_multiplier=7``, so the summaries are the same numbers. Differences that remain
by design: lifetimes' CLV uses 4.345 weeks a month, ours 365.25 / 12 / 7 = 4.348; our scoring
also computes the median days to the next order (lifetimes has no equivalent).

Writes bench/results_predict.json and bench/PREDICT_REPORT.md and prints the markdown table.
No compatibility shims were needed: lifetimes 0.11.3 imports and fits under numpy 2.4 /
pandas 3.1 / scipy 1.17 as long as only the fitters and summary utilities are used (its
``generate_data`` module calls the removed ``DataFrame.append`` but is not used here).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))
sys.path.insert(0, str(BENCH_DIR.parent))

from predict_core import TRUE_PARAMS, simulate_orders  # noqa: E402

HISTORY_DAYS = 3 * 365
AS_OF = "2022-12-31"
UNIT_DAYS = 7.0
HORIZON_DAYS = 90.0
CLV_MONTHS = 12
MONTHLY_DISCOUNT = 0.01
STAGES = ("summaries", "bgnbd_fit", "gammagamma_fit", "scoring")
SIG_DIGITS_TARGET = 3
# Same to 3 significant digits: relative difference below half a unit in the third digit.
REL_TOL_3SIG = 5e-3
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")


class RssSampler:
    """Sample this process's resident set size in a background thread; keep the peak."""

    def __init__(self, interval: float = 0.002) -> None:
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def rss() -> int:
        """Return the current RSS in bytes."""
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * PAGE_BYTES

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.rss())
            time.sleep(self.interval)

    def __enter__(self) -> RssSampler:
        self.start = self.rss()
        self.peak = self.start
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.rss())


def measure(stage: Callable[[], Any]) -> tuple[Any, float, float]:
    """Run a stage; return (result, wall seconds, peak memory growth in MiB).

    Timed rounds report peak RSS growth; the untimed tracemalloc round (tracemalloc is on)
    reports the stage's peak traced allocation above what was live when it began, which also
    counts memory the allocator reused from earlier stages (RSS growth does not).
    """
    if tracemalloc.is_tracing():
        live, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        began = time.perf_counter()
        result = stage()
        seconds = time.perf_counter() - began
        return result, seconds, (tracemalloc.get_traced_memory()[1] - live) / 2**20
    with RssSampler() as sampler:
        began = time.perf_counter()
        result = stage()
        seconds = time.perf_counter() - began
    return result, seconds, (sampler.peak - sampler.start) / 2**20


def load_orders(path: str) -> pd.DataFrame:
    """Load the simulated orders saved by the parent process."""
    data = np.load(path)
    return pd.DataFrame(
        {
            "customer_id": data["customer_id"],
            "order_time": data["order_time"],
            "value": data["value"],
        }
    )


# ---------------------------------------------------------------- ours


def ours_round(orders: pd.DataFrame) -> dict[str, Any]:
    """Run our four stages once; return timings, memory, params and predictions."""
    from app.core.predict import bgnbd, fit_store, gammagamma, score, summarise_orders
    from app.core.predict.model import FittedModel, aggregate_rows

    as_of = np.datetime64(AS_OF)
    summary, t_sum, m_sum = measure(
        lambda: summarise_orders(
            orders["customer_id"], orders["order_time"], as_of, values=orders["value"],
            unit_days=UNIT_DAYS,
        )
    )
    (bg_params, bg_ll, bg_ok), t_bg, m_bg = measure(lambda: bgnbd.fit(*aggregate_rows(summary)))

    def fit_spend() -> tuple[dict[str, float], float, bool]:
        frequency = summary["frequency"].to_numpy(dtype=float)
        monetary = summary["monetary"].to_numpy(dtype=float)
        repeat = (frequency > 0) & (monetary > 0)
        return gammagamma.fit(frequency[repeat], monetary[repeat])

    (gg_params, gg_ll, gg_ok), t_gg, m_gg = measure(fit_spend)
    model = FittedModel(
        name="bgnbd", params=bg_params, unit_days=UNIT_DAYS, log_likelihood=bg_ll,
        n_customers=len(summary), basis="store_fit", spend_params=gg_params,
        spend_basis="store_fit",
    )
    scores, t_sc, m_sc = measure(
        lambda: score(
            model, summary, HORIZON_DAYS, clv_months=CLV_MONTHS,
            monthly_discount_rate=MONTHLY_DISCOUNT,
        )
    )
    # What production runs: BG/NBD and Pareto/NBD (keeps the better) plus Gamma-Gamma.
    _, t_store, _ = measure(lambda: fit_store(summary))
    return {
        "fit_store_seconds": t_store,
        "seconds": dict(zip(STAGES, (t_sum, t_bg, t_gg, t_sc), strict=True)),
        "peak_rss_growth_mib": dict(zip(STAGES, (m_sum, m_bg, m_gg, m_sc), strict=True)),
        "bgnbd": {"params": bg_params, "converged": bool(bg_ok)},
        "gammagamma": {"params": gg_params, "converged": bool(gg_ok)},
        "summary": summary,
        "predictions": {
            "p_alive": scores["p_alive"].to_numpy(),
            "expected_90d": scores[f"expected_orders_{HORIZON_DAYS:g}d"].to_numpy(),
            "clv_12m": scores["predicted_clv_12m"].to_numpy(),
        },
    }


# ---------------------------------------------------------------- lifetimes


def lifetimes_round(orders: pd.DataFrame) -> dict[str, Any]:
    """Run lifetimes' four stages once; a failing stage is recorded with its exact error."""
    from lifetimes import BetaGeoFitter, GammaGammaFitter
    from lifetimes.utils import summary_data_from_transaction_data

    out: dict[str, Any] = {"seconds": {}, "peak_rss_growth_mib": {}, "errors": {}}

    def record(stage: str, run: Callable[[], Any]) -> Any:
        try:
            result, seconds, mib = measure(run)
        except Exception as exc:  # noqa: BLE001 - the error itself is the measurement
            out["errors"][stage] = f"{type(exc).__name__}: {exc}"
            return None
        out["seconds"][stage] = seconds
        out["peak_rss_growth_mib"][stage] = mib
        return result

    summary = record(
        "summaries",
        lambda: summary_data_from_transaction_data(
            orders, "customer_id", "order_time", monetary_value_col="value",
            observation_period_end=AS_OF, freq="D", freq_multiplier=UNIT_DAYS,
        ).sort_index(),
    )
    if summary is None:
        return out
    out["summary"] = summary

    def fit_bgnbd() -> BetaGeoFitter:
        return BetaGeoFitter().fit(summary["frequency"], summary["recency"], summary["T"])

    bgf = record("bgnbd_fit", fit_bgnbd)
    out["bgnbd"] = {"converged": bgf is not None}
    if bgf is not None:
        out["bgnbd"]["params"] = {k: float(v) for k, v in bgf.params_.items()}

    repeat = summary[(summary["frequency"] > 0) & (summary["monetary_value"] > 0)]

    def fit_spend() -> GammaGammaFitter:
        return GammaGammaFitter().fit(repeat["frequency"], repeat["monetary_value"])

    ggf = record("gammagamma_fit", fit_spend)
    # lifetimes raises ConvergenceError when scipy's optimiser reports failure.
    out["gammagamma"] = {"converged": ggf is not None}
    if ggf is not None:
        params = {k: float(v) for k, v in ggf.params_.items()}
        out["gammagamma"]["params"] = {"p": params["p"], "q": params["q"], "gamma": params["v"]}
    if bgf is None or ggf is None:
        return out

    def score_all() -> dict[str, np.ndarray]:
        f, r, t = summary["frequency"], summary["recency"], summary["T"]
        alive = bgf.conditional_probability_alive(f, r, t)
        expected = bgf.conditional_expected_number_of_purchases_up_to_time(
            HORIZON_DAYS / UNIT_DAYS, f, r, t
        )
        # Spend for everyone, as ours does: lifetimes shrinks x = 0 customers to the prior mean.
        spend = ggf.conditional_expected_average_profit(f, summary["monetary_value"])
        clv = ggf.customer_lifetime_value(
            bgf, f, r, t, summary["monetary_value"], time=CLV_MONTHS,
            discount_rate=MONTHLY_DISCOUNT, freq="W",
        )
        return {
            "p_alive": np.asarray(alive, dtype=float),
            "expected_90d": np.asarray(expected, dtype=float),
            "expected_spend": np.asarray(spend, dtype=float),
            "clv_12m": np.asarray(clv, dtype=float),
        }

    predictions = record("scoring", score_all)
    if predictions is not None:
        out["predictions"] = predictions
    return out


# ---------------------------------------------------------------- worker


def worker(side: str, data_path: str, out_path: str, rounds: int, budget: float) -> None:
    """Run one side's rounds in this process; write a JSON result plus predictions (.npz)."""
    orders = load_orders(data_path)
    run = ours_round if side == "ours" else lifetimes_round
    results = []
    began = time.perf_counter()
    for index in range(rounds):
        results.append(run(orders))
        if index + 1 < rounds and side == "lifetimes":
            spent = time.perf_counter() - began
            if spent / (index + 1) * (index + 2) > budget:
                break
    max_rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    tracemalloc.start()
    traced = run(orders)  # untimed: tracemalloc slows allocation-heavy code
    tracemalloc.stop()
    first = results[0]
    stages = [s for s in STAGES if all(s in r["seconds"] for r in results)]
    summary = first.get("summary")
    payload = {
        "side": side,
        "rounds": len(results),
        "seconds_median": {s: statistics.median(r["seconds"][s] for r in results) for s in stages},
        "seconds_all": {s: [r["seconds"][s] for r in results] for s in stages},
        "peak_rss_growth_mib_max": {
            s: max(r["peak_rss_growth_mib"][s] for r in results) for s in stages
        },
        "peak_traced_mib": dict(traced["peak_rss_growth_mib"]),
        "fit_store_seconds_median": (
            statistics.median(r["fit_store_seconds"] for r in results)
            if side == "ours" else None
        ),
        "process_max_rss_mib": max_rss_mib,
        "bgnbd": first.get("bgnbd"),
        "gammagamma": first.get("gammagamma"),
        "errors": first.get("errors", {}),
        "n_customers": None if summary is None else len(summary),
        "n_repeat_buyers": None if summary is None else int((summary["frequency"] > 0).sum()),
    }
    Path(out_path).write_text(json.dumps(payload, indent=2, default=float))
    arrays = dict(first.get("predictions", {}))
    if summary is not None:
        arrays["customer_id"] = summary.index.to_numpy()
        arrays["frequency"] = summary["frequency"].to_numpy(dtype=float)
        arrays["recency"] = summary["recency"].to_numpy(dtype=float)
        arrays["T"] = summary["T"].to_numpy(dtype=float)
        money = "monetary" if "monetary" in summary else "monetary_value"
        arrays["monetary"] = summary[money].to_numpy(dtype=float)
    np.savez(out_path + ".npz", **arrays)


# ---------------------------------------------------------------- parent


def run_side(side: str, data_path: str, workdir: str, rounds: int, budget: float) -> dict:
    """Run one side in a fresh subprocess; return its JSON result and prediction arrays."""
    out_path = os.path.join(workdir, f"{side}.json")
    command = [
        sys.executable, __file__, "--worker", side, "--data", data_path, "--out", out_path,
        "--rounds", str(rounds), "--lifetimes-budget", str(budget),
    ]
    began = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        return {"side": side, "crashed": done.stderr[-4000:], "errors": {"process": "crashed"}}
    result = json.loads(Path(out_path).read_text())
    result["subprocess_wall_seconds"] = time.perf_counter() - began
    with np.load(out_path + ".npz") as arrays:
        result["arrays"] = {k: arrays[k] for k in arrays.files}
    return result


def max_rel_diff(ours: np.ndarray, theirs: np.ndarray, floor: float = 0.0) -> float:
    """Return max |ours - theirs| / max(|theirs|, floor) over finite pairs."""
    ok = np.isfinite(ours) & np.isfinite(theirs)
    denom = np.maximum(np.abs(theirs[ok]), floor)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.abs(ours[ok] - theirs[ok]) / denom
    rel = rel[np.isfinite(rel)]
    return float(rel.max()) if rel.size else float("nan")


def compare(ours: dict, theirs: dict) -> dict[str, Any]:
    """Compare parameters, summaries and predictions of the two sides."""
    from app.core.predict import bgnbd, gammagamma

    comparison: dict[str, Any] = {"params": {}}
    a, b = ours["arrays"], theirs.get("arrays", {})
    for model in ("bgnbd", "gammagamma"):
        mine = (ours.get(model) or {}).get("params")
        other = (theirs.get(model) or {}).get("params")
        if not mine or not other:
            continue
        for name, value in mine.items():
            rel = abs(value - other[name]) / abs(other[name])
            comparison["params"][f"{model}.{name}"] = {
                "ours": value, "lifetimes": other[name], "rel_diff": rel,
                "same_3_sig_digits": f"{value:.3g}" == f"{other[name]:.3g}",
            }
        # Both parameter sets scored by the same likelihood: who found the higher maximum.
        if model == "bgnbd":
            args = (a["frequency"], a["recency"], a["T"])
            ll = (bgnbd.log_likelihood(mine, *args), bgnbd.log_likelihood(other, *args))
        else:
            keep = (a["frequency"] > 0) & (a["monetary"] > 0)
            args = (a["frequency"][keep], a["monetary"][keep])
            ll = (gammagamma.log_likelihood(mine, *args), gammagamma.log_likelihood(other, *args))
        comparison[f"{model}_log_likelihood"] = {"ours": ll[0], "lifetimes": ll[1]}
    if "customer_id" in b and np.array_equal(a["customer_id"], b["customer_id"]):
        comparison["summaries_max_abs_diff"] = {
            k: float(np.max(np.abs(a[k] - b[k]))) for k in ("frequency", "recency", "T", "monetary")
        }
        comparison["predictions_max_rel_diff"] = {
            # CLV and expected orders can be ~0 for dead customers: floor the denominator.
            "p_alive": max_rel_diff(a["p_alive"], b["p_alive"], 1e-6),
            "expected_90d": max_rel_diff(a["expected_90d"], b["expected_90d"], 1e-6),
            "clv_12m": max_rel_diff(a["clv_12m"], b["clv_12m"], 1e-3),
        } if "p_alive" in b else {}
        if "p_alive" in b and ours.get("bgnbd") and ours.get("gammagamma"):
            comparison["clv_12m_max_rel_diff_with_lifetimes_month"] = max_rel_diff(
                _clv_with_lifetimes_month(ours, a), b["clv_12m"], 1e-3
            )
        if "p_alive" in b:
            comparison["predictions_nonfinite_lifetimes"] = {
                k: int((~np.isfinite(b[k])).sum()) for k in ("p_alive", "expected_90d", "clv_12m")
            }
    return comparison


def _clv_with_lifetimes_month(ours: dict, a: dict[str, np.ndarray]) -> np.ndarray:
    """Return our CLV recomputed with lifetimes' 4.345-week month, to isolate that difference."""
    from app.core.predict import bgnbd, gammagamma
    from app.core.predict.clv import DAYS_PER_MONTH, discounted_clv

    params = ours["bgnbd"]["params"]
    stretch = 4.345 * UNIT_DAYS / DAYS_PER_MONTH
    spend = gammagamma.expected_spend(ours["gammagamma"]["params"], a["frequency"], a["monetary"])
    return discounted_clv(
        lambda days: bgnbd.expected_purchases(
            params, days * stretch / UNIT_DAYS, a["frequency"], a["recency"], a["T"]
        ),
        spend,
        months=CLV_MONTHS,
        monthly_discount_rate=MONTHLY_DISCOUNT,
    )


def machine() -> dict[str, Any]:
    """Return the machine and library versions for the report header."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        lifetimes_version = version("Lifetimes")
    except PackageNotFoundError:
        lifetimes_version = "not installed"
    return {
        "cpu_count": os.cpu_count(),
        "cpu": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "pandas": pd.__version__,
        "lifetimes": lifetimes_version,
    }


def fmt(value: Any, spec: str) -> str:
    """Format a number, or '-' when missing."""
    return "-" if value is None else format(value, spec)


def markdown_table(ours: dict, theirs: dict) -> str:
    """Return the per-stage timing and memory table."""
    lines = [
        "| stage | ours s (median) | lifetimes s (median) | lifetimes ÷ ours "
        "| ours peak MiB | lifetimes peak MiB |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for stage in (*STAGES, "total"):
        if stage == "total":
            o = sum(ours["seconds_median"].values())
            t = (
                sum(theirs["seconds_median"].values())
                if len(theirs.get("seconds_median", {})) == len(STAGES) else None
            )
            om, tm = ours["process_max_rss_mib"], theirs.get("process_max_rss_mib")
            label = "total (peak = process max RSS)"
        else:
            o = ours["seconds_median"].get(stage)
            t = theirs.get("seconds_median", {}).get(stage)
            om = ours["peak_traced_mib"].get(stage)
            tm = theirs.get("peak_traced_mib", {}).get(stage)
            label = stage
            if t is None and stage in theirs.get("errors", {}):
                t_err = theirs["errors"][stage]
                lines.append(f"| {label} | {fmt(o, '.3f')} | failed: {t_err[:80]} | - | "
                             f"{fmt(om, '.0f')} | - |")
                continue
        speed = None if (o is None or t is None or o == 0) else t / o
        lines.append(f"| {label} | {fmt(o, '.3f')} | {fmt(t, '.3f')} | {fmt(speed, '.1f')}x | "
                     f"{fmt(om, '.0f')} | {fmt(tm, '.0f')} |")
    return "\n".join(lines)


def params_table(comparison: dict) -> str:
    """Return the parameter comparison table."""
    lines = ["| parameter | ours | lifetimes | rel. diff | same to 3 sig. digits |",
             "|---|---:|---:|---:|---|"]
    for name, row in comparison["params"].items():
        lines.append(f"| {name} | {row['ours']:.6g} | {row['lifetimes']:.6g} | "
                     f"{row['rel_diff']:.2e} | {'yes' if row['same_3_sig_digits'] else 'no'} |")
    return "\n".join(lines)


def write_report(results: dict, table: str, path: Path) -> None:
    """Write bench/PREDICT_REPORT.md from the results."""
    m, ours, theirs, comp = (
        results["machine"], results["ours"], results["lifetimes"], results["comparison"]
    )
    targets = results["targets"]
    text = [
        "# Prediction core vs lifetimes 0.11.3",
        "",
        f"Generated by `bench/predict_vs_lifetimes.py --customers {results['n_customers']}` "
        f"on {results['generated_at']}.",
        "",
        f"Machine: {m['cpu_count']} CPUs ({m['cpu']}), Python {m['python']}, numpy {m['numpy']}, "
        f"scipy {m['scipy']}, pandas {m['pandas']}, lifetimes {m['lifetimes']}.",
        "",
        f"Data: {results['n_customers']} customers, {results['n_orders']} orders simulated from "
        f"BG/NBD (true r={TRUE_PARAMS['r']}, alpha={TRUE_PARAMS['alpha']} days = "
        f"{TRUE_PARAMS['alpha'] / UNIT_DAYS:.4g} weeks, a={TRUE_PARAMS['a']}, "
        f"b={TRUE_PARAMS['b']}; spend Gamma-Gamma p=4, q=3, gamma=100) over {HISTORY_DAYS} days, "
        f"as of {AS_OF}; {ours.get('n_repeat_buyers')} repeat buyers. Time unit: weeks.",
        "",
        f"Rounds: ours {ours['rounds']} (median shown), lifetimes {theirs.get('rounds', 0)} "
        "(median shown). Peak MiB per stage = peak tracemalloc-traced allocation above what was "
        "live at the stage's start, from one extra untimed round (numpy and pandas buffers are "
        "traced); the total row shows each side's whole-process max RSS over the timed rounds "
        "(its own subprocess, including the interpreter, libraries and the loaded orders). "
        "Peak RSS growth per stage (2 ms sampling) is in the JSON as peak_rss_growth_mib_max; "
        "it under-reports stages that reuse memory freed by earlier ones.",
        "",
        "## Time and memory",
        "",
        table,
        "",
        "## Parameters",
        "",
        params_table(comp) if comp["params"] else "lifetimes produced no parameters.",
        "",
    ]
    for model in ("bgnbd", "gammagamma"):
        ll = comp.get(f"{model}_log_likelihood")
        if ll:
            text.append(f"- {model} log-likelihood at each side's estimate (our likelihood "
                        f"function, all rows): ours {ll['ours']:.6f}, lifetimes "
                        f"{ll['lifetimes']:.6f} (difference {ll['ours'] - ll['lifetimes']:.3g}).")
    text.append(f"- lifetimes BG/NBD fit converged: {theirs.get('bgnbd', {}).get('converged')}; "
                f"Gamma-Gamma fit converged: {theirs.get('gammagamma', {}).get('converged')}.")
    if "clv_12m_max_rel_diff_with_lifetimes_month" in comp:
        text.append("- CLV max relative difference once our CLV uses lifetimes' 4.345-week month: "
                    f"{comp['clv_12m_max_rel_diff_with_lifetimes_month']:.2e}.")
    if ours.get("fit_store_seconds_median") is not None:
        text.append("- Our production fit path `fit_store` (BG/NBD and Pareto/NBD, keeps the "
                    "better, plus Gamma-Gamma; lifetimes has no equivalent): "
                    f"{ours['fit_store_seconds_median']:.3f} s median.")
    text.append("- Our scoring stage is `score()`, which also computes expected spend and the "
                "median days to the next order; lifetimes' scoring stage is P(alive), expected "
                "purchases, expected average profit and `customer_lifetime_value`.")
    if "summaries_max_abs_diff" in comp:
        text.append(f"- Summaries max abs difference: {comp['summaries_max_abs_diff']}.")
    if comp.get("predictions_max_rel_diff"):
        text.append(f"- Predictions max relative difference: {comp['predictions_max_rel_diff']} "
                    "(the CLV difference is the month length: lifetimes uses 4.345 weeks, ours "
                    "4.348). Non-finite lifetimes predictions: "
                    f"{comp.get('predictions_nonfinite_lifetimes')}.")
    if theirs.get("errors"):
        text.append(f"- lifetimes errors: {theirs['errors']}")
    if theirs.get("crashed"):
        text += ["- lifetimes subprocess crashed:", "", "```", theirs["crashed"], "```"]
    text += ["", "## Targets", ""]
    for name, met in targets.items():
        text.append(f"- {name}: {'met' if met else 'NOT met'}")
    path.write_text("\n".join(text) + "\n")


def main() -> None:
    """Simulate once, run both sides in subprocesses, compare and report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument(
        "--quick", action="store_true", help="10k customers, 1 lifetimes round, print only"
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--lifetimes-budget", type=float, default=300.0,
                        help="seconds lifetimes' rounds may take in all (1 round at least)")
    parser.add_argument("--worker", choices=("ours", "lifetimes"))
    parser.add_argument("--data")
    parser.add_argument("--out")
    parser.add_argument("--no-write", action="store_true", help="print only (no report files)")
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.data, args.out, args.rounds, args.lifetimes_budget)
        return
    n = 10_000 if args.quick else args.customers
    budget = 0.0 if args.quick else args.lifetimes_budget
    with tempfile.TemporaryDirectory(prefix="tagwise-bench-") as workdir:
        began = time.perf_counter()
        orders = simulate_orders(n, history_days=HISTORY_DAYS)
        simulate_seconds = time.perf_counter() - began
        data_path = os.path.join(workdir, "orders.npz")
        np.savez(
            data_path, customer_id=orders["customer_id"].to_numpy(),
            order_time=orders["order_time"].to_numpy(), value=orders["value"].to_numpy(),
        )
        print(f"simulated {n} customers, {len(orders)} orders in {simulate_seconds:.1f}s",
              flush=True)
        ours = run_side("ours", data_path, workdir, args.rounds, budget)
        if "crashed" in ours:
            sys.exit(f"our side crashed:\n{ours['crashed']}")
        print(f"ours done in {ours['subprocess_wall_seconds']:.1f}s", flush=True)
        theirs = run_side("lifetimes", data_path, workdir, args.rounds, budget)
        print(f"lifetimes done ({theirs.get('subprocess_wall_seconds', 0):.1f}s)", flush=True)
    comparison = compare(ours, theirs)
    params_ok = bool(comparison["params"]) and all(
        row["same_3_sig_digits"] for row in comparison["params"].values()
    )
    targets = {
        "BG/NBD and Gamma-Gamma parameters equal to 3 significant digits": params_ok,
        "lifetimes Gamma-Gamma fit converged": bool(
            (theirs.get("gammagamma") or {}).get("converged")
        ),
        "ours faster than lifetimes in total": (
            len(theirs.get("seconds_median", {})) == len(STAGES)
            and sum(ours["seconds_median"].values()) < sum(theirs["seconds_median"].values())
        ),
    }
    ours.pop("arrays")
    theirs.pop("arrays", None)
    results = {
        "generated_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": machine(),
        "n_customers": n,
        "n_orders": len(orders),
        "ours": ours,
        "lifetimes": theirs,
        "comparison": comparison,
        "targets": targets,
    }
    table = markdown_table(ours, theirs)
    print(table)
    print(params_table(comparison) if comparison["params"] else "no lifetimes parameters")
    print(json.dumps({k: v for k, v in comparison.items() if k != "params"}, indent=1))
    print(json.dumps(targets, indent=1))
    if not (args.no_write or args.quick):  # --quick must not clobber the committed 100k report
        (BENCH_DIR / "results_predict.json").write_text(
            json.dumps(results, indent=2, default=float) + "\n"
        )
        write_report(results, table, BENCH_DIR / "PREDICT_REPORT.md")
        print("wrote bench/results_predict.json and bench/PREDICT_REPORT.md")


if __name__ == "__main__":
    main()
