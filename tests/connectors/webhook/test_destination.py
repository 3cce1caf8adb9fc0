"""The webhook destination wired in: a store's order becomes a signed POST to the merchant's URL.

Real parts throughout: a signed Shopify delivery through /webhooks/shopify, the ingest task,
the profile and segment refresh, the debounced sync task, and a receiver on loopback that
checks the signature and the timestamp (the operator allows loopback URLs for the test).
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.storage.models import Destination, SyncAttempt
from tests.connectors.webhook.conftest import SECRET
from tests.seeding import (
    CUSTOMER_ID,
    add_store,
    days_ago,
    deliver,
    order_payload,
    process_pending,
    sync_dirty,
)
from tests.standins.server import serving
from tests.standins.webhook_receiver import WebhookReceiver


@pytest.fixture
def receiver():
    receiver = WebhookReceiver(SECRET)
    with serving(receiver) as base:
        receiver.url = f"{base}/zapier/catch"
        yield receiver


def add_webhook(app, store_id: int, url: str, *extra: str):
    return app.test_cli_runner().invoke(args=[
        "destinations", "add", "webhook", "--store", str(store_id), "--url", url, *extra])


@pytest.fixture
def store_id(app, shop, receiver):
    app.config["TAGWISE_ALLOW_PRIVATE_URLS"] = True
    store_id = add_store(app, shop)
    added = add_webhook(app, store_id, receiver.url, "--signing-secret", SECRET, "--mode", "live")
    assert added.exit_code == 0, added.output
    return store_id


def delivered_changes(receiver: WebhookReceiver) -> dict[str, dict]:
    """The accepted changes by platform customer id (guests by email), latest last."""
    return {c["platform_customer_id"] or c["email"]: c
            for document in receiver.accepted.values() for c in document["changes"]}


def test_an_order_reaches_the_merchants_url_as_signed_tag_changes(app, client, shop, receiver,
                                                                   store_id):
    deliver(client, "orders/create", order_payload(1, created=days_ago(20)), "w1")
    process_pending(app)
    sync_dirty(app)
    first = delivered_changes(receiver)[str(CUSTOMER_ID)]
    shop_tags = set(shop.tags_of(str(CUSTOMER_ID))) - {"VIP"}
    assert set(first["tags"]) == set(first["added"]) == shop_tags  # same tags as the shop got
    assert "tw:lifecycle-new" in first["added"] and first["removed"] == []
    assert first["email"] == "john@example.com"

    # a second order: the customer is no longer new but active
    deliver(client, "orders/create", order_payload(2, created=days_ago(1)), "w2")
    process_pending(app)
    sync_dirty(app)
    second = delivered_changes(receiver)[str(CUSTOMER_ID)]
    assert "tw:lifecycle-new" in second["removed"] and "tw:lifecycle-active" in second["added"]
    assert set(second["tags"]) == set(shop.tags_of(str(CUSTOMER_ID))) - {"VIP"}
    assert {a.status for a in receiver.attempts} == {200}  # every POST verified

    before = len(receiver.attempts)
    sync_dirty(app)
    result = app.test_cli_runner().invoke(args=["sync", "--store", str(store_id)])
    assert "webhook" not in result.output or "sent 0" in result.output
    assert len(receiver.attempts) == before  # confirmed: nothing more to send


def test_a_guest_buyer_reaches_the_webhook_but_not_the_shop(app, client, shop, receiver,
                                                            store_id):
    guest = order_payload(3, customer_id=None, email="guest@example.com", created=days_ago(2))
    deliver(client, "orders/create", guest, "w3")
    process_pending(app)
    sync_dirty(app)
    change = delivered_changes(receiver)["guest@example.com"]
    assert change["platform_customer_id"] is None and "tw:lifecycle-new" in change["tags"]


def test_a_503_is_retried_and_the_retry_carries_the_same_idempotency_key(app, client, shop,
                                                                         receiver, store_id):
    receiver.fail_next(503, retry_after="0")
    deliver(client, "orders/create", order_payload(1, created=days_ago(3)), "w1")
    process_pending(app)
    sync_dirty(app)
    assert [a.status for a in receiver.attempts] == [503, 200]
    assert len({a.headers["Idempotency-Key"] for a in receiver.attempts}) == 1
    with app.extensions["db"].session() as session:
        destination = session.execute(select(Destination).filter_by(kind="webhook")).scalar_one()
        assert (destination.state, destination.last_error) == ("ok", None)
        logged = session.execute(select(SyncAttempt.url, SyncAttempt.status).filter_by(
            destination_id=destination.id)).all()
    assert sorted(status for _, status in logged) == [200, 503]
    assert all("/zapier/catch" not in url for url, _ in logged)  # the hook's secret path


def test_a_receiver_with_another_key_refuses_and_the_destination_says_why(app, client, shop,
                                                                          receiver):
    app.config["TAGWISE_ALLOW_PRIVATE_URLS"] = True
    store_id = add_store(app, shop)
    added = add_webhook(app, store_id, receiver.url, "--mode", "live")  # secret generated
    assert added.exit_code == 0 and "signing secret: " in added.output
    deliver(client, "orders/create", order_payload(1, created=days_ago(3)), "w1")
    process_pending(app)
    sync_dirty(app)
    assert receiver.accepted == {} and [a.status for a in receiver.attempts] == [401]
    with app.extensions["db"].session() as session:
        destination = session.execute(select(Destination).filter_by(kind="webhook")).scalar_one()
        assert "HTTP 401" in destination.last_error
    response = client.get(f"/api/v1/stores/{store_id}/destinations",
                          headers={"Authorization": "Bearer test-api-token"})
    kinds = {d["kind"]: d for d in response.json["destinations"]}
    assert "HTTP 401" in kinds["webhook"]["last_error"]


@pytest.mark.parametrize("url, message", [
    ("http://127.0.0.1:8000/hook", "non-public address"),
    ("http://169.254.169.254/latest/meta-data", "non-public address"),
    ("file:///etc/passwd", "not an http(s) URL"),
])
def test_adding_a_private_url_is_refused_in_one_line(app, shop, url, message):
    store_id = add_store(app, shop)
    result = add_webhook(app, store_id, url)
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output
    with app.extensions["db"].session() as session:
        assert session.execute(select(Destination).filter_by(kind="webhook")).scalar() is None


def test_a_short_secret_is_refused(app, shop, receiver):
    app.config["TAGWISE_ALLOW_PRIVATE_URLS"] = True
    result = add_webhook(app, add_store(app, shop), receiver.url, "--signing-secret", "short")
    assert result.exit_code == 2 and "--signing-secret" in result.output


def test_the_api_document_lists_every_registered_kind(client):
    document = client.get("/api/v1/openapi.json").json
    kind = document["components"]["schemas"]["Destination"]["properties"]["kind"]
    assert kind["enum"] == ["shopify_tags", "woocommerce_meta", "klaviyo", "mailchimp", "webhook",
                            "shopify_metafields", "shopify_flow"]
