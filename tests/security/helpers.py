"""What the security tests share: shops added from the command line, signed launch links,
signing in through the login form, and a second browser holding a copied cookie."""

from __future__ import annotations

import re
import time

from cryptography.fernet import Fernet

from app import create_app
from connectors.shopify.oauth import query_hmac
from tests.conftest import API_TOKEN, SHOPIFY_SECRET

PASSWORD = "correct horse battery"


def app_with(tmp_path, database_url: str, redis_url: str, **config):
    """Another app on the test database and Redis, configured as a deployment would be."""
    return create_app({"INSTANCE_PATH": tmp_path / "other-app", "TAGWISE_ENV": "test",
                       "DATABASE_URL": database_url, "REDIS_URL": redis_url,
                       "SECRET_KEY": "k" * 48, "TAGWISE_API_TOKEN": API_TOKEN,
                       "TAGWISE_ENCRYPTION_KEY": Fernet.generate_key().decode(),
                       "SHOPIFY_API_SECRET": SHOPIFY_SECRET, **config})


def add_shopify_store(app, domain: str) -> int:
    """``tagwise stores add shopify`` (no Admin API calls needed by these tests)."""
    result = app.test_cli_runner().invoke(args=[
        "stores", "add", "shopify", "--domain", domain, "--access-token", "shpat_test"])
    assert result.exit_code == 0, result.output
    return int(result.output.strip())


def add_user(app, email: str, *scope: str) -> None:
    result = app.test_cli_runner().invoke(
        args=["users", "add", email, *scope, "--password-stdin"], input=PASSWORD + "\n")
    assert result.exit_code == 0, result.output


def launch_query(shop: str, timestamp: int | None = None) -> dict[str, str]:
    """A launch link exactly as Shopify's admin signs it."""
    params = {"shop": shop, "host": "YWRtaW4uc2hvcGlmeS5jb20vc3RvcmUvdGVzdA",
              "timestamp": str(timestamp or int(time.time()))}
    return {**params, "hmac": query_hmac(SHOPIFY_SECRET, params)}


def csrf(client, path: str = "/login") -> str:
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def sign_in(client, path: str = "/login", **fields):
    return client.post(path, data={"csrf_token": csrf(client), **fields})


def copy_of_cookie(app, client):
    """Another browser holding a copy of ``client``'s session cookie (as a thief would)."""
    thief = app.test_client()
    thief.set_cookie("session", client.get_cookie("session").value)
    return thief


def opens(client, store_id: int) -> bool:
    """Whether the store's overview page opens (not a redirect to sign-in, not a 404)."""
    return client.get(f"/stores/{store_id}/").status_code == 200
