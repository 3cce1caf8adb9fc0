"""Findings 2, 9, 11, 12: what a dashboard session cookie can still open, and for how long.

Sessions live on the server; the cookie names one by a random token. Signing out, changing
or deleting the user, or deleting the store ends it, whatever copies of the cookie exist.
"""

from __future__ import annotations

import hashlib
import json

import pytest
from cryptography.fernet import Fernet

from app import create_app
from app.config import ConfigError
from tests.conftest import API_TOKEN, SHOP, fixture_json
from tests.security.helpers import (
    PASSWORD,
    add_shopify_store,
    add_user,
    app_with,
    copy_of_cookie,
    csrf,
    launch_query,
    opens,
    sign_in,
)
from tests.seeding import deliver, process_pending

NEXT_SHOP = "next-shop.myshopify.com"


def test_a_session_of_a_redacted_shop_does_not_open_the_store_created_next(app, client):
    old = add_shopify_store(app, SHOP)
    client.get("/shopify/launch", query_string=launch_query(SHOP))
    assert opens(client, old)
    body = dict(fixture_json("shopify", "shop_redact__sample.json"), shop_domain=SHOP)
    deliver(client, "shop/redact", body, "redact-1")
    assert process_pending(app) == ["done"]
    new = add_shopify_store(app, NEXT_SHOP)
    assert new != old  # ids are never reused, on SQLite too
    assert not opens(client, new) and not opens(client, old)
    assert client.get(f"/stores/{new}/").headers["Location"].startswith("/login")


def test_a_cookie_copied_before_sign_out_stops_working(app, client):
    store_id = add_shopify_store(app, SHOP)
    add_user(app, "staff@example.com", "--store", str(store_id))
    sign_in(client, email="staff@example.com", password=PASSWORD)
    thief = copy_of_cookie(app, client)
    assert opens(thief, store_id)
    client.post("/logout", data={"csrf_token": csrf(client, f"/stores/{store_id}/")})
    assert not opens(thief, store_id)


@pytest.mark.parametrize("command", [
    ["users", "delete", "staff@example.com"],
    ["users", "password", "staff@example.com", "--password-stdin"],
    ["users", "scope", "staff@example.com", "--all-stores"],
])
def test_any_change_to_a_user_ends_their_sessions(app, client, command):
    store_id = add_shopify_store(app, SHOP)
    add_user(app, "staff@example.com", "--store", str(store_id))
    sign_in(client, email="staff@example.com", password=PASSWORD)
    assert opens(client, store_id)
    result = app.test_cli_runner().invoke(args=command, input="a new long password\n")
    assert result.exit_code == 0, result.output
    assert not opens(client, store_id)


def test_user_commands_change_what_the_user_can_do(app, client):
    mine, other = add_shopify_store(app, SHOP), add_shopify_store(app, NEXT_SHOP)
    add_user(app, "staff@example.com", "--store", str(mine))
    runner = app.test_cli_runner()
    runner.invoke(args=["users", "password", "staff@example.com", "--password-stdin"],
                  input="a new long password\n")
    assert sign_in(client, email="staff@example.com", password=PASSWORD).status_code == 401
    sign_in(client, email="staff@example.com", password="a new long password")
    assert opens(client, mine) and not opens(client, other)
    runner.invoke(args=["users", "scope", "staff@example.com", "--store", str(other)])
    sign_in(client, email="staff@example.com", password="a new long password")
    assert opens(client, other) and not opens(client, mine)
    runner.invoke(args=["users", "delete", "staff@example.com"])
    assert sign_in(client, email="staff@example.com",
                   password="a new long password").status_code == 401
    missing = runner.invoke(args=["users", "delete", "nobody@example.com"])
    assert missing.exit_code == 1 and "no user nobody@example.com" in missing.output


def test_the_cookie_carries_nothing_derived_from_the_deployment_token(app, client):
    store_id = add_shopify_store(app, SHOP)
    sign_in(client, token=API_TOKEN)
    assert opens(client, store_id)
    cookie = client.get_cookie("session").value
    content = json.dumps(app.session_interface.get_signing_serializer(app).loads(cookie))
    assert hashlib.sha256(API_TOKEN.encode()).hexdigest() not in content
    assert API_TOKEN not in content


def test_rotating_the_deployment_token_ends_its_sessions(app, client):
    store_id = add_shopify_store(app, SHOP)
    sign_in(client, token=API_TOKEN)
    app.config["TAGWISE_API_TOKEN"] = "a-rotated-deployment-token-of-enough-length"
    assert not opens(client, store_id)


def test_production_refuses_a_weak_deployment_token(tmp_path, database_url, redis_url):
    with pytest.raises(ConfigError, match="TAGWISE_API_TOKEN"):
        create_app({"INSTANCE_PATH": tmp_path / "prod", "TAGWISE_ENV": "production",
                    "DATABASE_URL": database_url, "REDIS_URL": redis_url,
                    "SECRET_KEY": "k" * 48, "TAGWISE_ENCRYPTION_KEY": Fernet.generate_key(),
                    "TAGWISE_API_TOKEN": "admin123", "SHOPIFY_API_SECRET": "s"})


def test_the_embedded_app_cookie_is_sent_inside_the_shopify_admin_iframe(
        tmp_path, database_url, redis_url):
    embedded = app_with(tmp_path, database_url, redis_url, APP_URL="https://tagwise.example")
    with embedded.app_context():
        add_shopify_store(embedded, SHOP)
        response = embedded.test_client().get("/shopify/launch",
                                              query_string=launch_query(SHOP))
    cookie = response.headers["Set-Cookie"]
    assert "SameSite=None" in cookie and "Secure" in cookie and "Partitioned" in cookie
    embedded.extensions["db"].engine.dispose()
