"""Pure prediction core: BG/NBD or Pareto/NBD purchases, Gamma-Gamma spend, discounted CLV."""

from app.core.predict.model import (
    FittedModel,
    PredictionError,
    churn_band,
    churn_cutoffs,
    fit_best,
    fit_store,
    prior_model,
    score,
    store_totals,
    value_tier_cutoffs,
    value_tiers,
)
from app.core.predict.summaries import summarise_orders

__all__ = [
    "FittedModel",
    "PredictionError",
    "churn_band",
    "churn_cutoffs",
    "fit_best",
    "fit_store",
    "prior_model",
    "score",
    "store_totals",
    "summarise_orders",
    "value_tier_cutoffs",
    "value_tiers",
]
