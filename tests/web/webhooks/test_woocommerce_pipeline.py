"""WooCommerce through the same spine: ping, signature, dedupe, guests, meta write-back."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, func, select

from app.storage.models import InboxEvent, Profile, Store
from tests.conftest import API_TOKEN, fixture_bytes, fixture_json
from tests.seeding import process_pending, sync_dirty
from tests.standins.server import serving
from tests.standins.woocommerce import WooCommerceStandIn, sign

SECRET = "wc-webhook-secret"
MERCHANT_META = {"key": "loyalty_card", "value": "gold"}


@pytest.fixture
def site():
    stand_in = WooCommerceStandIn()
    customer = fixture_json("woocommerce", "customer_created__docs_example.json")
    customer["meta_data"] = [dict(MERCHANT_META)]
    stand_in.add_customer(customer)
    with serving(stand_in.wsgi_app) as url:
        stand_in.url = url
        yield stand_in


def add_store(app, site) -> int:
    result = app.test_cli_runner().invoke(args=[
        "stores", "add", "woocommerce", "--url", "https://shop.example/", "--consumer-key",
        site.consumer_key, "--consumer-secret", site.consumer_secret, "--webhook-secret",
        SECRET, "--api-base-url", site.url])
    assert result.exit_code == 0, result.output
    store_id = int(result.output.splitlines()[0])
    assert f"/webhooks/woocommerce/{store_id}" in result.output
    return store_id


def post(client, store_id: int, topic: str, body: bytes, secret: str = SECRET):
    headers = {"Content-Type": "application/json", "X-WC-Webhook-Topic": topic,
               "X-WC-Webhook-Signature": sign(secret.encode(), body),
               "X-WC-Webhook-Source": "https://shop.example/",
               "X-WC-Webhook-Delivery-ID": "17"}
    return client.post(f"/webhooks/woocommerce/{store_id}", data=body, headers=headers)


def order(order_id: int, customer_id: int, modified: datetime, status: str = "processing"):
    body = copy.deepcopy(fixture_json("woocommerce", "order_created__docs_example.json"))
    stamp = modified.strftime("%Y-%m-%dT%H:%M:%S")
    body.update(id=order_id, customer_id=customer_id, status=status, date_created_gmt=stamp,
                date_modified_gmt=stamp)
    return json.dumps(body).encode()


def inbox_count(app) -> int:
    with app.extensions["db"].session() as session:
        return session.execute(select(func.count(InboxEvent.id))).scalar()


def test_store_add_creates_the_webhooks_through_the_rest_api(app, site):
    add_store(app, site)
    assert sorted(w["topic"] for w in site.webhooks.values()) == sorted([
        "order.created", "order.updated", "order.deleted", "order.restored",
        "customer.created", "customer.updated", "customer.deleted"])
    assert all(w["secret"] == SECRET for w in site.webhooks.values())


def test_the_creation_ping_gets_200_and_creates_nothing(app, client, site):
    store_id = add_store(app, site)
    response = client.post(f"/webhooks/woocommerce/{store_id}", data=b"webhook_id=12",
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 200
    assert inbox_count(app) == 0


def test_signature_and_shape_errors(app, client, site):
    store_id = add_store(app, site)
    body = fixture_bytes("woocommerce", "order_created__docs_example.json")
    assert post(client, store_id, "order.created", body, secret="wrong").status_code == 401
    assert post(client, store_id, "order.created", b"{oops").status_code == 400
    assert post(client, 999, "order.created", body).status_code == 401  # as a bad signature
    assert post(client, store_id, "product.updated", body).json["reason"] == "unsupported_topic"
    assert inbox_count(app) == 0


def test_a_changed_secret_is_used_at_once_and_a_deleted_store_is_refused_not_500(
        app, client, site):
    """The store is remembered for a few seconds (app/web/webhooks/stores.py): a delivery
    signed with a new secret looks it up again; one for a store deleted since is a 401."""
    store_id = add_store(app, site)
    first = order(1, 0, datetime(2026, 1, 1, tzinfo=UTC))
    assert post(client, store_id, "order.created", first).json["status"] == "accepted"
    box = app.extensions["secret_box"]
    with app.extensions["db"].session() as session:
        session.get(Store, store_id).webhook_secret_enc = box.encrypt("new-wc-secret")
    second = order(2, 0, datetime(2026, 1, 2, tzinfo=UTC))
    response = post(client, store_id, "order.created", second, secret="new-wc-secret")
    assert response.json["status"] == "accepted"
    with app.extensions["db"].session() as session:
        session.execute(delete(Store).where(Store.id == store_id))
    third = order(3, 0, datetime(2026, 1, 3, tzinfo=UTC))
    assert post(client, store_id, "order.created", third,
                secret="new-wc-secret").status_code == 401
    assert inbox_count(app) == 0  # the earlier rows went with their store


def test_redelivered_state_is_deduplicated_by_resource_and_modification_time(app, client, site):
    store_id = add_store(app, site)
    body = fixture_bytes("woocommerce", "order_created__docs_example.json")
    assert post(client, store_id, "order.created", body).json["status"] == "accepted"
    assert post(client, store_id, "order.created", body).json["status"] == "duplicate"
    assert inbox_count(app) == 1


def test_guest_order_by_email_and_meta_written_without_touching_the_merchants(app, client, site):
    store_id = add_store(app, site)
    now = datetime.now(UTC)
    guest = fixture_bytes("woocommerce", "order_created__docs_example.json")  # customer_id 0
    post(client, store_id, "order.created", guest)
    post(client, store_id, "order.created", order(800, 25, now - timedelta(days=2)))
    post(client, store_id, "order.created", order(801, 25, now - timedelta(days=1),
                                                  status="checkout-draft"))  # ignored draft
    assert process_pending(app) == ["done", "done", "ignored"]
    sync_dirty(app)
    with app.extensions["db"].session() as session:
        counts = sorted(session.execute(select(Profile.orders_count)).scalars())
    assert counts == [1, 1]  # the guest (by email) and customer 25; the draft did not count
    meta = site.meta(25)
    assert meta["loyalty_card"] == "gold"
    response = client.get(f"/api/v1/stores/{store_id}/customers/25",
                          headers={"Authorization": f"Bearer {API_TOKEN}"})
    assert sorted(meta["_tagwise_segments"]) == sorted(s["key"] for s in response.json["segments"])
    assert "lifecycle-new" in meta["_tagwise_segments"]


def test_an_order_only_reconciliation_sees_still_reaches_the_segments(app, client, site):
    from tasks.reconcile import reconcile_store

    store_id = add_store(app, site)
    missed = json.loads(order(900, 25, datetime.now(UTC) - timedelta(days=1)))
    site.add_order(missed)  # the webhook for it never arrived
    counts = reconcile_store.apply(args=[store_id]).get()
    assert counts["new"] >= 1
    sync_dirty(app)
    response = client.get(f"/api/v1/stores/{store_id}/customers/25",
                          headers={"Authorization": f"Bearer {API_TOKEN}"})
    assert response.json["profile"]["orders_count"] == 1
    assert "lifecycle-new" in site.meta(25)["_tagwise_segments"]
    writes = site.count("POST", "/customers/batch")
    reconcile_store.apply(args=[store_id]).get()  # sees our own meta write come back
    sync_dirty(app)
    with app.extensions["db"].session() as session:
        orders_seen = session.execute(select(func.count(InboxEvent.id)).filter_by(
            topic="order.updated")).scalar()
    assert orders_seen == 1  # the order was not imported twice
    assert site.count("POST", "/customers/batch") == writes  # and our echo caused no write


def test_a_disabled_webhook_is_noticed_and_reactivated(app, client, site):
    from tasks.reconcile import platform_upkeep

    store_id = add_store(app, site)
    hook = next(iter(site.webhooks.values()))
    hook["status"] = "disabled"
    revived = platform_upkeep(store_id)
    assert revived == [f"{hook['topic']} was disabled"]
    assert hook["status"] == "active"
    destinations = client.get(f"/api/v1/stores/{store_id}/destinations",
                              headers={"Authorization": f"Bearer {API_TOKEN}"}).json
    assert "re-activated" in destinations["destinations"][0]["last_error"]


def test_backfill_imports_history_with_a_progress_bar(app, client, site):
    store_id = add_store(app, site)
    start = datetime.now(UTC) - timedelta(days=400)
    for i in range(5):
        site.add_order(json.loads(order(1000 + i, 25, start + timedelta(days=60 * i))))
    result = app.test_cli_runner().invoke(args=["backfill", "--store", str(store_id)])
    assert result.exit_code == 0, result.output
    assert "new 6" in result.output and "rescored 1 customers" in result.output
    response = client.get(f"/api/v1/stores/{store_id}/customers/25",
                          headers={"Authorization": f"Bearer {API_TOKEN}"})
    assert response.json["profile"]["orders_count"] == 5


def test_line_item_categories_come_from_a_cached_product_lookup(app, client, site):
    store_id = add_store(app, site)
    site.add_product({"id": 93, "name": "Tee", "categories": [{"id": 9, "name": "Clothing"}]})
    site.add_product({"id": 22, "name": "Hoodie", "categories": [{"id": 9, "name": "Clothing"}]})
    now = datetime.now(UTC)
    for i in range(2):
        post(client, store_id, "order.created", order(800 + i, 25, now - timedelta(days=5 - i)))
    assert process_pending(app) == ["done", "done"]
    response = client.get(f"/api/v1/stores/{store_id}/customers/25",
                          headers={"Authorization": f"Bearer {API_TOKEN}"})
    assert response.json["profile"]["top_product_type"] == "Clothing"
    assert "category-clothing" in {s["key"] for s in response.json["segments"]}
    assert site.count("GET", "/products/93") + site.count("GET", "/products/22") == 2
