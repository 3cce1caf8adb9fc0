"""Dashboard pages through the Flask client: sign-in, scoping, CSRF, hostile input, reports."""

from __future__ import annotations

import re
import time

import pytest

from app.storage.models import Segment
from connectors.shopify.oauth import query_hmac
from tests.conftest import API_TOKEN, SHOP, SHOPIFY_SECRET
from tests.seeding import OTHER_SHOP, add_store, two_stores
from tests.web.api.test_scoping import PASSWORD, add_user

XSS = "<script>alert(1)</script>"


@pytest.fixture
def stores(app, client, shop):
    """Two shops with customers, rescored."""
    return two_stores(app, client, shop)


@pytest.fixture
def bare_stores(app, shop):
    """Two shops without any order (enough for sign-in and scoping checks)."""
    return add_store(app, shop), add_store(app, shop, domain=OTHER_SHOP)


def csrf(client, path: str = "/login") -> str:
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def sign_in_as(client, **fields) -> object:
    return client.post("/login", data={"csrf_token": csrf(client), **fields})


def store_pages(app) -> list[str]:
    """Every dashboard GET route under a store."""
    return [rule.rule for rule in app.url_map.iter_rules()
            if rule.endpoint.startswith("dashboard.") and "GET" in rule.methods
            and rule.rule.startswith("/stores/<int:store_id>")]


def fill(rule: str, store_id: int) -> str:
    path = rule.replace("<int:store_id>", str(store_id))
    return re.sub(r"<(?:\w+:)?(\w+)>", "1", path)


def test_every_page_needs_a_sign_in(app, client, bare_stores):
    mine, _ = bare_stores
    for rule in store_pages(app):
        response = client.get(fill(rule, mine))
        assert response.status_code == 302, rule
        assert response.headers["Location"].startswith("/login?next=")


def test_a_scoped_user_sees_only_its_store_and_others_are_404(app, client, stores):
    mine, theirs = stores
    add_user(app, "staff@shop.example", "--store", str(mine))
    assert sign_in_as(client, email="staff@shop.example", password=PASSWORD).status_code == 302
    assert client.get("/").headers["Location"] == f"/stores/{mine}/"
    overview = client.get(f"/stores/{mine}/")
    assert overview.status_code == 200 and SHOP in overview.get_data(as_text=True)
    for rule in store_pages(app):
        assert client.get(fill(rule, theirs)).status_code == 404, rule
        assert client.get(fill(rule, 999_999)).status_code == 404, rule
    token = csrf(client, f"/stores/{mine}/segments/new")
    response = client.post(f"/stores/{theirs}/segments/new", data={
        "csrf_token": token, "key": "mine-now", "rule": "orders_count >= 1"})
    assert response.status_code == 404
    with app.extensions["db"].session() as session:
        assert session.query(Segment).filter_by(key="mine-now").count() == 0


def test_the_deployment_token_sees_every_store(client, bare_stores):
    response = sign_in_as(client, token=API_TOKEN)
    assert response.status_code == 302
    page = client.get("/").get_data(as_text=True)
    assert SHOP in page and OTHER_SHOP in page


def test_wrong_credentials_are_refused_without_a_session(client, bare_stores):
    refused = sign_in_as(client, email="nobody@x.example", password="wrong password")
    assert refused.status_code == 401
    assert sign_in_as(client, token="not-the-token").status_code == 401
    assert client.get(f"/stores/{bare_stores[0]}/").status_code == 302


def test_a_post_without_the_csrf_token_changes_nothing(app, client, bare_stores):
    mine, _ = bare_stores
    sign_in_as(client, token=API_TOKEN)
    response = client.post(f"/stores/{mine}/segments/new",
                           data={"key": "sneaky", "rule": "orders_count >= 1"})
    assert response.status_code == 400 and "form expired" in response.get_data(as_text=True)
    preview = client.post(f"/stores/{mine}/segments/preview", json={"rule": "orders_count >= 1"})
    assert preview.status_code == 400
    with app.extensions["db"].session() as session:
        assert session.query(Segment).filter_by(key="sneaky").count() == 0


def test_sign_in_never_redirects_off_site(client, bare_stores):
    token = csrf(client)
    response = client.post("/login?next=//evil.example/x", data={"csrf_token": token,
                                                                 "token": API_TOKEN})
    assert response.headers["Location"] == "/"


def test_hostile_input_is_escaped_or_refused_never_a_500(app, client, stores):
    mine, _ = stores
    sign_in_as(client, token=API_TOKEN)
    assert client.get(f"/stores/{2**70}/").status_code == 404
    assert client.get(f"/stores/{mine}/customers/{2**64}").status_code == 404
    assert client.get(f"/stores/{mine}/customers/123456789").status_code == 404
    huge = client.get(f"/stores/{mine}/customers", query_string={"q": "x" * 100_000})
    assert huge.status_code == 400
    found = client.get(f"/stores/{mine}/customers", query_string={"q": XSS})
    assert found.status_code == 200 and XSS not in found.get_data(as_text=True)
    assert "&lt;script&gt;" in found.get_data(as_text=True)
    assert client.get(f"/stores/{mine}/rfm", query_string={"by": XSS}).status_code == 200
    token = csrf(client, f"/stores/{mine}/segments/new")
    saved = client.post(f"/stores/{mine}/segments/new", data={
        "csrf_token": token, "key": "xss", "name": XSS, "rule": f"top_vendor = '{XSS}'"})
    assert saved.status_code == 302
    listing = client.get(f"/stores/{mine}/segments").get_data(as_text=True)
    assert XSS not in listing and "&lt;script&gt;alert(1)&lt;/script&gt;" in listing
    bad = client.post(f"/stores/{mine}/segments/preview", data="{not json",
                      headers={"X-CSRF-Token": token, "Content-Type": "application/json"})
    assert bad.status_code == 400
    error = client.post(f"/stores/{mine}/segments/preview", json={"rule": "order_count >= 2"},
                        headers={"X-CSRF-Token": token})
    assert error.status_code == 422
    assert "unknown field 'order_count' at 1:1" in error.json["error"]["message"]
    assert error.json["error"]["detail"]["column"] == 1


def _launch_query(shop: str, timestamp: int | None = None, secret: str = SHOPIFY_SECRET):
    params = {"shop": shop, "host": "YWRtaW4uc2hvcGlmeS5jb20vc3RvcmUvdGVzdA",
              "timestamp": str(timestamp or int(time.time()))}
    return {**params, "hmac": query_hmac(secret, params)}


def test_shopify_admin_launch_signs_in_to_that_shop_only(client, bare_stores):
    mine, theirs = bare_stores
    response = client.get("/", query_string=_launch_query(SHOP))
    response = client.get(response.headers["Location"])
    assert response.status_code == 302 and response.headers["Location"] == f"/stores/{mine}/"
    assert "frame-ancestors https://admin.shopify.com" in client.get(
        f"/stores/{mine}/").headers["Content-Security-Policy"]
    assert client.get(f"/stores/{theirs}/").status_code == 404


def test_a_shop_not_installed_yet_is_sent_to_the_install(client, bare_stores):
    response = client.get("/shopify/launch", query_string=_launch_query("newcomer.myshopify.com"))
    assert response.status_code == 302
    assert response.headers["Location"] == "/auth/shopify/install?shop=newcomer.myshopify.com"


@pytest.mark.parametrize("query", [
    _launch_query(SHOP, secret="not-the-secret"),
    _launch_query(SHOP, timestamp=int(time.time()) - 3600),
    {**_launch_query(SHOP), "shop": OTHER_SHOP},
    {**_launch_query(SHOP), "hmac": "zz"},
    {**_launch_query(SHOP), "timestamp": "9" * 400},
    {"shop": "evil.example.com", "hmac": "00"},
])
def test_a_forged_stale_or_absurd_launch_is_refused(client, bare_stores, query):
    response = client.get("/shopify/launch", query_string=query)
    assert response.status_code == 401
    assert client.get(f"/stores/{bare_stores[0]}/").status_code == 302


def test_reports_pages_show_what_rescore_computed(client, stores):
    mine, _ = stores
    sign_in_as(client, token=API_TOKEN)
    rfm = client.get(f"/stores/{mine}/rfm").get_data(as_text=True)
    counts = [int(n) for n in re.findall(r'<span class="cell-main">(\d+)</span>', rfm)]
    assert len(counts) == 25 and sum(counts) == 9
    cohorts = client.get(f"/stores/{mine}/cohorts").get_data(as_text=True)
    assert 'id="cohort-table"' in cohorts
    overview = client.get(f"/stores/{mine}/").get_data(as_text=True)
    assert '<dd id="customer-count">9</dd>' in overview
    model = client.get(f"/stores/{mine}/model").get_data(as_text=True)
    assert 'id="model-facts"' in model and 'id="prior-weight"' in model
    # The holdout check and the next-year totals with their interval.
    assert 'id="calibration-table"' in model and 'id="tracking-chart"' in model
    assert 'id="store-totals"' in model and "90% interval" in model
