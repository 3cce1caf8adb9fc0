"""Pure prediction core: BG/NBD or Pareto/NBD purchases, Gamma-Gamma spend, discounted CLV."""

from app.core.predict.model import (
    FittedModel,
    churn_band,
    fit_best,
    fit_store,
    prior_model,
    score,
    value_tier_cutoffs,
    value_tiers,
)
from app.core.predict.summaries import summarise_orders

__all__ = [
    "FittedModel",
    "churn_band",
    "fit_best",
    "fit_store",
    "prior_model",
    "score",
    "summarise_orders",
    "value_tier_cutoffs",
    "value_tiers",
]
