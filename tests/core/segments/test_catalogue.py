"""Built-in segment evaluation at its edges."""

from __future__ import annotations

import pandas as pd

from app.core.segments.catalogue import evaluate_builtins

PROFILE_COLUMNS = (
    "churn_risk", "days_since_last_order", "days_until_next_order", "discount_order_share",
    "f_score", "lifecycle_stage", "m_score", "mean_items_per_order",
    "median_days_between_orders", "orders_count", "p_alive", "predicted_clv_12m",
    "preferred_daypart", "preferred_daypart_share", "r_score", "rfm_group", "top_product_type",
    "top_product_type_share", "value_tier", "weekend_order_share")


def test_no_profiles_means_no_memberships() -> None:
    # A batch whose only customer was just deleted refreshes an empty frame; it used to raise
    # (float + str in the explanations) and park the deletion, leaving the customer's tags.
    empty = pd.DataFrame({name: pd.Series(dtype=float) for name in PROFILE_COLUMNS})
    empty["rfm_group"] = empty["rfm_group"].astype(object)
    found = evaluate_builtins(empty, {"default_cadence_days": 45.0})
    assert found.empty and list(found.columns) == ["customer_id", "key", "explanation"]
