"""Customer search, customer detail, destination health and the dry-run diff, via the API."""

from __future__ import annotations

import pytest

from tests.conftest import API_TOKEN
from tests.seeding import (
    CUSTOMER_ID,
    add_store,
    days_ago,
    deliver,
    order_payload,
    process_pending,
    seed_orders,
    sync_dirty,
)
from tests.web.api.spec import assert_conforms

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
CUSTOMERS = "/stores/{store_id}/customers"
DESTINATIONS = "/stores/{store_id}/destinations"
DIFF = "/stores/{store_id}/destinations/{destination_id}/diff"


@pytest.fixture
def store_id(app, client, shop):
    store_id = add_store(app, shop)
    seed_orders(client, app)  # webhooks processed; the sync has not run yet
    return store_id


def get(client, template: str, query: str = "", **ids):
    response = client.get(f"/api/v1{template.format(**ids)}{query}", headers=AUTH)
    assert_conforms(response, "GET", template)
    return response


def search(client, store_id: int, query: str):
    return get(client, CUSTOMERS, query, store_id=store_id)


@pytest.mark.parametrize("q", ["buyer3@example.com", "  BUYER3@Example.COM ", "7003"])
def test_a_customer_is_found_by_email_in_any_case_or_by_platform_id(client, store_id, q):
    from urllib.parse import quote

    body = search(client, store_id, f"?q={quote(q)}").json
    assert body["total"] == 1
    [found] = body["customers"]
    assert found["platform_customer_id"] == "7003" and found["orders_count"] == 1
    assert found["segments"]


def test_a_guest_is_found_by_the_email_its_orders_carried(client, app, store_id):
    deliver(client, "orders/create", order_payload(555, customer_id=None, email="Guest@Shop.io",
                                                   created=days_ago(3)), "guest-1")
    process_pending(app)
    [guest] = search(client, store_id, "?q=guest@shop.io").json["customers"]
    assert guest["platform_customer_id"] is None and guest["email"] == "Guest@Shop.io"


def test_search_pages_through_every_customer_once(client, store_id):
    seen = []
    for page in (1, 2, 3, 4, 5):
        body = search(client, store_id, f"?page={page}&per_page=2").json
        assert body["total"] == 9 and body["per_page"] == 2
        seen += [c["platform_customer_id"] for c in body["customers"]]
    assert len(seen) == 9 and len(set(seen)) == 9
    assert search(client, store_id, "?q=nobody@example.com").json == {
        "customers": [], "page": 1, "per_page": 50, "total": 0}


@pytest.mark.parametrize("query", ["?page=0", "?page=-1", "?page=x", "?per_page=201",
                                   "?per_page=0", "?page=1e3", "?page=١", "?q=" + "a" * 321,
                                   "?q=%00"])
def test_bad_search_arguments_are_400(client, store_id, query):
    response = search(client, store_id, query)
    assert response.status_code == 400
    assert response.json["error"]["reason"] in {"invalid_argument", "invalid_text"}


def test_customer_detail_explains_each_tag(client, store_id):
    response = get(client, "/stores/{store_id}/customers/{platform_customer_id}",
                   store_id=store_id, platform_customer_id=CUSTOMER_ID)
    assert response.status_code == 200
    assert all(s["explanation"] for s in response.json["segments"])
    missing = get(client, "/stores/{store_id}/customers/{platform_customer_id}",
                  store_id=store_id, platform_customer_id="404404")
    assert missing.status_code == 404 and missing.json["error"]["reason"] == "customer_not_found"


def test_the_diff_shows_what_a_sync_would_send_and_sends_nothing(app, client, shop, store_id):
    [destination] = get(client, DESTINATIONS, store_id=store_id).json["destinations"]
    diff = get(client, DIFF, store_id=store_id, destination_id=destination["id"])
    assert diff.status_code == 200
    body = diff.json
    assert body["total"] == 9 and body["destination"]["kind"] == "shopify_tags"
    by_customer = {c["platform_customer_id"]: c for c in body["changes"]}
    mine = by_customer[str(CUSTOMER_ID)]
    view = client.get(f"/api/v1/stores/{store_id}/customers/{CUSTOMER_ID}", headers=AUTH).json
    assert mine["add"] == sorted(s["tag"] for s in view["segments"]) and mine["remove"] == []
    assert shop.mutation_requests() == [] and shop.tags_of(str(CUSTOMER_ID)) == ["VIP"]
    page = get(client, DIFF, "?page=2&per_page=4", store_id=store_id,
               destination_id=destination["id"]).json
    assert [c["platform_customer_id"] for c in page["changes"]] == \
        [c["platform_customer_id"] for c in body["changes"][4:8]]
    shop.customers.update({str(7000 + i): [] for i in range(8)})  # the shop knows them all
    sync_dirty(app)
    after = get(client, DIFF, store_id=store_id, destination_id=destination["id"]).json
    assert after["total"] == 0 and after["changes"] == []


def test_a_destination_of_another_store_or_none_is_404(app, client, shop, store_id):
    from tests.seeding import OTHER_SHOP

    other = add_store(app, shop, domain=OTHER_SHOP)
    [theirs] = get(client, DESTINATIONS, store_id=other).json["destinations"]
    for destination_id in (theirs["id"], 999999, 2**64):
        response = get(client, DIFF, store_id=store_id, destination_id=destination_id)
        assert response.status_code == 404
        assert response.json["error"]["reason"] == "destination_not_found"


def test_destinations_report_recent_failures(app, client, shop, store_id):
    shop.access_token = "revoked-by-the-merchant"  # every call now answers 401
    sync_dirty(app)
    [destination] = get(client, DESTINATIONS, store_id=store_id).json["destinations"]
    assert destination["recent_failures"] and destination["recent_failures"][0]["status"] == 401
