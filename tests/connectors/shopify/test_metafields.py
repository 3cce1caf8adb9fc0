"""Customer metafields in the ``tagwise`` namespace: definitions first, values in calls of at
most 25, only what changed, every document valid against the real Admin 2026-07 schema."""

from __future__ import annotations

from datetime import UTC, datetime

from connectors.base import RetryPolicy, TagChange
from connectors.shopify.client import ShopifyClient
from connectors.shopify.metafields import (
    DEFINITIONS_DOCUMENT,
    DELETE_DOCUMENT,
    FIELDS,
    SETS_PER_DOCUMENT,
    ShopifyMetafieldsWriter,
    field_values,
    set_document,
)
from connectors.shopify.writer import ADD_TAGS_MUTATION, CUSTOMER_TAGS_QUERY, build_document
from demo.standins.shopify import ShopifyStandIn, admin_errors
from tests.standins.server import serving

PROFILE = {"rfm_group": "champions", "lifecycle_stage": "lifecycle-active",
           "churn_risk": "low", "predicted_clv_12m": 412.37,
           "expected_next_order_at": datetime(2026, 12, 20, 15, 30, tzinfo=UTC)}


def change(customer_id: int, values: frozenset[str], confirmed: frozenset[str] = frozenset()):
    return TagChange(customer_id=customer_id, platform_customer_id=str(customer_id), email=None,
                     tags=values, add=values - confirmed, remove=confirmed - values)


def writer(shop: ShopifyStandIn, url: str) -> ShopifyMetafieldsWriter:
    client = ShopifyClient(url, shop.access_token, "2026-07",
                           policy=RetryPolicy(max_attempts=2, sleep=lambda s: None))
    return ShopifyMetafieldsWriter(client)


def test_every_document_tagwise_sends_validates_against_the_2026_07_schema():
    tags_document, _ = build_document([change(1, frozenset({"tw:new"}),
                                              frozenset({"tw:dormant"}))])
    for document in (DEFINITIONS_DOCUMENT, DELETE_DOCUMENT, set_document(1),
                     set_document(SETS_PER_DOCUMENT), tags_document, CUSTOMER_TAGS_QUERY,
                     ADD_TAGS_MUTATION):
        assert admin_errors(document) == [], document
    assert admin_errors("mutation { metafieldsSet(metafields: []) { nope } }")  # it bites


def test_values_are_rounded_so_a_rescore_does_not_rewrite_everyone():
    assert field_values(PROFILE) == {
        "rfm_group=champions", "lifecycle_stage=lifecycle-active", "churn_risk=low",
        "predicted_clv_12m=412", "expected_next_order_date=2026-12-20"}
    assert field_values({**PROFILE, "predicted_clv_12m": 411.8}) == field_values(PROFILE)
    assert field_values({"rfm_group": None}) == frozenset()


def test_definitions_then_values_in_calls_of_at_most_25_and_only_changes():
    customers = {str(i): [] for i in range(1, 13)}
    shop = ShopifyStandIn(customers=customers)
    with serving(shop) as url:
        values = field_values(PROFILE)
        outcomes = writer(shop, url).write([change(i, values) for i in range(1, 13)])
        assert {o.status for o in outcomes} == {"ok"} and len(outcomes) == 12
        assert {k[2] for k in shop.metafield_definitions} == set(FIELDS)
        assert shop.metafields["7"]["tagwise.predicted_clv_12m"] == "412"
        assert shop.metafields["7"]["tagwise.expected_next_order_date"] == "2026-12-20"
        # 12 customers × 5 values: 3 calls of ≤ 25 aliased into one document, after the
        # definitions document
        assert len(shop.mutation_requests()) == 2
        sets = shop.mutation_requests()[1]["variables"]
        assert [len(v) for v in sets.values()] == [25, 25, 10]

        moved = field_values({**PROFILE, "churn_risk": "high", "predicted_clv_12m": None})
        again = writer(shop, url).write([change(3, moved, values)])
        assert [o.status for o in again] == ["ok"]
        assert shop.metafields["3"]["tagwise.churn_risk"] == "high"
        assert "tagwise.predicted_clv_12m" not in shop.metafields["3"]  # deleted, not stale
        sent = shop.mutation_requests()[-2]["variables"]["m0"]
        assert [m["key"] for m in sent] == ["churn_risk"]  # only the value that changed


def test_a_refused_call_fails_only_its_own_customers():
    shop = ShopifyStandIn(customers={"1": [], "2": []})
    with serving(shop) as url:
        values = field_values(PROFILE)
        unknown = change(99, values)  # not a customer of the shop
        outcomes = {o.customer_id: o for o in writer(shop, url).write(
            [change(1, values), change(2, values), unknown])}
    # the three share one atomic call: it is sent again without the customer it names
    assert outcomes[99].status == "permanent" and "Owner does not exist" in outcomes[99].error
    assert outcomes[1].status == outcomes[2].status == "ok"
    assert shop.metafields["2"]["tagwise.rfm_group"] == "champions"
