"""Real payload variants (tests/connectors/<vendor>/fixtures/topic__variant.json) through the
whole inbound path.

Each scenario signs the fixture's exact bytes, posts it to the real webhook endpoint, runs the
ingest task and reads the profile the way a merchant sees it: what the customer spent net of
refunds, how many orders count, who the order belongs to. Provenance of every variant:
tests/connectors/FIXTURES.md.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from app.storage.models import Customer, Order, Profile
from tests.conftest import fixture_bytes, shopify_headers
from tests.seeding import CUSTOMER_ID, process_pending
from tests.seeding import add_store as add_shopify_store
from tests.standins.server import serving
from tests.standins.woocommerce import WooCommerceStandIn
from tests.web.webhooks.test_woocommerce_pipeline import add_store as add_woocommerce_store
from tests.web.webhooks.test_woocommerce_pipeline import post as post_woocommerce

SHOPIFY_ORDER_TOTAL = 404.95  # total_price of the captured orders/create sample
WOO_ORDER_TOTAL = 29.35  # total of the WooCommerce docs order
WOO_CUSTOMER_ID = "25"  # id of the WooCommerce docs customer


def spend(app, **customer) -> tuple[int, float]:
    """(orders that count, net spend) of the one customer matching ``customer``."""
    with app.extensions["db"].session() as session:
        profile = session.execute(select(Profile).join(Customer, Customer.id == Profile.customer_id)
                                  .filter_by(**customer)).scalar_one()
        return profile.orders_count, round(profile.net_spent, 2)


def customers(app) -> list[tuple[str | None, str | None]]:
    """(platform id, email) of every customer Tagwise knows."""
    with app.extensions["db"].session() as session:
        return [tuple(row) for row in session.execute(select(Customer.platform_id, Customer.email))]


def assert_deleted_without_segments(app) -> None:
    """The store's one customer is marked deleted and is in no segment."""
    with app.extensions["db"].session() as session:
        customer = session.execute(select(Customer)).scalar_one()
        profile = session.get(Profile, customer.id)
        assert customer.deleted_at is not None
        assert profile is None or profile.segment_keys == []


# --------------------------------------------------------------------------- Shopify


@pytest.fixture
def shopify(app, client, shop):
    """Deliver Shopify fixtures by name, signed over their exact bytes, and ingest them."""
    add_shopify_store(app, shop)
    sent: list[str] = []

    def send(topic: str, name: str, body: bytes | None = None) -> None:
        body = body if body is not None else fixture_bytes("shopify", name)
        sent.append(name)
        response = client.post("/webhooks/shopify", data=body, headers=shopify_headers(
            body, topic, f"variant-{len(sent)}"))
        assert response.status_code == 200, response.data
        assert set(process_pending(app)) <= {"done", "ignored"}

    return send


def test_a_paid_order_counts_in_full(app, shopify):
    shopify("orders/create", "orders_create__paid.json")
    assert spend(app, platform_id=str(CUSTOMER_ID)) == (1, SHOPIFY_ORDER_TOTAL)


def test_a_partial_refund_lowers_net_spend_by_what_was_refunded(app, shopify):
    shopify("orders/create", "orders_create__paid.json")
    shopify("orders/updated", "orders_updated__partial_refund.json")
    assert spend(app, platform_id=str(CUSTOMER_ID)) == (1, round(SHOPIFY_ORDER_TOTAL - 89.99, 2))


def test_the_same_refund_by_refunds_create_and_by_the_order_update_counts_once(app, shopify):
    shopify("orders/create", "orders_create__paid.json")
    shopify("refunds/create", "refunds_create__partial.json")
    assert spend(app, platform_id=str(CUSTOMER_ID)) == (1, round(SHOPIFY_ORDER_TOTAL - 89.99, 2))
    shopify("orders/updated", "orders_updated__partial_refund.json")
    assert spend(app, platform_id=str(CUSTOMER_ID)) == (1, round(SHOPIFY_ORDER_TOTAL - 89.99, 2))


def test_a_fully_refunded_order_spends_nothing(app, shopify):
    shopify("orders/create", "orders_create__paid.json")
    shopify("orders/updated", "orders_updated__refunded.json")
    assert spend(app, platform_id=str(CUSTOMER_ID))[1] == 0


def test_a_cancelled_order_counts_zero(app, shopify):
    shopify("orders/create", "orders_create__paid.json")
    shopify("orders/cancelled", "orders_cancelled__voided.json")
    assert spend(app, platform_id=str(CUSTOMER_ID)) == (0, 0)


def test_an_edit_that_removed_an_item_lowers_spend_and_the_stale_original_cannot_undo_it(
        app, shopify):
    shopify("orders/updated", "orders_updated__edited_item_removed.json")
    edited = (1, round(SHOPIFY_ORDER_TOTAL - 19.99, 2))
    assert spend(app, platform_id=str(CUSTOMER_ID)) == edited
    shopify("orders/create", "orders_create__paid.json")  # delivered late, older updated_at
    assert spend(app, platform_id=str(CUSTOMER_ID)) == edited


def test_a_deleted_buyer_leaves_every_segment(app, shopify):
    shopify("orders/create", "orders_create__paid.json")
    shopify("customers/delete", "customers_delete__buyer_with_orders.json")
    assert_deleted_without_segments(app)


def test_guest_checkouts_are_one_customer_by_email(app, shopify):
    shopify("orders/create", "orders_create__guest_checkout.json")
    second = json.loads(fixture_bytes("shopify", "orders_create__guest_checkout.json"))
    second.update(id=second["id"] + 1, email="  JON@example.com", contact_email="JON@example.com")
    shopify("orders/create", "second guest order", json.dumps(second).encode())
    [(platform_id, email)] = customers(app)  # one customer, known by the email alone
    assert platform_id is None and email.strip().lower() == "jon@example.com"
    assert spend(app, platform_id=None) == (2, round(2 * SHOPIFY_ORDER_TOTAL, 2))


# --------------------------------------------------------------------------- WooCommerce


@pytest.fixture
def woocommerce(app, client):
    """Deliver WooCommerce fixtures by name, signed over their exact bytes, and ingest them."""
    stand_in = WooCommerceStandIn()
    with serving(stand_in.wsgi_app) as url:
        stand_in.url = url
        store_id = add_woocommerce_store(app, stand_in)

        def send(topic: str, name: str) -> None:
            response = post_woocommerce(client, store_id, topic, fixture_bytes("woocommerce", name))
            assert response.status_code == 200, response.data
            assert set(process_pending(app)) <= {"done", "ignored"}

        yield send


GUEST_ORDER = "order_created__docs_example.json"  # customer_id 0, paid, processing
GUEST = {"platform_id": None, "email": "john.doe@example.com"}


def test_woocommerce_guest_order_is_attributed_by_billing_email(app, woocommerce):
    woocommerce("order.created", GUEST_ORDER)
    assert customers(app) == [(None, "john.doe@example.com")]
    assert spend(app, **GUEST) == (1, WOO_ORDER_TOTAL)


def test_woocommerce_completion_keeps_the_order_counted_once(app, woocommerce):
    woocommerce("order.created", GUEST_ORDER)
    woocommerce("order.updated", "order_updated__completed.json")
    assert spend(app, **GUEST) == (1, WOO_ORDER_TOTAL)


def test_woocommerce_partial_refund_lowers_net_spend(app, woocommerce):
    woocommerce("order.created", GUEST_ORDER)
    woocommerce("order.updated", "order_updated__partial_refund.json")
    assert spend(app, **GUEST) == (1, round(WOO_ORDER_TOTAL - 10.00, 2))


def test_woocommerce_refunded_order_spends_nothing(app, woocommerce):
    woocommerce("order.created", GUEST_ORDER)
    woocommerce("order.updated", "order_updated__refunded.json")
    assert spend(app, **GUEST)[1] == 0


def test_woocommerce_cancelled_order_counts_zero(app, woocommerce):
    woocommerce("order.updated", "order_updated__cancelled.json")
    assert spend(app, **GUEST) == (0, 0)


def test_woocommerce_deleted_order_stops_counting(app, woocommerce):
    woocommerce("order.created", GUEST_ORDER)
    woocommerce("order.deleted", "order_deleted__id_only.json")
    assert spend(app, **GUEST) == (0, 0)


def test_woocommerce_checkout_draft_is_not_an_order(app, woocommerce):
    woocommerce("order.created", "order_created__checkout_draft.json")
    with app.extensions["db"].session() as session:
        assert session.execute(select(Order.id)).first() is None
    assert customers(app) == []


def test_woocommerce_pending_payment_is_recorded_as_pending(app, woocommerce):
    woocommerce("order.created", "order_created__pending_payment.json")
    with app.extensions["db"].session() as session:
        assert session.execute(select(Order.financial_status)).scalar_one() == "pending"


def test_woocommerce_registered_customer_owns_their_orders(app, woocommerce):
    woocommerce("customer.created", "customer_created__docs_example.json")
    woocommerce("order.created", "order_created__registered_customer.json")
    woocommerce("customer.updated", "customer_updated__billing_phone.json")
    assert customers(app) == [(WOO_CUSTOMER_ID, "john.doe@example.com")]
    assert spend(app, platform_id=WOO_CUSTOMER_ID) == (1, WOO_ORDER_TOTAL)


def test_woocommerce_deleted_customer_leaves_every_segment(app, woocommerce):
    woocommerce("customer.created", "customer_created__docs_example.json")
    woocommerce("order.created", "order_created__registered_customer.json")
    woocommerce("customer.deleted", "customer_deleted__id_only.json")
    assert_deleted_without_segments(app)
