"""Alerts reach a local Slack-compatible receiver once when a condition starts and once when it
clears: a destination whose credentials are rejected, parked inbox events, webhooks that stop."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import update

from app.storage.db import utcnow
from app.storage.models import INBOX_DONE, INBOX_PARKED, InboxEvent
from tasks.alerts import check_alerts
from tests.seeding import add_store, days_ago, deliver, order_payload, process_pending, sync_dirty


def test_rejected_credentials_alert_once_and_recover_once(app, client, shop, receiver):
    add_store(app, shop)
    shop.access_token = "rotated-by-the-merchant"  # Tagwise's token is now refused (401)
    for n in range(3):
        deliver(client, "orders/create", order_payload(n + 1, created=days_ago(3 + n)), f"a{n}")
        process_pending(app)
        sync_dirty(app)
    assert len(receiver.messages) == 1
    message = receiver.messages[0]
    assert message["text"].startswith("[Tagwise] FIRING: shopify_tags destination")
    assert "credentials rejected" in message["text"] and message["signed"]
    assert message["tagwise"]["state"] == "firing"
    assert "john@example.com" not in json.dumps(receiver.messages)

    shop.access_token = "shpat_test"  # the merchant restored access
    deliver(client, "orders/create", order_payload(9, created=days_ago(1)), "a9")
    process_pending(app)
    sync_dirty(app)
    assert len(receiver.messages) == 2
    assert receiver.messages[1]["text"].startswith("[Tagwise] RESOLVED:")
    deliver(client, "orders/create", order_payload(10, created=days_ago(1)), "a10")
    process_pending(app)
    sync_dirty(app)
    assert len(receiver.messages) == 2  # healthy stays quiet


def test_parked_events_alert_once_and_recover_once(app, client, shop, receiver):
    store_id = add_store(app, shop)
    deliver(client, "orders/create", order_payload(1, created=days_ago(3)), "p1")
    with app.extensions["db"].session() as session:
        session.execute(update(InboxEvent).values(status=INBOX_PARKED, error="boom"))
    assert check_alerts.apply().get() == 1
    assert check_alerts.apply().get() == 0  # still parked: no second message
    assert receiver.messages[0]["tagwise"] == {
        "alert": f"store:{store_id}:inbox_parked", "state": "firing", "store_id": store_id}
    assert "1 inbox events parked" in receiver.texts()[0]
    with app.extensions["db"].session() as session:
        session.execute(update(InboxEvent).values(status=INBOX_DONE))
    assert check_alerts.apply().get() == 1
    assert receiver.texts()[1].startswith("[Tagwise] RESOLVED:")


def test_webhooks_that_stop_arriving_are_alerted(app, client, shop, receiver):
    add_store(app, shop)
    for n in range(10):
        deliver(client, "orders/create", order_payload(n + 1, created=days_ago(3)), f"w{n}")
    assert check_alerts.apply().get() == 0  # they arrive: nothing to say
    quiet_since = utcnow() - timedelta(minutes=app.config["ALERT_WEBHOOK_SILENCE_MINUTES"] + 5)
    with app.extensions["db"].session() as session:
        session.execute(update(InboxEvent).values(received_at=quiet_since))
    assert check_alerts.apply().get() == 1
    assert "no webhook for" in receiver.texts()[0]
    deliver(client, "orders/create", order_payload(99, created=days_ago(1)), "back")
    assert check_alerts.apply().get() == 1
    assert "webhooks arrive again" in receiver.texts()[1]


def test_an_alert_url_on_a_private_address_is_refused_unless_allowed(app, client, shop,
                                                                     receiver):
    app.config["TAGWISE_ALLOW_PRIVATE_URLS"] = False
    add_store(app, shop)
    deliver(client, "orders/create", order_payload(1, created=days_ago(3)), "x1")
    with app.extensions["db"].session() as session:
        session.execute(update(InboxEvent).values(status=INBOX_PARKED))
    assert check_alerts.apply().get() == 0 and receiver.messages == []
    app.config["TAGWISE_ALLOW_PRIVATE_URLS"] = True
    assert check_alerts.apply().get() == 1  # the state waited; the message is not lost
