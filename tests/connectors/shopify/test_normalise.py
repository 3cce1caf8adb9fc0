from datetime import UTC, datetime
from decimal import Decimal

import pytest

from connectors.base import CustomerRecord, Deletion, OrderRecord, PayloadError, TagsEcho
from connectors.shopify.normalise import normalise
from tests.conftest import fixture_json
from tests.seeding import order_payload, refund_payload


def test_captured_order_maps_to_shop_money_and_utc():
    [order] = normalise("orders/create", fixture_json("shopify", "orders_create__sample.json"))
    assert isinstance(order, OrderRecord)
    assert order.platform_id == "820982911946154508"
    assert order.total == Decimal("404.95")  # total_price_set.shop_money, not presentment
    assert order.currency == "USD"
    assert order.created_at == datetime(2022, 1, 1, 0, 0, tzinfo=UTC)  # -05:00 → UTC
    assert order.cancelled_at is not None and order.is_test
    assert order.customer.platform_id == "115310627314723954"
    assert order.customer.email == "john@example.com"
    assert sum(i.quantity for i in order.line_items) == 5


def test_guest_order_keeps_the_order_email_and_no_platform_id():
    [order] = normalise("orders/create", order_payload(1, customer_id=None, email="G@x.com"))
    assert order.customer == CustomerRecord(None, "G@x.com", True)


def test_guest_order_without_email_has_no_customer():
    [order] = normalise("orders/create", order_payload(1, customer_id=None, email=None))
    assert order.customer is None


def test_refunds_sum_successful_refund_transactions():
    when = datetime(2026, 11, 2, tzinfo=UTC)
    body = refund_payload(7, 1, "25.50", when)
    body["transactions"].append({"kind": "refund", "status": "failure", "amount": "99"})
    [refund] = normalise("refunds/create", body)
    assert (refund.platform_id, refund.order_platform_id, refund.amount) == ("7", "1",
                                                                            Decimal("25.50"))


def test_customer_topics_and_deletion():
    [customer] = normalise("customers/create",
                           fixture_json("shopify", "customers_create__sample.json"))
    assert customer.platform_id == "706405506930370084" and customer.email == "bob@biller.com"
    assert customer.accepts_marketing is None  # consent fields left the payload in 2025-01
    deletion = fixture_json("shopify", "customers_delete__sample.json")
    assert normalise("customers/delete", deletion) == [Deletion("customer", "706405506930370084")]


def test_tags_added_payload_becomes_an_echo():
    [echo] = normalise("customer.tags_added",
                       fixture_json("shopify", "customer_tags_added__sample.json"))
    assert echo == TagsEcho("1", frozenset({"tag1", "tag2"}), datetime(2005, 5, 5, 5, tzinfo=UTC))


@pytest.mark.parametrize("mutate, reason", [
    (lambda b: b.pop("id"), "id"),
    (lambda b: b.update(created_at="yesterday"), "created_at"),
    (lambda b: b.update(created_at="2026-01-01T00:00:00"), "offset"),
    (lambda b: b.update(total_price="12,50"), "total_price"),
    (lambda b: b.update(line_items="nope"), "line_items"),
    (lambda b: b["line_items"][0].update(quantity="2"), "quantity"),
    (lambda b: b.update(customer=[1]), "customer"),
])
def test_malformed_orders_raise_payload_error_naming_the_field(mutate, reason):
    body = order_payload(1)
    mutate(body)
    with pytest.raises(PayloadError, match=reason):
        normalise("orders/create", body)


def test_non_object_body_is_a_payload_error():
    with pytest.raises(PayloadError):
        normalise("orders/create", [1, 2])
