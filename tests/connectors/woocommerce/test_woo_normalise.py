"""normalise_record() on the real REST v3 fixtures and on variants built from them."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.base import CustomerRecord, Deletion, OrderRecord, PayloadError, RefundRecord
from connectors.woocommerce.normalise import category_from_product, normalise_record


def order_variant(order: dict[str, Any], **changes: Any) -> dict[str, Any]:
    variant = copy.deepcopy(order)
    variant.update(changes)
    return variant


# --------------------------------------------------------------------------- the real order


def test_fixture_order_maps_money_dates_and_lines(order_payload) -> None:
    record = normalise_record("order.created", order_payload)

    assert isinstance(record, OrderRecord)
    assert record.platform_id == "727"
    assert record.currency == "USD"
    assert record.total == Decimal("29.35")
    assert record.subtotal == Decimal("18.00")  # line totals after discount, before tax/shipping
    assert record.discount_total == Decimal("0.00")
    assert record.discount_codes == ()
    assert record.financial_status == "paid"  # processing = paid, not shipped
    assert record.cancelled_at is None
    assert record.refunds == ()
    # date_created_gmt, not the site-local date_created three hours earlier
    assert record.created_at == datetime(2017, 3, 22, 19, 28, 2, tzinfo=UTC)
    assert record.updated_at == datetime(2017, 3, 22, 19, 28, 8, tzinfo=UTC)
    simple, variable = record.line_items
    assert (simple.product_id, simple.variant_id, simple.quantity, simple.price) == (
        "93",
        None,
        2,
        Decimal("3"),
    )
    assert (variable.product_id, variable.variant_id, variable.quantity, variable.price) == (
        "22",
        "23",
        1,
        Decimal("12"),
    )
    assert simple.product_type is None and simple.vendor is None


def test_fixture_guest_order_keeps_the_billing_email(order_payload) -> None:
    record = normalise_record("order.created", order_payload)
    assert order_payload["customer_id"] == 0
    assert record.customer == CustomerRecord(platform_id=None, email="john.doe@example.com")


def test_registered_customer_order_carries_the_customer_id(order_payload) -> None:
    record = normalise_record("order.updated", order_variant(order_payload, customer_id=25))
    assert record.customer.platform_id == "25"
    assert record.customer.email == "john.doe@example.com"


def test_guest_without_email_has_no_customer(order_payload) -> None:
    variant = order_variant(order_payload)
    variant["billing"]["email"] = ""
    assert normalise_record("order.created", variant).customer is None


def test_coupons_and_discount(order_payload) -> None:
    variant = order_variant(
        order_payload,
        discount_total="4.50",
        coupon_lines=[
            {"id": 320, "code": "spring10", "discount": "3.00", "discount_tax": "0.00"},
            {"id": 321, "code": "vip", "discount": "1.50", "discount_tax": "0.00"},
        ],
    )
    record = normalise_record("order.updated", variant)
    assert record.discount_total == Decimal("4.50")
    assert record.discount_codes == ("spring10", "vip")


def test_refunds_become_positive_refund_records(order_payload) -> None:
    variant = order_variant(
        order_payload,
        date_modified_gmt="2017-03-25T10:00:00",
        refunds=[{"id": 726, "reason": "", "total": "-10.00"}, {"id": 729, "total": "-2.35"}],
    )
    record = normalise_record("order.updated", variant)
    assert record.refunds == (
        RefundRecord("726", "727", Decimal("10.00"), datetime(2017, 3, 25, 10, tzinfo=UTC)),
        RefundRecord("729", "727", Decimal("2.35"), datetime(2017, 3, 25, 10, tzinfo=UTC)),
    )
    assert record.financial_status == "partially_refunded"


@pytest.mark.parametrize(
    ("status", "financial"),
    [
        ("pending", "pending"),
        ("on-hold", "pending"),
        ("completed", "paid"),
        ("refunded", "refunded"),
        ("failed", "failed"),
        ("cancelled", "voided"),
    ],
)
def test_order_status_maps_to_financial_status(order_payload, status, financial) -> None:
    record = normalise_record("order.updated", order_variant(order_payload, status=status))
    assert record.financial_status == financial


def test_plugin_status_falls_back_on_payment_date(order_payload) -> None:
    shipped = order_variant(order_payload, status="shipped")
    assert normalise_record("order.updated", shipped).financial_status == "paid"
    unpaid = order_variant(order_payload, status="awaiting-quote", date_paid_gmt=None)
    assert normalise_record("order.updated", unpaid).financial_status == "pending"


def test_cancelled_order_is_cancelled_at_its_modification_time(order_payload) -> None:
    variant = order_variant(
        order_payload, status="cancelled", date_modified_gmt="2017-03-23T08:00:00"
    )
    record = normalise_record("order.updated", variant)
    assert record.cancelled_at == datetime(2017, 3, 23, 8, tzinfo=UTC)


@pytest.mark.parametrize("status", ["checkout-draft", "draft"])
def test_block_checkout_drafts_are_ignored(order_payload, status) -> None:
    assert normalise_record("order.created", order_variant(order_payload, status=status)) is None


def test_restored_order_is_the_order_again(order_payload) -> None:
    record = normalise_record("order.restored", order_payload)
    assert isinstance(record, OrderRecord) and record.platform_id == "727"


def test_line_item_category_from_meta(order_payload) -> None:
    variant = order_variant(order_payload)
    variant["line_items"][0]["meta_data"] = [
        {"id": 1, "key": "_tagwise_category", "value": "Posters"}
    ]
    record = normalise_record("order.created", variant)
    assert record.line_items[0].product_type == "Posters"
    assert record.line_items[1].product_type is None  # pa_color/size are not categories


def test_marketing_consent_from_mailchimp_order_meta(order_payload) -> None:
    variant = order_variant(order_payload, customer_id=25)
    variant["meta_data"].append(
        {"id": 1, "key": "mailchimp_woocommerce_is_subscribed", "value": "1"}
    )
    assert normalise_record("order.created", variant).customer.accepts_marketing is True
    variant["meta_data"][-1]["value"] = "0"
    assert normalise_record("order.created", variant).customer.accepts_marketing is False
    assert normalise_record("order.created", order_payload).customer.accepts_marketing is None


# --------------------------------------------------------------------------- customers


def test_fixture_customer(customer_payload) -> None:
    record = normalise_record("customer.created", customer_payload)
    assert record == CustomerRecord(
        platform_id="25",
        email="john.doe@example.com",
        accepts_marketing=None,  # WooCommerce core records no consent
        created_at=datetime(2017, 3, 21, 19, 9, 28, tzinfo=UTC),
        updated_at=datetime(2017, 3, 21, 19, 9, 30, tzinfo=UTC),
    )


def test_customer_consent_from_mailchimp_user_meta(customer_payload) -> None:
    variant = copy.deepcopy(customer_payload)
    variant["meta_data"] = [{"id": 9, "key": "mailchimp_woocommerce_is_subscribed", "value": "1"}]
    assert normalise_record("customer.updated", variant).accepts_marketing is True


# --------------------------------------------------------------------------- deletions, others


@pytest.mark.parametrize(
    ("topic", "kind"), [("order.deleted", "order"), ("customer.deleted", "customer")]
)
def test_deleted_bodies_become_deletions(topic, kind) -> None:
    assert normalise_record(topic, {"id": 727}) == Deletion(kind=kind, platform_id="727")


def test_unhandled_topic_is_acknowledged_not_an_error(order_payload) -> None:
    assert normalise_record("product.updated", order_payload) is None


def test_category_from_product() -> None:
    product = {"id": 93, "categories": [{"id": 9, "name": "Clothing", "slug": "clothing"}]}
    assert category_from_product(product) == "Clothing"
    assert category_from_product({"id": 93, "categories": []}) is None


# --------------------------------------------------------------------------- malformed


def broken(order: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    variant = copy.deepcopy(order)
    target = variant
    for step in path[:-1]:
        target = target[step]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return variant


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("id",), KeyError, "order: id missing"),
        (("id",), "727", "order: id missing or not a positive integer"),
        (("total",), "29,35", "order 727: total is not a money amount"),
        (("total",), None, "order 727: total is not a money amount"),
        (("total",), "NaN", "order 727: total is not a finite amount"),
        (("discount_total",), ["0.00"], "order 727: discount_total is not a money amount"),
        (("date_created_gmt",), KeyError, "order 727: date_created_gmt missing"),
        (
            ("date_created_gmt",),
            "22/03/2017",
            "order 727: date_created_gmt is not an ISO 8601 date",
        ),
        (("currency",), 840, "order 727: currency missing or not a non-empty string"),
        (("customer_id",), "25", "order 727: customer_id is not a non-negative integer"),
        (("billing",), "john.doe@example.com", "order 727: billing is str"),
        (("line_items",), {"0": {}}, "order 727: line_items is dict, expected a list"),
        (("line_items", 0), "Woo Single #1", "order 727 line_items[0]: is str"),
        (("line_items", 0, "quantity"), "2", "order 727 line_items[0]: quantity is not an integer"),
        (
            ("line_items", 1, "price"),
            "twelve",
            "order 727 line_items[1]: price is not a money amount",
        ),
        (("line_items", 1, "variation_id"), -3, "order 727 line_items[1]: variation_id is not"),
        (("refunds",), [{"total": "-1.00"}], "order 727 refunds[0]: id missing"),
        (("coupon_lines",), [{"id": 1}], "order 727: code missing"),
    ],
)
def test_malformed_orders_raise_payload_error(order_payload, path, value, message) -> None:
    with pytest.raises(PayloadError) as raised:
        normalise_record("order.updated", broken(order_payload, path, value))
    assert str(raised.value).startswith(message)
    assert raised.value.reason == "malformed_payload"


@pytest.mark.parametrize(
    ("topic", "payload"),
    [
        ("order.created", None),
        ("order.created", [1, 2]),
        ("order.deleted", {}),
        ("customer.deleted", {"id": 0}),
        ("customer.updated", {"id": 25, "email": 12}),
        ("customer.updated", {"email": "a@example.com"}),
    ],
)
def test_malformed_payloads_never_raise_key_or_type_errors(topic, payload) -> None:
    with pytest.raises(PayloadError):
        normalise_record(topic, payload)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_any_corruption_of_the_fixture_is_a_record_none_or_payload_error(
    order_payload, data
) -> None:
    variant = copy.deepcopy(order_payload)
    item = variant["line_items"][data.draw(st.integers(0, 1))]
    for target in data.draw(st.lists(st.sampled_from([variant, item]), min_size=1, max_size=3)):
        key = data.draw(st.sampled_from(sorted(target)))
        target[key] = data.draw(JSON_VALUES)
    topic = data.draw(st.sampled_from(["order.created", "order.updated", "order.deleted"]))
    try:
        result = normalise_record(topic, variant)
    except PayloadError:
        return
    assert result is None or isinstance(result, OrderRecord | Deletion)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_any_corruption_of_the_customer_is_a_record_or_payload_error(
    customer_payload, data
) -> None:
    variant = copy.deepcopy(customer_payload)
    for _ in range(data.draw(st.integers(1, 3))):
        variant[data.draw(st.sampled_from(sorted(variant)))] = data.draw(JSON_VALUES)
    try:
        result = normalise_record("customer.updated", variant)
    except PayloadError:
        return
    assert isinstance(result, CustomerRecord)
