"""Fit a store's purchase and spend models, score customers, and map scores to bands and tiers.

``fit_store`` fits BG/NBD and Pareto/NBD on the store's summary (identical (x, t_x, T) rows are
aggregated with weights, so 100k customers cost a few thousand likelihood rows), keeps the one with
the higher log-likelihood, and fits Gamma-Gamma on repeat buyers. A store too small for a stable
fit gets a documented prior instead (``basis == "prior"`` and ``reason`` says why): the published
CDNOW estimates, with the rate scale converted to the summary's time unit and the spend scale
matched to the store's own mean order value. ``FittedModel`` round-trips through a JSON dict so a
single customer can be scored later from the stored fit.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from app.core.predict import bgnbd, gammagamma, paretonbd
from app.core.predict.clv import CLV_MONTHS, MONTHLY_DISCOUNT_RATE, discounted_clv
from app.core.predict.summaries import UNIT_DAYS_ATTR

# Below these counts the maximum-likelihood fit is too noisy to trust; the prior is used instead.
MIN_CUSTOMERS_FOR_FIT = 50
MIN_REPEAT_BUYERS_FOR_FIT = 10
# Published CDNOW estimates in weeks: BG/NBD (Fader, Hardie & Lee 2005) and Gamma-Gamma in USD
# (Fader, Hardie & Lee 2005b). Only alpha carries a time unit; gamma carries the currency.
PRIOR_UNIT_DAYS = 7.0
PRIOR_BGNBD = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
PRIOR_GAMMAGAMMA = {"p": 6.25, "q": 3.74, "gamma": 15.44}
# Churn bands on P(alive): below 0.3 the customer has more likely than not gone (high risk),
# 0.3-0.7 is uncertain (medium), 0.7 and above is probably still active (low).
CHURN_HIGH_BELOW = 0.3
CHURN_MEDIUM_BELOW = 0.7
# Value tiers on predicted CLV: the top 20 % of customers are "high", the next 30 % "medium".
VALUE_HIGH_SHARE = 0.2
VALUE_MEDIUM_SHARE = 0.3
# Expected next order is capped so a practically-dead customer gets a large finite number.
MAX_NEXT_ORDER_DAYS = 36_500.0

MODELS = {"bgnbd": bgnbd, "paretonbd": paretonbd}


@dataclass(frozen=True)
class FittedModel:
    """A store's fitted (or prior) purchase and spend model, JSON-serialisable via to_dict."""

    name: str  # "bgnbd" | "paretonbd"
    params: dict[str, float]
    unit_days: float
    log_likelihood: float | None  # None for the prior
    n_customers: int
    basis: str  # "store_fit" | "prior"
    spend_params: dict[str, float]
    spend_basis: str  # "store_fit" | "prior"
    n_repeat_buyers: int = 0
    reason: str = ""
    candidates: dict[str, float] = field(default_factory=dict)  # model name -> log-likelihood

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict of the fit."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FittedModel:
        """Rebuild a fit stored with to_dict."""
        fields = dict(data)
        fields["params"] = {k: float(v) for k, v in fields["params"].items()}
        fields["spend_params"] = {k: float(v) for k, v in fields["spend_params"].items()}
        fields["candidates"] = {k: float(v) for k, v in fields.get("candidates", {}).items()}
        return cls(**fields)


def aggregate_rows(summary: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return unique (x, t_x, T) rows and how many customers share each."""
    rows = summary[["frequency", "recency", "T"]].to_numpy(dtype=float)
    unique, counts = np.unique(rows, axis=0, return_counts=True)
    return unique[:, 0], unique[:, 1], unique[:, 2], counts.astype(float)


def fit_best(summary: pd.DataFrame) -> tuple[str, dict[str, float], float, dict[str, float]]:
    """Fit BG/NBD and Pareto/NBD; return (name, params, log-likelihood, all candidates' LL).

    Both models have four parameters, so the higher log-likelihood is the better fit. A model
    whose optimiser did not converge is left out; ValueError if neither converged.
    """
    x, t_x, T, weights = aggregate_rows(summary)
    candidates: dict[str, tuple[dict[str, float], float]] = {}
    for name, module in MODELS.items():
        params, ll, converged = module.fit(x, t_x, T, weights)
        if converged and math.isfinite(ll) and all(math.isfinite(v) for v in params.values()):
            candidates[name] = (params, ll)
    if not candidates:
        raise ValueError("neither BG/NBD nor Pareto/NBD converged to a finite fit")
    name = max(candidates, key=lambda n: candidates[n][1])
    params, ll = candidates[name]
    return name, params, ll, {n: c[1] for n, c in candidates.items()}


def fit_store(summary: pd.DataFrame) -> FittedModel:
    """Fit the store's models, or return the documented prior when the store is too small."""
    unit_days = float(summary.attrs.get(UNIT_DAYS_ATTR, PRIOR_UNIT_DAYS))
    n_customers = len(summary)
    repeat = summary["frequency"].to_numpy() > 0
    n_repeat = int(repeat.sum())
    spend_params, spend_basis = _fit_spend(summary, repeat)

    reason = ""
    if n_customers < MIN_CUSTOMERS_FOR_FIT:
        reason = f"{n_customers} customers with orders, fewer than {MIN_CUSTOMERS_FOR_FIT}"
    elif n_repeat < MIN_REPEAT_BUYERS_FOR_FIT:
        reason = f"{n_repeat} repeat buyers, fewer than {MIN_REPEAT_BUYERS_FOR_FIT}"
    else:
        try:
            name, params, ll, candidates = fit_best(summary)
        except (ValueError, FloatingPointError, np.linalg.LinAlgError) as exc:
            reason = f"fit failed: {exc}"
        else:
            return FittedModel(
                name=name,
                params=params,
                unit_days=unit_days,
                log_likelihood=ll,
                n_customers=n_customers,
                basis="store_fit",
                spend_params=spend_params,
                spend_basis=spend_basis,
                n_repeat_buyers=n_repeat,
                candidates=candidates,
            )
    return replace(prior_model(unit_days, reason), n_customers=n_customers,
                   spend_params=spend_params, spend_basis=spend_basis, n_repeat_buyers=n_repeat)


def prior_model(unit_days: float = PRIOR_UNIT_DAYS,
                reason: str = "the store has not been fitted yet") -> FittedModel:
    """The documented CDNOW prior, independent of any store's data."""
    return FittedModel(name="bgnbd", params=_prior_bgnbd(unit_days), unit_days=unit_days,
                       log_likelihood=None, n_customers=0, basis="prior",
                       spend_params=dict(PRIOR_GAMMAGAMMA), spend_basis="prior", reason=reason)


def score(
    model: FittedModel,
    summary: pd.DataFrame,
    horizon_days: float = 90,
    *,
    clv_months: int = CLV_MONTHS,
    monthly_discount_rate: float = MONTHLY_DISCOUNT_RATE,
) -> pd.DataFrame:
    """Return per-customer p_alive, expected orders, next-order days, spend and 12-month CLV.

    Columns: ``p_alive``; ``expected_orders_<horizon_days>d`` (``expected_orders_90d`` by
    default); ``expected_next_order_days`` (median days from as_of to the next order if the
    customer is alive, capped at MAX_NEXT_ORDER_DAYS); ``expected_spend`` (per order, from
    Gamma-Gamma); ``predicted_clv_12m`` (discounted, see app.core.predict.clv). The summary
    may be in any time unit (its ``attrs["unit_days"]``); it is converted to the model's.
    """
    module = MODELS[model.name]
    to_model_units = float(summary.attrs.get(UNIT_DAYS_ATTR, model.unit_days)) / model.unit_days
    rows = summary[["frequency", "recency", "T"]].to_numpy(dtype=float, copy=True)
    rows[:, 1:] *= to_model_units
    # Predictions depend on (x, t_x, T) only: compute once per distinct row.
    unique, inverse = np.unique(rows, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    x, t_x, T = unique[:, 0], unique[:, 1], unique[:, 2]
    params = model.params

    def expected_orders_by_days(days: float) -> np.ndarray:
        return module.expected_purchases(params, days / model.unit_days, x, t_x, T)

    alive = module.p_alive(params, x, t_x, T)
    expected_horizon = expected_orders_by_days(float(horizon_days))
    next_days = _median_days_to_next_order(params, x, T, model.unit_days)

    monetary = _column(summary, "monetary")
    spend = gammagamma.expected_spend(model.spend_params, summary["frequency"], monetary)
    clv = discounted_clv(
        lambda days: expected_orders_by_days(days)[inverse],
        spend,
        months=clv_months,
        monthly_discount_rate=monthly_discount_rate,
    )
    horizon_label = f"expected_orders_{horizon_days:g}d"
    return pd.DataFrame(
        {
            "p_alive": alive[inverse],
            horizon_label: expected_horizon[inverse],
            "expected_next_order_days": next_days[inverse],
            "expected_spend": spend,
            "predicted_clv_12m": clv,
        },
        index=summary.index,
    )


def churn_band(p_alive: ArrayLike) -> pd.Series:
    """Return 'high' / 'medium' / 'low' churn risk for P(alive) < 0.3 / < 0.7 / otherwise."""
    values = pd.Series(p_alive, dtype=float)
    bands = np.select(
        [values < CHURN_HIGH_BELOW, values < CHURN_MEDIUM_BELOW], ["high", "medium"], "low"
    )
    return pd.Series(bands, index=values.index, dtype=object)


def value_tier_cutoffs(clv: ArrayLike) -> tuple[float, float]:
    """Return the (high, medium) minimum CLV for the top 20 % and next 30 % of a store."""
    values = np.sort(np.asarray(clv, dtype=float))[::-1]
    if values.size == 0:
        return math.inf, math.inf
    n = values.size
    high_min = values[max(math.ceil(n * VALUE_HIGH_SHARE) - 1, 0)]
    medium_min = values[max(math.ceil(n * (VALUE_HIGH_SHARE + VALUE_MEDIUM_SHARE)) - 1, 0)]
    return float(high_min), float(medium_min)


def value_tiers(clv: ArrayLike, cutoffs: tuple[float, float] | None = None) -> pd.Series:
    """Return 'high' (top 20 %), 'medium' (next 30 %) or 'low'; ties share the better tier."""
    values = pd.Series(clv, dtype=float)
    high_min, medium_min = value_tier_cutoffs(values) if cutoffs is None else cutoffs
    tiers = np.select([values >= high_min, values >= medium_min], ["high", "medium"], "low")
    return pd.Series(tiers, index=values.index, dtype=object)


def _median_days_to_next_order(
    params: dict[str, float], x: np.ndarray, T: np.ndarray, unit_days: float
) -> np.ndarray:
    """Return the median days from as_of to the next order, given the customer is alive.

    Under both models an alive customer's purchase rate has posterior Gamma(r + x, alpha + T), so
    the waiting time is Lomax: P(W > w) = ((alpha+T)/(alpha+T+w))^(r+x), whose median is
    (alpha + T)(2^(1/(r+x)) - 1). It is deliberately conditional on being alive: P(alive) is
    reported beside it, and an unconditional median is infinite for anyone with P(alive) < 1/2.
    """
    shape = params["r"] + x
    median_units = (params["alpha"] + T) * np.expm1(np.minimum(np.log(2.0) / shape, 700.0))
    return np.minimum(median_units * unit_days, MAX_NEXT_ORDER_DAYS)


def _fit_spend(summary: pd.DataFrame, repeat: np.ndarray) -> tuple[dict[str, float], str]:
    """Fit Gamma-Gamma on repeat buyers, or scale the CDNOW prior to the store's order value."""
    monetary = _column(summary, "monetary")
    usable = repeat & (monetary > 0) & np.isfinite(monetary)
    if usable.sum() >= MIN_REPEAT_BUYERS_FOR_FIT:
        params, ll, _converged = gammagamma.fit(summary["frequency"][usable], monetary[usable])
        if math.isfinite(ll) and all(math.isfinite(v) for v in params.values()):
            return params, "store_fit"
    prior = dict(PRIOR_GAMMAGAMMA)
    order_values = _column(summary, "mean_order_value")
    order_values = order_values[np.isfinite(order_values) & (order_values > 0)]
    if order_values.size:
        # Keep p and q (the shape of spend variation) and move gamma so the mean matches the store.
        target_mean = float(np.mean(order_values))
        prior["gamma"] = target_mean * (prior["q"] - 1.0) / prior["p"]
    return prior, "prior"


def _prior_bgnbd(unit_days: float) -> dict[str, float]:
    """Return the CDNOW BG/NBD estimates with alpha converted from weeks to ``unit_days``."""
    params = dict(PRIOR_BGNBD)
    params["alpha"] = params["alpha"] * PRIOR_UNIT_DAYS / unit_days
    return params


def _column(summary: pd.DataFrame, name: str) -> np.ndarray:
    """Return a float column, or zeros when the summary was built without order values."""
    if name in summary:
        return summary[name].to_numpy(dtype=float)
    return np.zeros(len(summary))
