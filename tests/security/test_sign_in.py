"""Findings 6, 7, 11: where sign-in may send the browser, how fast passwords may be guessed,
and how long a signed Shopify launch link stays usable."""

from __future__ import annotations

import time

import pytest

from tests.conftest import SHOP
from tests.security.helpers import (
    PASSWORD,
    add_shopify_store,
    add_user,
    app_with,
    csrf,
    launch_query,
    opens,
)


def post_login(client, next_path: str, address: str = "127.0.0.1", **fields):
    return client.post(f"/login?next={next_path}", data={"csrf_token": csrf(client), **fields},
                       environ_base={"REMOTE_ADDR": address})


@pytest.mark.parametrize("next_path", ["/%09/evil.com", "/%0a/evil.com", "/%0d%0a/evil.com",
                                       "/%5c/evil.com", "/%20/evil.com", "%2f%2fevil.com"])
def test_sign_in_never_sends_the_browser_off_site(app, client, next_path):
    add_shopify_store(app, SHOP)
    add_user(app, "staff@example.com", "--all-stores")
    response = post_login(client, next_path, email="staff@example.com", password=PASSWORD)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"  # the store list, not the attacker's site


def test_a_same_site_next_path_is_kept(app, client):
    add_shopify_store(app, SHOP)
    add_user(app, "staff@example.com", "--all-stores")
    response = post_login(client, "/stores/1/segments", email="staff@example.com",
                          password=PASSWORD)
    assert response.headers["Location"] == "/stores/1/segments"


def test_guessing_passwords_is_throttled_but_the_real_user_is_not_locked_out(app, client):
    add_user(app, "staff@example.com", "--all-stores")
    attacker = "203.0.113.9"
    for _ in range(5):
        assert post_login(client, "/", attacker, email="staff@example.com",
                          password="wrong guess!").status_code == 401
    blocked = post_login(client, "/", attacker, email="staff@example.com", password=PASSWORD)
    assert blocked.status_code == 429
    assert 0 < int(blocked.headers["Retry-After"]) <= 900
    real_user = app.test_client()
    assert post_login(real_user, "/", "198.51.100.7", email="staff@example.com",
                      password=PASSWORD).status_code == 302


def test_guessing_across_many_accounts_from_one_address_is_throttled(app, client):
    attacker = "203.0.113.10"
    statuses = [post_login(client, "/", attacker, email=f"user{i}@example.com",
                           password="wrong guess!").status_code for i in range(31)]
    assert statuses[:30] == [401] * 30 and statuses[30] == 429


def test_a_launch_link_copied_from_a_log_opens_nothing(app, client):
    store_id = add_shopify_store(app, SHOP)
    query = launch_query(SHOP)
    client.get("/shopify/launch", query_string=query)
    assert opens(client, store_id)
    assert client.get("/shopify/launch", query_string=query).status_code == 302  # a reload
    stranger = app.test_client()
    assert stranger.get("/shopify/launch", query_string=query).status_code == 401
    assert not opens(stranger, store_id)


def test_a_launch_link_dated_in_the_future_is_refused(app, client):
    store_id = add_shopify_store(app, SHOP)
    query = launch_query(SHOP, timestamp=int(time.time()) + 9 * 60)
    assert client.get("/shopify/launch", query_string=query).status_code == 401
    assert not opens(client, store_id)


def test_behind_a_trusted_proxy_the_throttle_keys_on_the_forwarded_address(
        tmp_path, database_url, redis_url):
    proxied = app_with(tmp_path, database_url, redis_url, TRUSTED_PROXIES=1)
    with proxied.app_context():
        add_user(proxied, "staff@example.com", "--all-stores")
        attacker, real_user = proxied.test_client(), proxied.test_client()
        for _ in range(30):  # many failures from one client, all through the same proxy
            attacker.post("/login", data={"csrf_token": csrf(attacker), "email": "x@example.com",
                                          "password": "wrong guess!"},
                          headers={"X-Forwarded-For": "203.0.113.9"})
        response = real_user.post("/login", data={
            "csrf_token": csrf(real_user), "email": "staff@example.com", "password": PASSWORD},
            headers={"X-Forwarded-For": "198.51.100.7"})
    proxied.extensions["db"].engine.dispose()
    assert response.status_code == 302  # the proxy's own address is not what got throttled
