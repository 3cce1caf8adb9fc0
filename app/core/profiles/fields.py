"""The profile fields: one table that the rule language, the API and the Redis hash agree on.

Types: ``int`` and ``float`` numbers, ``days`` (a number of days, literals may carry a day
unit), ``str``, ``datetime`` (UTC), ``bool`` and ``str_list`` (a set of strings, for ``in``).
A value may be missing (None): a customer with no orders has no ``last_order_at``.
"""

PROFILE_FIELDS: dict[str, str] = {
    "orders_count": "int",
    "total_spent": "float",
    "net_spent": "float",
    "aov": "float",
    "first_order_at": "datetime",
    "last_order_at": "datetime",
    "days_since_first_order": "days",
    "days_since_last_order": "days",
    "mean_days_between_orders": "days",
    "median_days_between_orders": "days",
    "discount_order_share": "float",
    "mean_items_per_order": "float",
    "top_product_type": "str",
    "product_types": "str_list",
    "top_vendor": "str",
    "preferred_weekday": "str",
    "preferred_daypart": "str",
    "weekend_order_share": "float",
    "has_email": "bool",
    "accepts_marketing": "bool",
    "r_score": "int",
    "f_score": "int",
    "m_score": "int",
    "rfm_group": "str",
    "lifecycle_stage": "str",
    "p_alive": "float",
    "expected_orders_90d": "float",
    "expected_next_order_at": "datetime",
    "predicted_clv_12m": "float",
    "value_tier": "str",
    "churn_risk": "str",
}
