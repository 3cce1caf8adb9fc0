"""Finding 5: Tagwise must not be steered into calling internal addresses (SSRF).

A store's site is the merchant's: it can answer 302 to ``http://127.0.0.1:…``. API calls never
follow redirects, and what a vendor answered is kept only as a short redacted excerpt. URLs a
merchant or store user sets must be public unless the operator allows private ones.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from app.storage.models import Destination, SyncAttempt
from connectors.netguard import GuardedSession, UnsafeURL, ensure_callable_url
from tests.conftest import API_TOKEN
from tests.security.helpers import sign_in
from tests.seeding import process_pending, sync_dirty
from tests.standins.server import serving
from tests.web.webhooks.test_woocommerce_pipeline import SECRET, order, post

INTERNAL_SECRET = "internal-admin-password-hash"


class Internal:
    """A service only reachable from inside: it counts the requests it gets."""

    def __init__(self):
        self.hits = 0

    def __call__(self, environ, start_response):
        self.hits += 1
        start_response("400 Bad Request", [("Content-Type", "text/plain")])
        return [INTERNAL_SECRET.encode()]


def redirecting_to(target: str):
    """A merchant's site that answers every request with a redirect to ``target``."""
    def site(environ, start_response):
        start_response("302 Found", [("Location", target + environ["PATH_INFO"])])
        return [b""]
    return site


def test_a_site_redirecting_to_an_internal_address_is_not_followed(app, client):
    internal = Internal()
    with serving(internal) as internal_url, serving(redirecting_to(internal_url)) as site_url:
        added = app.test_cli_runner().invoke(args=[
            "stores", "add", "woocommerce", "--url", "https://shop.example/",
            "--consumer-key", "ck_x", "--consumer-secret", "cs_x", "--webhook-secret", SECRET,
            "--api-base-url", site_url, "--no-create-webhooks"])
        store_id = int(added.output.splitlines()[0])
        post(client, store_id, "order.created", order(1, 7, datetime(2026, 11, 1, tzinfo=UTC)))
        process_pending(app)
        sync_dirty(app)
    assert internal.hits == 0
    with app.extensions["db"].session() as session:
        destination = session.execute(select(Destination)).scalar_one()
        errors = [a.error for a in session.execute(select(SyncAttempt)).scalars()]
    assert errors and all("redirect not followed" in e for e in errors)
    assert destination.last_error and INTERNAL_SECRET not in destination.last_error
    sign_in(client, token=API_TOKEN)
    page = client.get(f"/stores/{store_id}/destinations")
    assert page.status_code == 200 and INTERNAL_SECRET.encode() not in page.data


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:8000/hook", "http://localhost/hook", "http://10.0.0.5/hook",
    "http://192.168.1.1/hook", "http://169.254.169.254/latest/meta-data/",
    "http://[::1]/hook", "http://[::ffff:127.0.0.1]/hook", "http://0.0.0.0/hook",
    "http://metadata.google.internal/computeMetadata/v1/", "https://user:pw@93.184.215.14/",
    "file:///etc/passwd", "gopher://127.0.0.1:6379/_FLUSHALL",
])
def test_merchant_set_urls_may_not_reach_internal_addresses(url):
    with pytest.raises(UnsafeURL):
        ensure_callable_url(url)
    with pytest.raises(UnsafeURL):
        GuardedSession().get(url, timeout=1)


def test_the_operator_can_allow_private_urls_for_tests_and_demos(app):
    internal = Internal()
    with serving(internal) as internal_url:
        assert ensure_callable_url(internal_url, allow_private=True) == internal_url
        response = GuardedSession(allow_private=True).get(internal_url, timeout=5)
    assert response.status_code == 400 and internal.hits == 1
    assert app.config["TAGWISE_ALLOW_PRIVATE_URLS"] is False  # off unless configured


def test_a_public_address_is_allowed():
    assert ensure_callable_url("https://93.184.215.14/hook") == "https://93.184.215.14/hook"
