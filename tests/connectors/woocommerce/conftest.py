"""Shared fixtures: the captured WooCommerce payloads, a served stand-in site, a client."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from connectors.base import Attempt, RetryPolicy
from connectors.woocommerce.client import WooCommerceClient
from tests.standins.server import serving
from tests.standins.woocommerce import WooCommerceStandIn, make_site

from .payloads import CUSTOMER_CREATED, ORDER_CREATED, fixture_json


@pytest.fixture
def order_payload() -> dict[str, Any]:
    return fixture_json(ORDER_CREATED)


@pytest.fixture
def customer_payload() -> dict[str, Any]:
    return fixture_json(CUSTOMER_CREATED)


@pytest.fixture
def sleeps() -> list[float]:
    """The waits the retry policy asked for (recorded, never slept)."""
    return []


@pytest.fixture
def attempts() -> list[Attempt]:
    return []


@pytest.fixture
def site() -> WooCommerceStandIn:
    return make_site(customers=250, orders=7)


class _SwappableApp:
    """One served WSGI app per module whose target site changes per test.

    Stopping a werkzeug server waits out its half-second poll, so tests share one server
    and each still gets a fresh site.
    """

    def __init__(self) -> None:
        self.target: WooCommerceStandIn | None = None

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        assert self.target is not None, "no stand-in site for this test"
        return self.target.wsgi_app(environ, start_response)


@pytest.fixture(scope="module")
def _served() -> Iterator[tuple[_SwappableApp, str]]:
    app = _SwappableApp()
    with serving(app) as url:
        yield app, url


@pytest.fixture
def site_url(site: WooCommerceStandIn, _served: tuple[_SwappableApp, str]) -> Iterator[str]:
    app, url = _served
    app.target = site
    yield url
    app.target = None


@pytest.fixture
def client(
    site: WooCommerceStandIn, site_url: str, sleeps: list[float], attempts: list[Attempt]
) -> WooCommerceClient:
    policy = RetryPolicy(max_attempts=4, sleep=sleeps.append)
    return WooCommerceClient(
        site_url, site.consumer_key, site.consumer_secret, policy=policy, on_attempt=attempts.append
    )
