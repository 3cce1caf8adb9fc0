"""Stores with real history for API tests: two shops, orders through the pipeline, rescored."""

from __future__ import annotations

from datetime import timedelta

from tests.conftest import SHOP
from tests.shopify_helpers import (
    CUSTOMER_ID,
    days_ago,
    deliver,
    order_payload,
    process_pending,
    sync_dirty,
)

OTHER_SHOP = "other-shop.myshopify.com"


def add_shop(app, shop, domain: str = SHOP) -> int:
    """Add a Shopify store writing tags to the stand-in shop; return its id."""
    result = app.test_cli_runner().invoke(args=[
        "stores", "add", "shopify", "--domain", domain, "--access-token", shop.access_token,
        "--api-base-url", shop.url])
    assert result.exit_code == 0, result.output
    return int(result.output)


def seed_orders(client, app, domain: str = SHOP, first_customer: int = 7000) -> None:
    """The captured customer buys three times; eight others once each; then processing runs."""
    start = days_ago(300)
    for i in range(3):
        deliver(client, "orders/create",
                order_payload(first_customer * 10 + i, created=start + timedelta(days=90 * i)),
                f"{domain}-o{i}", shop=domain)
    for i in range(8):
        deliver(client, "orders/create",
                order_payload(first_customer * 10 + 100 + i, customer_id=first_customer + i,
                              email=f"Buyer{i}@Example.com", created=days_ago(20 * i + 5),
                              total=f"{15 * (i + 1)}.00"), f"{domain}-p{i}", shop=domain)
    process_pending(app)


def rescore(app, store_id: int) -> None:
    """Run ``tagwise rescore`` for the store, then the sync the worker would run."""
    result = app.test_cli_runner().invoke(args=["rescore", "--store", str(store_id)])
    assert result.exit_code == 0, result.output
    sync_dirty(app)


def two_stores(app, client, shop) -> tuple[int, int]:
    """Two shops with customers, profiles and built-in segments; return their ids."""
    first = add_shop(app, shop)
    second = add_shop(app, shop, OTHER_SHOP)
    seed_orders(client, app)
    seed_orders(client, app, OTHER_SHOP, first_customer=8000)
    rescore(app, first)
    rescore(app, second)
    return first, second


__all__ = ["CUSTOMER_ID", "OTHER_SHOP", "add_shop", "rescore", "seed_orders", "two_stores"]
