"""The WooCommerce REST v3 client: webhooks, order/customer listings, products, customer batch.

Auth is HTTP Basic with the REST consumer key and secret, which WooCommerce accepts only over
HTTPS (plain-HTTP sites need OAuth 1.0a, not implemented here). Listings page with ``page`` /
``per_page`` (≤ 100) and report ``X-WP-Total`` / ``X-WP-TotalPages``.
https://woocommerce.github.io/woocommerce-rest-api-docs/#pagination
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

import requests
from requests.auth import HTTPBasicAuth

from connectors.base import (
    DEFAULT_TIMEOUT_SECONDS,
    ApiClient,
    Attempt,
    PermanentError,
    RetryPolicy,
)
from connectors.woocommerce.consts import API_PATH, BATCH_SIZE, HEADER_TOTAL_PAGES, MAX_PER_PAGE


class WooCommerceClient(ApiClient):
    """REST v3 calls against one WooCommerce site (``site_url`` is the WordPress home URL)."""

    def __init__(
        self,
        site_url: str,
        consumer_key: str,
        consumer_secret: str,
        *,
        session: requests.Session | None = None,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        policy: RetryPolicy | None = None,
        on_attempt: Callable[[Attempt], None] | None = None,
    ):
        super().__init__(
            site_url.rstrip("/") + API_PATH,
            session=session,
            timeout=timeout,
            policy=policy,
            on_attempt=on_attempt,
        )
        # Per request, not on the session: the session may be shared between stores.
        self._auth = HTTPBasicAuth(consumer_key, consumer_secret)

    # ----------------------------------------------------------------------- webhooks

    def create_webhook(
        self, topic: str, delivery_url: str, secret: str | bytes, *, name: str | None = None
    ) -> dict[str, Any]:
        """Create an active webhook for ``topic`` signed with ``secret``; return it."""
        body = {
            "name": name or f"Tagwise {topic}",
            "topic": topic,
            "delivery_url": delivery_url,
            "secret": secret.decode() if isinstance(secret, bytes) else secret,
            "status": "active",
        }
        return self._json_object("POST", "/webhooks", json=body)

    def list_webhooks(self) -> list[dict[str, Any]]:
        """Return every webhook on the site (all pages), to check their ``status``."""
        return list(self._iter_pages("/webhooks", {}, MAX_PER_PAGE))

    def activate_webhook(self, webhook_id: int) -> dict[str, Any]:
        """Set a paused or disabled webhook back to ``active``; return it."""
        return self._json_object("PUT", f"/webhooks/{int(webhook_id)}", json={"status": "active"})

    # ----------------------------------------------------------------------- reads

    def iter_orders(
        self, modified_after: datetime | None = None, per_page: int = MAX_PER_PAGE
    ) -> Iterator[dict[str, Any]]:
        """Yield raw orders, oldest id first, optionally only those modified after a time."""
        # Ordered by id so an order edited mid-listing keeps its page (ordering by date
        # modified would move it and skip another).
        params: dict[str, Any] = {"orderby": "id", "order": "asc"}
        if modified_after is not None:
            params["modified_after"] = _gmt_param(modified_after)
            params["dates_are_gmt"] = "true"  # otherwise read in the site's timezone (WC 5.8+)
        yield from self._iter_pages("/orders", params, per_page)

    def iter_customers(
        self, modified_after: datetime | None = None, per_page: int = MAX_PER_PAGE
    ) -> Iterator[dict[str, Any]]:
        """Yield raw customers of every role, optionally only those modified after a time.

        The customers endpoint has no date filters (woocommerce/woocommerce#31482), so the
        filter is applied here on ``date_modified_gmt``; every page is still read.
        """
        threshold = _as_utc(modified_after) if modified_after is not None else None
        params = {"orderby": "id", "order": "asc", "role": "all"}
        for customer in self._iter_pages("/customers", params, per_page):
            if threshold is None or _modified_after(customer, threshold):
                yield customer

    def get_product(self, product_id: int) -> dict[str, Any]:
        """Return one product (its ``categories`` give a line item's category)."""
        return self._json_object("GET", f"/products/{int(product_id)}")

    # ----------------------------------------------------------------------- writes

    def batch_update_customers(self, updates: list[dict[str, Any]]) -> dict[str, Any]:
        """POST customers/batch ``{"update": updates}`` (≤ 100); return the per-item answer."""
        if len(updates) > BATCH_SIZE:
            raise ValueError(f"WooCommerce accepts at most {BATCH_SIZE} items per batch")
        return self._json_object("POST", "/customers/batch", json={"update": updates})

    # ----------------------------------------------------------------------- plumbing

    def _send(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self.request(method, path, auth=self._auth, **kwargs)

    def _json_object(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        data = _json(self._send(method, path, **kwargs), method, path)
        if not isinstance(data, dict):
            raise PermanentError(
                f"{method} {path}: expected a JSON object, got {type(data).__name__}",
                reason="unexpected_response",
            )
        return data

    def _iter_pages(
        self, path: str, params: Mapping[str, Any], per_page: int
    ) -> Iterator[dict[str, Any]]:
        per_page = max(1, min(per_page, MAX_PER_PAGE))
        page = 1
        while True:
            query = {**params, "page": page, "per_page": per_page}
            response = self._send("GET", path, params=query)
            items = _json(response, "GET", path)
            if not isinstance(items, list):
                raise PermanentError(
                    f"GET {path}: expected a JSON list, got {type(items).__name__}",
                    reason="unexpected_response",
                )
            yield from items
            total_pages = _int_header(response, HEADER_TOTAL_PAGES)
            # Without the header (a caching proxy can strip it) a short page is the last one.
            last = page >= total_pages if total_pages is not None else len(items) < per_page
            if last or not items:
                return
            page += 1


def _json(response: requests.Response, method: str, path: str) -> Any:
    try:
        return response.json()
    except ValueError as exc:
        # A security plugin or host page answering HTML with 200 is not a WooCommerce answer.
        raise PermanentError(
            f"{method} {path}: response is not JSON (HTTP {response.status_code})",
            reason="unexpected_response",
            status=response.status_code,
        ) from exc


def _int_header(response: requests.Response, name: str) -> int | None:
    try:
        return int(response.headers[name])
    except (KeyError, ValueError):
        return None


def _as_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _gmt_param(moment: datetime) -> str:
    return _as_utc(moment).replace(tzinfo=None).isoformat(timespec="seconds")


def _modified_after(customer: Mapping[str, Any], threshold: datetime) -> bool:
    value = customer.get("date_modified_gmt") or customer.get("date_created_gmt")
    if not isinstance(value, str):
        return True  # cannot tell: let the idempotent ingest decide
    try:
        modified = _as_utc(datetime.fromisoformat(value))
    except ValueError:
        return True
    return modified > threshold


def credentials_secret(consumer_key: str, consumer_secret: str) -> str:
    """The one secret a store keeps for the REST API: both halves of the key pair."""
    return json.dumps({"consumer_key": consumer_key, "consumer_secret": consumer_secret})


def client_from_credentials(base_url: str, secret: str, *, api_version: str | None = None,
                            **kwargs: Any) -> WooCommerceClient:
    """A site's REST client from its stored secret (:func:`credentials_secret`)."""
    credentials = json.loads(secret)
    return WooCommerceClient(base_url, credentials["consumer_key"],
                             credentials["consumer_secret"], **kwargs)

