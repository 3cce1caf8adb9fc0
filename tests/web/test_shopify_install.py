"""Installing from a link: authorize, callback, token, subscriptions, store, backfill queued.

The shop is the local stand-in (tests/standins/shopify.py): it signs its redirect like
Shopify, issues single-use codes and expiring tokens, and validates every GraphQL document.
"""

from __future__ import annotations

import base64
import json
import time
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
import requests
from sqlalchemy import func, select

from app.storage.models import Destination, Store
from connectors.shopify.consts import SUBSCRIBED_TOPICS
from connectors.shopify.subscriptions import topic_enum
from tests.conftest import SHOP
from tests.seeding import (
    CUSTOMER_ID,
    days_ago,
    deliver,
    order_payload,
    process_pending,
    sync_dirty,
)
from tests.standins.shopify import API_KEY, ShopifyStandIn

APP_URL = "https://tagwise.example"
WEBHOOK_URI = f"{APP_URL}/webhooks/shopify"


@pytest.fixture
def shopify(app):
    """A stand-in shop that Tagwise is not installed on yet; every shop's calls go to it."""
    from tests.standins.server import serving

    stand_in = ShopifyStandIn(customers={str(CUSTOMER_ID): ["VIP"]})
    with serving(stand_in) as url:
        stand_in.url = url
        app.config.update(SHOPIFY_API_KEY=API_KEY, SHOPIFY_API_BASE_URL_TEMPLATE=url,
                          APP_URL=APP_URL)
        yield stand_in


def start(client, shop: str = SHOP) -> str:
    """GET the install link; return where it sends the merchant."""
    response = client.get("/auth/shopify/install", query_string={"shop": shop})
    assert response.status_code == 302, response.data
    return response.headers["Location"]


def approve(authorize_url: str) -> dict[str, str]:
    """The merchant approves on the shop; return the query Shopify sends to the callback."""
    answer = requests.get(authorize_url, allow_redirects=False, timeout=5)
    assert answer.status_code == 302, answer.text
    target = urlsplit(answer.headers["Location"])
    assert target.path == "/auth/shopify/callback"
    return dict(parse_qsl(target.query))


def callback(client, query: dict[str, str]):
    return client.get("/auth/shopify/callback?" + urlencode(query))


def install(client) -> int:
    response = callback(client, approve(start(client)))
    assert response.status_code == 200, response.data
    with client.application.extensions["db"].session() as session:
        return session.execute(select(Store.id).filter_by(domain=SHOP)).scalar_one()


def queued(app, queue: str) -> list[tuple[str, list]]:
    """(task name, args) of every message waiting on a broker queue (a Redis list)."""
    messages = []
    for raw in app.extensions["redis"].lrange(queue, 0, -1):
        message = json.loads(raw)
        args, _kwargs, _embed = json.loads(base64.b64decode(message["body"]))
        messages.append((message["headers"]["task"], args))
    return messages


def store_count(app) -> int:
    with app.extensions["db"].session() as session:
        return session.execute(select(func.count(Store.id))).scalar()


def test_install_link_redirects_to_the_shops_authorize_page(client, shopify):
    location = urlsplit(start(client))
    query = dict(parse_qsl(location.query))
    assert f"{location.scheme}://{location.netloc}" == shopify.url
    assert location.path == "/admin/oauth/authorize"
    assert query["client_id"] == API_KEY
    assert query["scope"] == "read_orders,read_customers,write_customers"
    assert query["redirect_uri"] == f"{APP_URL}/auth/shopify/callback"
    assert len(query["state"]) >= 32
    assert dict(parse_qsl(urlsplit(start(client)).query))["state"] != query["state"]


def test_a_full_install_saves_the_store_subscribes_and_queues_the_backfill(app, client,
                                                                            shopify):
    page = callback(client, approve(start(client)))
    assert page.status_code == 200 and b"Tagwise is installed on" in page.data
    box = app.extensions["secret_box"]
    with app.extensions["db"].session() as session:
        store = session.execute(select(Store).filter_by(domain=SHOP)).scalar_one()
        token = box.decrypt(store.access_token_enc)
        refresh = box.decrypt(store.refresh_token_enc)
        assert token not in store.access_token_enc and refresh not in store.refresh_token_enc
        assert store.install_state == "active" and store.webhook_secret_enc is None
        assert store.scopes == "read_orders,read_customers,write_customers"
        assert (store.currency, store.timezone) == ("EUR", "Europe/Berlin")
        assert store.access_token_expires_at > days_ago(0)
        kinds = session.execute(select(Destination.kind).filter_by(store_id=store.id)).all()
        assert [k for (k,) in kinds] == ["shopify_tags"]
        store_id = store.id
    assert shopify.install.token_valid(token) and refresh in shopify.install.refresh_tokens
    assert shopify.install.token_requests[0]["expiring"] == 1
    assert sorted((s["topic"], s["uri"]) for s in shopify.install.subscriptions) == \
        sorted((topic_enum(t), WEBHOOK_URI) for t in SUBSCRIBED_TOPICS)
    assert queued(app, "bulk") == [("tasks.backfill.backfill_store", [store_id])]
    # The shop is live: its deliveries, signed with the app secret, are accepted.
    response = deliver(client, "orders/create", order_payload(1, created=days_ago(2)), "i1")
    assert response.status_code == 200 and response.json["status"] == "accepted"


def resign(shopify, query: dict[str, str], **changes: str) -> dict[str, str]:
    """The callback query with fields changed and signed again with the real app secret."""
    fields = {k: v for k, v in query.items() if k != "hmac"}
    fields.update(changes)
    return shopify.install.signed_query(fields)


def tampered_hmac(shopify, query):
    digest = query["hmac"]
    return dict(query, hmac=digest[:-1] + ("0" if digest[-1] != "0" else "1"))


TAMPERINGS = {
    "hmac": (401, "bad_signature", tampered_hmac),
    "shop changed after signing": (401, "bad_signature",
                                   lambda s, q: dict(q, shop="other.myshopify.com")),
    "no hmac": (401, "bad_signature",
                lambda s, q: {k: v for k, v in q.items() if k != "hmac"}),
    "unknown state": (400, "bad_state", lambda s, q: resign(s, q, state="made-up-state")),
    "state of another shop": (400, "bad_state",
                              lambda s, q: resign(s, q, shop="other.myshopify.com")),
    "hostile shop": (400, "bad_shop", lambda s, q: resign(s, q, shop="evil.example.com")),
    "stale timestamp": (400, "stale_request",
                        lambda s, q: resign(s, q, timestamp=str(int(time.time()) - 3600))),
    "no code": (400, "malformed_request",
                lambda s, q: s.install.signed_query(
                    {k: v for k, v in q.items() if k not in {"hmac", "code"}})),
}


@pytest.mark.parametrize("name", list(TAMPERINGS))
def test_a_tampered_callback_gets_an_error_page_and_no_store(app, client, shopify, name):
    status, reason, tamper = TAMPERINGS[name]
    response = callback(client, tamper(shopify, approve(start(client))))
    assert response.status_code == status
    assert response.mimetype == "text/html" and reason.encode() in response.data
    assert store_count(app) == 0
    assert shopify.install.token_requests == [] and shopify.install.subscriptions == []
    assert queued(app, "bulk") == []


def test_a_replayed_callback_is_refused_after_the_first_use(app, client, shopify):
    query = approve(start(client))
    assert callback(client, query).status_code == 200
    again = callback(client, query)
    assert again.status_code == 400 and b"bad_state" in again.data
    assert store_count(app) == 1 and len(shopify.install.token_requests) == 1


def test_a_refused_code_gets_an_error_page_and_no_store(app, client, shopify):
    query = approve(start(client))
    shopify.install.codes.clear()  # the code expired on Shopify's side
    response = callback(client, query)
    assert response.status_code == 400 and b"code_refused" in response.data
    assert store_count(app) == 0 and shopify.install.subscriptions == []


def test_shopify_down_during_the_exchange_is_a_502_and_no_store(app, client, shopify):
    query = approve(start(client))
    shopify.fail_next.extend([(503, {}), (503, {})])
    response = callback(client, query)
    assert response.status_code == 502 and b"shopify_unavailable" in response.data
    assert store_count(app) == 0


def test_a_missing_scope_gets_an_error_page_and_no_store(app, client, shopify):
    shopify.install.granted_scopes = "read_orders,read_customers"
    response = callback(client, approve(start(client)))
    assert response.status_code == 403 and b"write_customers" in response.data
    assert store_count(app) == 0 and shopify.install.subscriptions == []
    assert queued(app, "bulk") == []


def test_refused_subscriptions_get_an_error_page_and_no_store(app, client, shopify):
    app.config["APP_URL"] = "http://tagwise.example"  # Shopify only delivers to https
    query = approve(start(client))
    response = callback(client, query)
    assert response.status_code == 502 and b"subscriptions_failed" in response.data
    assert b"is not supported" in response.data
    assert store_count(app) == 0 and queued(app, "bulk") == []


def test_reinstall_after_uninstall_revives_the_store_without_duplicate_subscriptions(
        app, client, shopify):
    store_id = install(client)
    with app.extensions["db"].session() as session:
        first_token = session.get(Store, store_id).access_token_enc
    deliver(client, "app/uninstalled",
            {"id": 1, "name": "Tagwise test", "myshopify_domain": SHOP}, "u1")
    assert process_pending(app) == ["done"]
    with app.extensions["db"].session() as session:
        assert session.get(Store, store_id).install_state == "uninstalled"
    assert install(client) == store_id
    assert len(shopify.install.subscriptions) == len(SUBSCRIBED_TOPICS)
    assert len(shopify.install.subscriptions) > shopify.install.page_size  # listing paged
    box = app.extensions["secret_box"]
    with app.extensions["db"].session() as session:
        store = session.get(Store, store_id)
        assert store.install_state == "active" and store_count(app) == 1
        assert box.decrypt(store.access_token_enc) != box.decrypt(first_token)
    assert queued(app, "bulk") == [("tasks.backfill.backfill_store", [store_id])] * 2


def test_an_install_bad_request_is_a_page_not_a_500(client, shopify):
    for query in ({}, {"shop": "evil.com"}, {"shop": ["a.myshopify.com", "b.myshopify.com"]},
                  {"shop": SHOP, "hmac": "forged", "timestamp": "1"}):
        response = client.get("/auth/shopify/install", query_string=query)
        assert response.status_code in (400, 401) and response.mimetype == "text/html"


def test_an_expired_token_is_refreshed_before_tags_are_written(app, client, shopify):
    store_id = install(client)
    deliver(client, "orders/create", order_payload(1, created=days_ago(3)), "e1")
    process_pending(app)
    assert sync_dirty(app) == 1  # the fresh token is used as is: no refresh
    assert [r.get("grant_type") for r in shopify.install.token_requests] == [None]
    shopify.install.expire_access_tokens()
    with app.extensions["db"].session() as session:
        store = session.get(Store, store_id)
        store.access_token_expires_at = days_ago(0.01)
        old_refresh = app.extensions["secret_box"].decrypt(store.refresh_token_enc)
    deliver(client, "orders/create", order_payload(2, created=days_ago(1), total="900.00"), "e2")
    process_pending(app)
    assert sync_dirty(app) == 1
    assert [r.get("grant_type") for r in shopify.install.token_requests] == \
        [None, "refresh_token"]
    assert any(t.startswith("tw:") for t in shopify.tags_of(str(CUSTOMER_ID)))
    with app.extensions["db"].session() as session:
        store = session.get(Store, store_id)
        new_refresh = app.extensions["secret_box"].decrypt(store.refresh_token_enc)
        assert store.access_token_expires_at > days_ago(0)
    assert new_refresh != old_refresh and old_refresh not in shopify.install.refresh_tokens


def test_without_app_credentials_the_install_says_so(app, client, shopify):
    app.config["SHOPIFY_API_KEY"] = ""
    response = client.get("/auth/shopify/install", query_string={"shop": SHOP})
    assert response.status_code == 503 and b"SHOPIFY_API_KEY" in response.data
