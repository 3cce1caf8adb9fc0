"""Shopify reconciliation: what webhooks missed is found, paced by the cost bucket, once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select

from app.storage.models import InboxEvent, Store
from connectors.base import RetryPolicy
from connectors.shopify.client import ShopifyClient
from connectors.shopify.history import PAGE_QUERIES, PAGE_SIZE
from tests.conftest import SHOP
from tests.seeding import (
    CUSTOMER_ID,
    add_store,
    customer_view,
    days_ago,
    deliver,
    order_payload,
    process_pending,
    sync_dirty,
)
from tests.standins.server import serving
from tests.standins.shopify import ShopifyStandIn


class Clock:
    """A clock the stand-in's bucket and the client's pauses share: sleeping moves it."""

    def __init__(self):
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_a_dropped_webhook_is_recovered_by_one_reconciliation_and_reaches_the_tags(
        app, client, shop):
    from tasks.reconcile import reconcile_store

    store_id = add_store(app, shop)
    shop.history.add_customer(CUSTOMER_ID, "john@example.com", days_ago(400))
    delivered_at = days_ago(3)
    shop.history.add_order(1, CUSTOMER_ID, delivered_at, [("", 1, Decimal("80.00"))])
    deliver(client, "orders/create", order_payload(1, created=delivered_at, total="80.00"), "w1")
    assert process_pending(app) == ["done"]
    sync_dirty(app)
    before = set(shop.tags_of(str(CUSTOMER_ID)))
    # Shopify has a second order whose webhook never arrived (updated a minute ago).
    shop.history.add_order(2, CUSTOMER_ID, days_ago(1), [("Shoes", 2, Decimal("30.00"))],
                           updated=datetime.now(UTC) - timedelta(minutes=1))

    counts = reconcile_store.apply(args=[store_id]).get()
    assert counts == {"seen": 3, "new": 3, "rejected": 0}  # the customer and both orders
    sync_dirty(app)
    view = customer_view(client, store_id)
    # The delivered order was dropped as stale, the missed one counted: two orders, not three.
    assert view["profile"]["orders_count"] == 2 and view["profile"]["total_spent"] == 140.0
    assert view["profile"]["top_product_type"] == "Shoes"
    tags = set(shop.tags_of(str(CUSTOMER_ID)))
    assert "VIP" in tags and tags == {s["tag"] for s in view["segments"]} | {"VIP"}
    assert tags != before  # the recovered order moved the customer's segments
    with app.extensions["db"].session() as session:
        watermark = session.get(Store, store_id).reconciled_until
    assert watermark is not None

    writes = len(shop.mutation_requests())
    again = reconcile_store.apply(args=[store_id]).get()
    sync_dirty(app)
    # The overlap window sees the recent order again; its inbox key says it is known.
    assert again == {"seen": 1, "new": 0, "rejected": 0}
    assert len(shop.mutation_requests()) == writes
    assert customer_view(client, store_id)["profile"]["orders_count"] == 2
    with app.extensions["db"].session() as session:
        assert session.execute(select(func.count(InboxEvent.id))).scalar() == 4
        assert session.get(Store, store_id).reconciled_until > watermark


def test_the_reconciler_paces_itself_by_the_bucket_instead_of_being_throttled(app):
    from tasks.reconcile import import_changes

    clock = Clock()
    # A small, slow bucket: each page of orders costs most of it.
    shop = ShopifyStandIn(clock=clock, bucket_size=700.0, restore_rate=50.0)
    shop.history.add_customer(CUSTOMER_ID, "john@example.com", days_ago(400))
    for i in range(1, 3 * PAGE_SIZE + 1):
        shop.history.add_order(i, CUSTOMER_ID, days_ago(90 - i), [("", 1, Decimal("10.00"))])
    with serving(shop) as url:
        shop.url = url
        store_id = add_store(app, shop)
        paced = ShopifyClient(url, shop.access_token, "2026-07", clock=clock,
                              policy=RetryPolicy(max_attempts=4, sleep=clock.sleep))
        counts = import_changes(store_id, None, client=paced)
        assert counts == {"seen": 1 + 3 * PAGE_SIZE, "new": 1 + 3 * PAGE_SIZE, "rejected": 0}
        # Pages two and three waited for the bucket, computed from the last throttleStatus.
        assert shop.throttled == 0
        assert len(clock.slept) == 2 and all(10 < s < 15 for s in clock.slept)

        # Time passes, then another worker of ours spends most of the bucket: this client's
        # last view of it is stale, so its next page is answered THROTTLED, and waited out.
        clock.now += 100
        other = ShopifyClient(url, shop.access_token, "2026-07", clock=clock)
        first_pages = {"first": PAGE_SIZE, "after": None, "query": None}
        for resource in ("orders", "customers", "customers"):
            other.graphql(PAGE_QUERIES[resource], first_pages)
        assert shop.throttled == 0 and shop.available < 22  # less than a page of customers
        again = import_changes(store_id, None, client=paced)
    assert again == {"seen": 1 + 3 * PAGE_SIZE, "new": 0, "rejected": 0}
    assert shop.throttled == 1  # answered THROTTLED once, waited, retried, finished


def test_a_failed_reconciliation_leaves_the_watermark_where_it_was(app, shop):
    from tasks.reconcile import reconcile_store

    store_id = add_store(app, shop)
    shop.fail_next.extend([(401, {})])
    assert reconcile_store.apply(args=[store_id]).get() == {"error": 1}
    with app.extensions["db"].session() as session:
        store = session.get(Store, store_id)
        assert store.reconciled_until is None and store.domain == SHOP


def test_reconcile_all_queues_every_installed_store_of_both_platforms(app, shop):
    from tasks import reconcile

    store_id = add_store(app, shop)
    queued = []
    original = reconcile.reconcile_store.delay
    reconcile.reconcile_store.delay = queued.append
    try:
        assert reconcile.reconcile_all.apply().get() == 1
    finally:
        reconcile.reconcile_store.delay = original
    assert queued == [store_id]
