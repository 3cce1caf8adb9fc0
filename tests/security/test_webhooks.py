"""Findings 1, 10, 12: a signed Shopify body is only trusted for the shop and topic it names.

Shopify signs the body only; the shop domain, topic and delivery ids are unsigned headers,
and every OAuth-installed shop shares the app secret. An attacker holding one captured
delivery can resend it with any headers: each test below does exactly that.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from app.storage.models import Customer, InboxEvent, Store
from tests.conftest import SHOP, fixture_bytes, fixture_json, shopify_headers
from tests.seeding import deliver, order_payload, process_pending

VICTIM = "victim-shop.myshopify.com"


def add_shops(app) -> tuple[int, int]:
    """The attacker's own shop (where the body was captured) and another installed shop."""
    ids = []
    for domain in (SHOP, VICTIM):
        result = app.test_cli_runner().invoke(args=[
            "stores", "add", "shopify", "--domain", domain, "--access-token", "shpat_test",
            "--no-check"])
        assert result.exit_code == 0, result.output
        ids.append(int(result.stdout.strip()))
    return ids[0], ids[1]


def replay(client, body: bytes, topic: str, shop: str, webhook_id: str, **extra: str):
    """Resend a captured signed body with headers of the attacker's choosing."""
    headers = shopify_headers(body, topic, webhook_id, shop=shop)
    headers.update(extra)
    return client.post("/webhooks/shopify", data=body, headers=headers)


def store_state(app, store_id: int) -> str | None:
    with app.extensions["db"].session() as session:
        store = session.get(Store, store_id)
        return store.install_state if store else None


def test_an_order_body_replayed_as_shop_redact_against_another_shop_deletes_nothing(app, client):
    _, victim = add_shops(app)
    body = fixture_bytes("shopify", "orders_create__sample.json")
    response = replay(client, body, "shop/redact", VICTIM, "fresh-1")
    assert response.status_code == 400 and response.json["error"]["reason"] == "body_mismatch"
    process_pending(app)
    assert store_state(app, victim) == "active"


def test_an_order_body_replayed_as_app_uninstalled_does_not_uninstall_another_shop(app, client):
    _, victim = add_shops(app)
    body = fixture_bytes("shopify", "orders_create__sample.json")
    assert replay(client, body, "app/uninstalled", VICTIM, "fresh-2").status_code == 400
    process_pending(app)
    assert store_state(app, victim) == "active"


def test_a_genuine_shop_redact_of_one_shop_cannot_be_pointed_at_another(app, client):
    own, victim = add_shops(app)
    body = json.dumps(dict(fixture_json("shopify", "shop_redact__sample.json"),
                           shop_domain=SHOP)).encode()
    assert replay(client, body, "shop/redact", VICTIM, "fresh-3").status_code == 400
    assert replay(client, body, "shop/redact", SHOP, "fresh-4").status_code == 200
    process_pending(app)
    assert store_state(app, victim) == "active" and store_state(app, own) is None


def test_an_order_body_under_a_customer_topic_is_parked_not_applied(app, client):
    own, _ = add_shops(app)
    body = fixture_bytes("shopify", "orders_create__sample.json")
    assert replay(client, body, "customers/create", SHOP, "fresh-5").status_code == 200
    assert process_pending(app) == ["parked"]
    with app.extensions["db"].session() as session:
        event = session.execute(select(InboxEvent)).scalar_one()
        assert event.error.startswith("refused:")
        assert session.execute(select(func.count(Customer.id))).scalar() == 0


def test_the_same_event_under_a_fresh_webhook_id_is_a_duplicate(app, client):
    add_shops(app)
    body = json.dumps(order_payload(1)).encode()
    event = {"X-Shopify-Event-Id": "59d6d79c-595f-4e7e-bc6f-72f5c3d0c66f"}
    assert replay(client, body, "orders/create", SHOP, "w-a", **event).json["status"] == \
        "accepted"
    again = replay(client, body, "orders/create", SHOP, "w-b", **event)
    assert again.status_code == 200 and again.json["status"] == "duplicate"
    with app.extensions["db"].session() as session:
        assert session.execute(select(func.count(InboxEvent.id))).scalar() == 1


def test_a_control_character_in_a_header_is_a_400_not_a_500_and_stores_nothing(app, client):
    add_shops(app)
    body = json.dumps(order_payload(1)).encode()
    for shop, webhook_id, extra in (
            (SHOP + "\x00", "w-1", {}),  # looked up before the signature is checked
            (SHOP, "w-\x00", {}),
            (SHOP, "w-2", {"X-Shopify-Event-Id": "e\x00"}),
            (SHOP, "w-\x1b-3", {})):
        response = replay(client, body, "orders/create", shop, webhook_id, **extra)
        assert response.status_code == 400 and response.json["error"]["reason"] == "bad_header"
    assert replay(client, body, "orders/create", SHOP, "w-é").json["status"] == "accepted"
    with app.extensions["db"].session() as session:
        assert session.execute(select(InboxEvent.dedupe_key)).scalars().all() == ["w-é"]


def test_a_delivery_triggered_long_ago_is_dropped(app, client):
    add_shops(app)
    body = json.dumps(order_payload(1)).encode()
    old = (datetime.now(UTC) - timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    response = replay(client, body, "orders/create", SHOP, "w-old",
                      **{"X-Shopify-Triggered-At": old})
    assert response.status_code == 200 and response.json["reason"] == "stale"
    recent = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert replay(client, body, "orders/create", SHOP, "w-new",
                  **{"X-Shopify-Triggered-At": recent}).json["status"] == "accepted"
    with app.extensions["db"].session() as session:
        assert session.execute(select(InboxEvent.dedupe_key)).scalars().all() == ["w-new"]


def test_a_privacy_request_for_the_right_shop_still_works(app, client):
    add_shops(app)
    request = dict(fixture_json("shopify", "customers_redact__sample.json"), shop_domain=SHOP)
    assert deliver(client, "customers/redact", request, "r-1").status_code == 200
    assert process_pending(app) == ["done"]


def test_a_non_ascii_webhook_signature_is_401_not_500(app, client):
    add_shops(app)
    body = fixture_bytes("shopify", "orders_create__sample.json")
    response = replay(client, body, "orders/create", SHOP, "w-x",
                      **{"X-Shopify-Hmac-Sha256": "é" * 44})
    assert response.status_code == 401
    assert response.json["error"]["reason"] == "bad_signature"


def test_non_ascii_hmac_on_launch_install_and_callback_is_refused_not_500(app, client):
    add_shops(app)
    app.config["SHOPIFY_API_KEY"] = "test-api-key"
    now = int(datetime.now(UTC).timestamp())
    query = f"shop={SHOP}&timestamp={now}&hmac=%C3%A9%C3%A9"
    assert client.get(f"/shopify/launch?{query}").status_code == 401
    assert client.get(f"/auth/shopify/install?{query}").status_code == 401
    callback = client.get(f"/auth/shopify/callback?{query}&code=c&state=s")
    assert callback.status_code == 401


def test_woocommerce_answers_an_unknown_store_exactly_like_a_bad_signature(app, client):
    add_shops(app)  # store ids 1 and 2 exist, but are Shopify stores
    body = fixture_bytes("woocommerce", "order_created__docs_example.json")
    headers = {"Content-Type": "application/json", "X-WC-Webhook-Topic": "order.created",
               "X-WC-Webhook-Signature": "bm9wZQ=="}
    answers = [client.post(f"/webhooks/woocommerce/{i}", data=body, headers=headers)
               for i in (1, 999)]
    assert [a.status_code for a in answers] == [401, 401]
    assert answers[0].json == answers[1].json
