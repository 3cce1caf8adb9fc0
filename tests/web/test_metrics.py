"""``GET /metrics``: operator tokens only, and the figures move with real deliveries and syncs."""

from __future__ import annotations

import json

from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import API_TOKEN, SHOP, shopify_headers
from tests.seeding import add_store, days_ago, deliver, order_payload, process_pending, sync_dirty
from tests.web.api.test_scoping import add_user, bearer

METRICS_TOKEN = "scrape-only-token"


def scrape(client, token: str = API_TOKEN) -> dict[tuple[str, tuple], float]:
    """Every sample of a scrape, keyed by name and sorted label pairs."""
    response = client.get("/metrics", headers=bearer(token))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/plain"
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(response.get_data(as_text=True))
            for s in family.samples}


def webhooks(samples: dict, topic: str, outcome: str) -> float:
    key = ("tagwise_webhooks_total", (("outcome", outcome), ("platform", "shopify"),
                                      ("topic", topic)))
    return samples.get(key, 0.0)


def test_only_operator_tokens_read_metrics(app, client, shop):
    store_id = add_store(app, shop)
    staff_token = add_user(app, "staff@shop.example", "--store", str(store_id))
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers=bearer(staff_token)).status_code == 401
    assert client.get("/metrics", headers=bearer(METRICS_TOKEN)).status_code == 401
    app.config["METRICS_TOKEN"] = METRICS_TOKEN
    assert scrape(client, METRICS_TOKEN) is not None
    assert scrape(client, API_TOKEN) is not None


def test_metrics_move_when_webhooks_arrive_and_tags_are_synced(app, client, shop):
    add_store(app, shop)
    before = scrape(client)
    assert webhooks(before, "orders/create", "accepted") == 0
    deliver(client, "orders/create", order_payload(1, created=days_ago(3)), "m1")
    deliver(client, "orders/create", order_payload(1, created=days_ago(3)), "m1")  # again
    body = json.dumps(order_payload(2)).encode()
    forged = shopify_headers(body, "orders/create", "m2", shop=SHOP, secret="wrong")
    assert client.post("/webhooks/shopify", data=body, headers=forged).status_code == 401
    unknown = shopify_headers(b"{}", "made/up", "m3", shop=SHOP)
    client.post("/webhooks/shopify", data=b"{}", headers=unknown)

    pending = scrape(client)
    assert webhooks(pending, "orders/create", "accepted") == 1
    assert webhooks(pending, "orders/create", "duplicate") == 1
    assert webhooks(pending, "orders/create", "rejected") == 1
    assert webhooks(pending, "other", "ignored") == 1  # a caller cannot mint label values
    assert pending[("tagwise_inbox_events", (("platform", "shopify"),
                                             ("status", "pending")))] == 1
    assert pending[("tagwise_ingest_lag_seconds", ())] >= 0

    process_pending(app)
    sync_dirty(app)
    after = scrape(client)
    assert ("tagwise_inbox_events", (("platform", "shopify"), ("status", "pending"))) \
        not in after
    assert after[("tagwise_ingest_lag_seconds", ())] == 0
    assert after[("tagwise_orders_processed", (("platform", "shopify"),))] == 1
    assert after[("tagwise_sync_requests_total", (("kind", "shopify_tags"),
                                                  ("status", "2xx")))] == 1
    assert after[("tagwise_sync_changes_total", (("kind", "shopify_tags"),
                                                 ("outcome", "ok")))] == 1


def test_a_rescore_is_timed_per_store(app, client, shop):
    store_id = add_store(app, shop)
    deliver(client, "orders/create", order_payload(1, created=days_ago(3)), "r1")
    process_pending(app)
    assert app.test_cli_runner().invoke(args=["rescore", "--store", str(store_id)]).exit_code == 0
    samples = scrape(client)
    assert samples[("tagwise_rescores_total", (("store", str(store_id)),))] == 1
    assert samples[("tagwise_rescore_seconds_total", (("store", str(store_id)),))] > 0
