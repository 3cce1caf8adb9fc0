"""WooCommerceClient against the stand-in site over real HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
import requests

from connectors.base import PermanentError, RetryPolicy, TransientError
from connectors.woocommerce.client import WooCommerceClient
from tests.standins.server import serving
from tests.standins.woocommerce import WooCommerceStandIn


def listing_calls(site: WooCommerceStandIn, path: str) -> list[dict[str, str]]:
    return [r.query for r in site.requests if r.method == "GET" and r.path.endswith(path)]


# --------------------------------------------------------------------------- paging


def test_iter_customers_reads_every_page(client, site) -> None:
    customers = list(client.iter_customers())

    assert [c["id"] for c in customers] == list(range(1, 251))
    queries = listing_calls(site, "/wp-json/wc/v3/customers")
    assert [q["page"] for q in queries] == ["1", "2", "3"]
    assert {q["per_page"] for q in queries} == {"100"}
    assert {q["role"] for q in queries} == {"all"}  # not only role=customer


def test_per_page_is_honoured_and_capped(client, site) -> None:
    assert len(list(client.iter_customers(per_page=60))) == 250
    assert len(listing_calls(site, "/customers")) == 5  # 60+60+60+60+10
    site.requests.clear()
    assert len(list(client.iter_customers(per_page=500))) == 250
    assert {q["per_page"] for q in listing_calls(site, "/customers")} == {"100"}


def test_empty_listing_stops_after_one_call(client, site) -> None:
    site.orders.clear()
    assert list(client.iter_orders()) == []
    assert site.count("GET", "/orders") == 1


def test_iter_customers_filters_on_modification_time(client, site) -> None:
    # Customer n was modified on 2026-01-01 + n days; the endpoint has no date filter.
    after = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=247, hours=1)
    assert [c["id"] for c in client.iter_customers(modified_after=after)] == [248, 249, 250]
    assert "modified_after" not in listing_calls(site, "/customers")[0]


def test_iter_orders_sends_modified_after_in_gmt(client, site) -> None:
    # Order 5000+n was modified at 2026-01-01 + n days. 2026-01-06 03:00 at UTC+05:00 is
    # 2026-01-05 22:00 UTC, so 5005 (01-06 00:00 UTC) is in: read as local time it would not be.
    after = datetime(2026, 1, 6, 3, 0, tzinfo=timezone(timedelta(hours=5)))
    orders = list(client.iter_orders(modified_after=after))

    assert [o["id"] for o in orders] == [5005, 5006, 5007]
    (query,) = listing_calls(site, "/orders")
    assert query["modified_after"] == "2026-01-05T22:00:00"
    assert query["dates_are_gmt"] == "true"
    assert (query["orderby"], query["order"]) == ("id", "asc")


def test_get_product(client, site) -> None:
    site.add_product(
        {"id": 93, "name": "Woo Single #1", "categories": [{"id": 9, "name": "Music"}]}
    )
    assert client.get_product(93)["categories"][0]["name"] == "Music"
    with pytest.raises(PermanentError) as raised:
        client.get_product(94)
    assert raised.value.status == 404


# --------------------------------------------------------------------------- auth and errors


def test_wrong_secret_is_a_permanent_401_in_woocommerce_shape(site, site_url) -> None:
    client = WooCommerceClient(site_url, site.consumer_key, "cs_wrong")
    with pytest.raises(PermanentError) as raised:
        list(client.iter_orders())
    assert raised.value.status == 401
    assert "woocommerce_rest_authentication_error" in str(raised.value)
    assert site.count("GET", "/orders") == 1  # never retried


def test_missing_credentials_get_cannot_view(site, site_url) -> None:
    response = requests.get(f"{site_url}/wp-json/wc/v3/customers", timeout=5)
    assert response.status_code == 401
    assert response.json() == {
        "code": "woocommerce_rest_cannot_view",
        "message": "Sorry, you cannot list resources.",
        "data": {"status": 401},
    }


def test_429_is_retried_honouring_retry_after(client, site, sleeps, attempts) -> None:
    site.fail_next(429, times=2, retry_after="3", path="/customers")
    assert len(list(client.iter_customers())) == 250
    assert sleeps == [3.0, 3.0]
    assert [a.status for a in attempts[:3]] == [429, 429, 200]
    assert site.count("GET", "/customers") == 5


def test_persistent_503_ends_as_transient_error(client, site, sleeps) -> None:
    site.fail_next(503, times=10, retry_after=None, path="/webhooks")
    with pytest.raises(TransientError) as raised:
        client.list_webhooks()
    assert raised.value.status == 503
    assert site.count("GET", "/webhooks") == 4  # the policy's max_attempts
    assert len(sleeps) == 3


def test_html_answer_with_200_is_a_permanent_unexpected_response() -> None:
    # A security plugin or a maintenance page can answer 200 with HTML.
    def maintenance_page(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/html")])
        return [b"<html>Briefly unavailable for scheduled maintenance.</html>"]

    with serving(maintenance_page) as url:
        client = WooCommerceClient(url, "ck", "cs")
        with pytest.raises(PermanentError) as raised:
            client.list_webhooks()
    assert raised.value.reason == "unexpected_response"


def test_wrong_site_path_is_a_permanent_404(site, site_url) -> None:
    client = WooCommerceClient(site_url + "/shop", site.consumer_key, site.consumer_secret)
    with pytest.raises(PermanentError) as raised:
        client.list_webhooks()
    assert raised.value.status == 404


# --------------------------------------------------------------------------- webhooks


def test_create_list_and_reactivate_webhooks(client, site) -> None:
    created = client.create_webhook(
        "order.created", "https://tagwise.example/webhooks/woocommerce/7", b"s3cret"
    )
    assert created["status"] == "active"
    assert created["topic"] == "order.created"
    assert site.webhooks[created["id"]]["secret"] == "s3cret"
    assert site.requests[-1].body["secret"] == "s3cret"

    site.webhooks[created["id"]]["status"] = "disabled"  # WooCommerce gave up delivering
    assert [(w["id"], w["status"]) for w in client.list_webhooks()] == [(created["id"], "disabled")]

    assert client.activate_webhook(created["id"])["status"] == "active"
    assert site.webhooks[created["id"]]["status"] == "active"


def test_invalid_topic_is_refused(client) -> None:
    with pytest.raises(PermanentError) as raised:
        client.create_webhook("order.paid", "https://tagwise.example/hook", "s")
    assert raised.value.status == 400


def test_list_webhooks_pages(client, site) -> None:
    for n in range(105):
        client.create_webhook("customer.updated", f"https://tagwise.example/{n}", "s")
    assert len(client.list_webhooks()) == 105


# --------------------------------------------------------------------------- batch


def test_batch_of_more_than_100_is_refused_before_sending(client, site) -> None:
    with pytest.raises(ValueError):
        client.batch_update_customers([{"id": n, "meta_data": []} for n in range(1, 102)])
    assert site.count("POST", "/customers/batch") == 0


def test_stand_in_answers_413_like_woocommerce_past_100_items(site, site_url) -> None:
    client = WooCommerceClient(
        site_url, site.consumer_key, site.consumer_secret, policy=RetryPolicy(sleep=lambda s: None)
    )
    with pytest.raises(PermanentError) as raised:
        client.request(
            "POST",
            "/customers/batch",
            json={"update": [{"id": n} for n in range(1, 102)]},
            auth=(site.consumer_key, site.consumer_secret),
        )
    assert raised.value.status == 413
    assert "woocommerce_rest_request_entity_too_large" in str(raised.value)
