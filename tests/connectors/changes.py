"""Build TagChange batches for the email destination tests."""

from __future__ import annotations

from connectors.base import TagChange


def change(
    customer_id: int,
    *,
    tags: set[str] | None = None,
    add: set[str] | None = None,
    remove: set[str] | None = None,
    email: str | None = "",
    **properties,
) -> TagChange:
    """One customer's change; the email defaults to c<id>@example.com."""
    tags = {"tw:champions"} if tags is None else tags
    return TagChange(
        customer_id=customer_id,
        platform_customer_id=str(1000 + customer_id),
        email=f"c{customer_id}@example.com" if email == "" else email,
        tags=frozenset(tags),
        add=frozenset(tags if add is None else add),
        remove=frozenset(remove or ()),
        properties=properties,
    )


def many(count: int, start: int = 1) -> list[TagChange]:
    """``count`` customers that all just became champions, with full RFM properties."""
    return [
        change(i, r_score=5, f_score=4, m_score=5, rfm_group="champions",
               predicted_clv_12m=412.5, churn_risk="low",
               expected_next_order_at="2026-12-01T00:00:00+00:00")
        for i in range(start, start + count)
    ]
