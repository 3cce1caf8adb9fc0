"""Reading a shop's history: GraphQL nodes normalise like webhooks; bulk JSONL reassembles."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from graphql import parse, validate

from connectors.base import PayloadError
from connectors.shopify.history import (
    PAGE_QUERIES,
    PAGE_SIZE,
    PRODUCT_TYPES_QUERY,
    PRODUCTS_PER_QUERY,
    bulk_query,
    read_records,
)
from connectors.shopify.normalise import normalise, rest_customer, rest_order
from demo.standins.shopify import SCHEMA, admin_errors
from demo.standins.shopify_history import MAX_QUERY_COST, ShopHistory, money, query_cost
from tests.seeding import CUSTOMER_ID, order_payload, refund_payload

WHEN = datetime(2026, 10, 3, 14, 30, tzinfo=UTC)


def graphql_node_of(webhook: dict) -> dict:
    """The same order as Admin GraphQL shows it (field names from the Order object docs)."""
    buyer = webhook["customer"]
    return {
        "id": f"gid://shopify/Order/{webhook['id']}", "createdAt": "2026-10-03T14:30:00Z",
        "updatedAt": "2026-10-03T14:30:00Z", "cancelledAt": None, "test": False,
        "email": webhook["email"], "currencyCode": "USD", "customerAcceptsMarketing": True,
        "displayFinancialStatus": "PARTIALLY_REFUNDED", "discountCodes": ["SPRING"],
        "totalPriceSet": money(webhook["total_price"]),
        "subtotalPriceSet": money(webhook["subtotal_price"]),
        "totalDiscountsSet": money(webhook["total_discounts"]),
        "customer": {"id": f"gid://shopify/Customer/{buyer['id']}",
                     "createdAt": buyer["created_at"], "updatedAt": buyer["updated_at"],
                     "defaultEmailAddress": {"emailAddress": buyer["email"],
                                             "marketingState": "SUBSCRIBED"}},
        "refunds": [{"id": "gid://shopify/Refund/77", "createdAt": "2026-10-04T00:00:00Z",
                     "totalRefundedSet": money("12.50")}],
        "lineItems": {"edges": [{"node": {
            "id": f"gid://shopify/LineItem/{item['id']}", "quantity": item["quantity"],
            "vendor": item["vendor"],
            "variant": ({"id": f"gid://shopify/ProductVariant/{item['variant_id']}"}
                        if item["variant_id"] else None),
            "product": ({"id": f"gid://shopify/Product/{item['product_id']}",
                         "productType": ""} if item["product_id"] else None),
            "originalUnitPriceSet": money(item["price"])}} for item in webhook["line_items"]]},
    }


def test_a_webhook_and_the_graphql_node_of_the_same_order_give_the_same_records():
    webhook = order_payload(5001, created=WHEN, total="392.45", discount="12.50",
                            refunds=[refund_payload(77, 5001, "12.50",
                                                    datetime(2026, 10, 4, tzinfo=UTC))])
    webhook.update(subtotal_price="404.95", financial_status="partially_refunded",
                   discount_codes=[{"code": "SPRING", "amount": "12.50"}])
    webhook["customer"].update(created_at="2025-01-02T03:04:05Z",
                               updated_at="2026-10-03T14:30:00Z")
    from_webhook = normalise("orders/create", webhook)
    from_graphql = normalise("orders/updated", rest_order(graphql_node_of(webhook)))
    assert from_graphql == from_webhook
    [order] = from_graphql
    assert order.customer.platform_id == str(CUSTOMER_ID) and order.refunds[0].amount == 12.5


def test_a_customer_node_keeps_email_and_consent_from_its_default_address():
    node = ShopHistory().add_customer(42, "a@example.com", WHEN, subscribed=True)
    [record] = normalise("customers/update", rest_customer(node))
    assert (record.platform_id, record.email, record.accepts_marketing) == (
        "42", "a@example.com", True)
    assert record.updated_at == WHEN


@pytest.mark.parametrize("bad", [{"id": "gid://shopify/Customer/1"}, {"id": 5}, {}])
def test_an_order_node_without_an_order_gid_is_rejected(bad):
    with pytest.raises(PayloadError):
        rest_order(bad)


def test_every_document_is_valid_against_the_admin_schema_slice_and_affordable():
    for resource in ("customers", "orders"):
        assert validate(SCHEMA, parse(bulk_query(resource, WHEN))) == []
        assert validate(SCHEMA, parse(PAGE_QUERIES[resource])) == []
        cost = query_cost(PAGE_QUERIES[resource], {"first": PAGE_SIZE})
        assert cost <= MAX_QUERY_COST, f"{resource} page costs {cost}"
    assert "updated_at:>'2026-10-03T14:30:00+00:00'" in bulk_query("orders", WHEN)


def test_the_product_type_lookup_is_valid_for_the_real_admin_schema_and_affordable():
    assert admin_errors(PRODUCT_TYPES_QUERY) == []
    ids = [f"gid://shopify/Product/{n}" for n in range(PRODUCTS_PER_QUERY)]
    assert query_cost(PRODUCT_TYPES_QUERY, {"ids": ids}) == PRODUCTS_PER_QUERY <= MAX_QUERY_COST


def lines_of(*objects: dict) -> list[bytes]:
    return [json.dumps(o).encode() for o in objects]


def test_bulk_lines_are_reassembled_into_orders_with_their_line_items():
    lines = lines_of(
        {"id": "gid://shopify/Order/1"},
        {"id": "gid://shopify/LineItem/11", "__parentId": "gid://shopify/Order/1"},
        {"id": "gid://shopify/LineItem/12", "__parentId": "gid://shopify/Order/1"},
        {"id": "gid://shopify/Order/2"},
        {"id": "gid://shopify/Order/3"},
        {"id": "gid://shopify/LineItem/31", "__parentId": "gid://shopify/Order/3"},
    )
    records = list(read_records(lines))
    assert [(r["id"].rsplit("/", 1)[1], len(r.get("lineItems", {}).get("edges", [])), used)
            for r, used in records] == [("1", 2, 3), ("2", 0, 4), ("3", 1, 6)]


def test_ungrouped_bulk_output_is_refused_rather_than_misassembled():
    lines = lines_of({"id": "gid://shopify/Order/1"}, {"id": "gid://shopify/Order/2"},
                     {"id": "gid://shopify/LineItem/11", "__parentId": "gid://shopify/Order/1"})
    with pytest.raises(PayloadError, match="groupObjects"):
        list(read_records(lines))


def test_a_line_that_is_not_json_is_a_payload_error_naming_the_line():
    with pytest.raises(PayloadError, match="line 2"):
        list(read_records([b'{"id": "gid://shopify/Order/1"}', b"{oops"]))
