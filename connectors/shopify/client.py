"""Shopify Admin GraphQL client: the only place this connector speaks HTTP."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import requests

from connectors.base import ApiClient, PermanentError, RetryPolicy, TransientError, WriterContext
from connectors.shopify.consts import HEADER_ACCESS_TOKEN
from connectors.shopify.history import (
    BULK_RUN_MUTATION,
    BULK_STATUS_QUERY,
    PAGE_QUERIES,
    PAGE_SIZE,
)
from connectors.shopify.oauth import ACCESS_TOKEN_PATH, TokenGrant, parse_grant

THROTTLED = "THROTTLED"
# Cost points restored per second on the Standard plan; used to wait out a THROTTLED answer.
DEFAULT_RESTORE_RATE = 100.0
DOWNLOAD_TIMEOUT_SECONDS = 60.0
# Pacing waits this much beyond the computed refill, so rounding never leaves it a point short.
PACE_MARGIN_SECONDS = 0.05


class ShopifyClient(ApiClient):
    """POST GraphQL documents to ``{base}/admin/api/{version}/graphql.json``.

    Every answer's ``extensions.cost`` is remembered: before a document whose cost is known
    is sent again, the client waits until the bucket has refilled enough for it, so paging
    through a shop is paced instead of throttled (shopify.dev/docs/api/usage/limits).
    """

    def __init__(self, base_url: str, access_token: str, api_version: str, *,
                 clock: Callable[[], float] = time.monotonic, **kwargs: Any):
        super().__init__(base_url, **kwargs)
        self.api_version = api_version
        self.clock = clock
        self.session.headers.update({HEADER_ACCESS_TOKEN: access_token,
                                     "Content-Type": "application/json"})
        self.query_costs: dict[str, float] = {}
        self.bucket: tuple[float, float, float, float] | None = None  # available, max, rate, at

    def graphql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """Run one document; return ``data``. THROTTLED (HTTP 200 or 429) is retried here."""
        path = f"/admin/api/{self.api_version}/graphql.json"
        for attempt in range(self.policy.max_attempts):
            self._pace(query)
            response = self.request("POST", path, json={"query": query, "variables": variables})
            try:
                body = response.json()
            except ValueError as exc:
                raise TransientError("GraphQL answer is not JSON", reason="bad_response") from exc
            self._note_cost(query, body)
            errors = body.get("errors") or []
            if any(_code(e) == THROTTLED for e in errors):
                # shopify.dev/docs/api/usage/limits: a throttled query is an HTTP 200 with
                # extensions.code THROTTLED; wait for the bucket to refill what it needs.
                self.policy.sleep(self._throttle_wait(body, attempt))
                continue
            if errors:
                raise PermanentError(f"GraphQL errors: {errors}"[:500], reason="graphql_error")
            return body.get("data") or {}
        raise TransientError("still THROTTLED after retries", reason="throttled")

    def _note_cost(self, query: str, body: dict[str, Any]) -> None:
        cost = (body.get("extensions") or {}).get("cost") or {}
        status = cost.get("throttleStatus") or {}
        try:
            if cost.get("requestedQueryCost") is not None:
                self.query_costs[query] = float(cost["requestedQueryCost"])
            if status:
                self.bucket = (float(status["currentlyAvailable"]),
                               float(status["maximumAvailable"]),
                               float(status.get("restoreRate") or DEFAULT_RESTORE_RATE),
                               self.clock())
        except (KeyError, TypeError, ValueError):
            return  # an answer without usable cost data just is not paced

    def _pace(self, query: str) -> None:
        """Sleep until the bucket holds what this document cost last time."""
        needed = self.query_costs.get(query)
        if needed is None or self.bucket is None:
            return
        available, maximum, rate, at = self.bucket
        now_available = min(maximum, available + (self.clock() - at) * rate)
        if needed > now_available:
            self.policy.sleep((needed - now_available) / rate + PACE_MARGIN_SECONDS)

    def _throttle_wait(self, body: dict[str, Any], attempt: int) -> float:
        cost = (body.get("extensions") or {}).get("cost") or {}
        status = cost.get("throttleStatus") or {}
        try:
            needed = float(cost.get("requestedQueryCost", 0)) - float(
                status.get("currentlyAvailable", 0))
            rate = float(status.get("restoreRate") or DEFAULT_RESTORE_RATE)
        except (TypeError, ValueError):
            return self.policy.backoff(attempt, None)
        return min(self.policy.cap_seconds, max(needed / rate, 0.0) + 0.1)

    def iter_nodes(self, resource: str, search: str | None) -> Iterator[dict[str, Any]]:
        """Page through ``orders`` or ``customers`` matching a search, oldest update first."""
        after = None
        while True:
            data = self.graphql(PAGE_QUERIES[resource],
                                {"first": PAGE_SIZE, "after": after, "query": search})
            connection = data.get(resource) or {}
            for edge in connection.get("edges") or []:
                yield edge["node"]
            page = connection.get("pageInfo") or {}
            if not page.get("hasNextPage"):
                return
            after = page.get("endCursor")

    # ------------------------------------------------------------------ bulk operations

    def run_bulk_query(self, query: str) -> str:
        """Start a bulk query operation; return its gid (PermanentError on userErrors)."""
        payload = self.graphql(BULK_RUN_MUTATION, {"query": query}).get(
            "bulkOperationRunQuery") or {}
        errors = payload.get("userErrors") or []
        operation = payload.get("bulkOperation") or {}
        if errors or not operation.get("id"):
            raise PermanentError(f"bulk operation refused: {errors}"[:500],
                                 reason="bulk_refused")
        return operation["id"]

    def bulk_operation(self, operation_id: str) -> dict[str, Any]:
        """The operation's status, errorCode, object counts and result url."""
        node = self.graphql(BULK_STATUS_QUERY, {"id": operation_id}).get("node")
        if not node:
            raise PermanentError(f"no bulk operation {operation_id}", reason="bulk_missing")
        return node

    def iter_result_lines(self, url: str, skip: int = 0) -> Iterator[bytes]:
        """Stream a bulk result file line by line (constant memory); skip the first lines.

        The url is a signed storage link, not the Admin API: the access token is not sent.
        A dropped connection becomes a TransientError; the caller resumes by skipping.
        """
        try:
            with self.session.get(url, stream=True, timeout=DOWNLOAD_TIMEOUT_SECONDS,
                                  headers={HEADER_ACCESS_TOKEN: None},
                                  allow_redirects=False) as response:
                if response.status_code >= 300:
                    error = TransientError if response.status_code >= 500 else PermanentError
                    raise error(f"bulk result download: HTTP {response.status_code}",
                                reason="bulk_download", status=response.status_code)
                for number, line in enumerate(response.iter_lines(), start=1):
                    if number > skip:
                        yield line
        except (requests.ConnectionError, requests.Timeout,
                requests.exceptions.ChunkedEncodingError) as exc:
            raise TransientError(f"bulk result download broke off: {type(exc).__name__}",
                                 reason="bulk_download") from exc


def shop_client(context: WriterContext) -> ShopifyClient:
    """The shop's Admin client of a destination's context (PermanentError off Shopify)."""
    client = context.store_client()
    if not isinstance(client, ShopifyClient):
        raise PermanentError("this destination needs a Shopify store")
    return client


def _code(error: Any) -> str | None:
    if isinstance(error, dict):
        return (error.get("extensions") or {}).get("code")
    return None


# --------------------------------------------------------------------------- OAuth


class ShopifyOAuthClient(ApiClient):
    """The shop's token endpoint: exchange an authorization code, refresh an expiring token."""

    def __init__(self, base_url: str, client_id: str, client_secret: str, **kwargs: Any):
        super().__init__(base_url, **kwargs)
        self.client_id, self.client_secret = client_id, client_secret

    def exchange_code(self, code: str) -> TokenGrant:
        """Trade the callback's one-time code for an expiring offline token (``expiring=1``)."""
        return self._token({"code": code, "expiring": 1})

    def refresh(self, refresh_token: str) -> TokenGrant:
        """A new access token (and a new refresh token: Shopify rotates it on every use)."""
        return self._token({"grant_type": "refresh_token", "refresh_token": refresh_token})

    def _token(self, fields: dict[str, Any]) -> TokenGrant:
        body = {"client_id": self.client_id, "client_secret": self.client_secret, **fields}
        response = self.request("POST", ACCESS_TOKEN_PATH, json=body,
                                headers={"Accept": "application/json"})
        try:
            answer = response.json()
        except ValueError as exc:
            raise TransientError("token endpoint answer is not JSON",
                                 reason="bad_response") from exc
        return parse_grant(answer)


def client_from_credentials(base_url: str, secret: str, *, api_version: str,
                            **kwargs: Any) -> ShopifyClient:
    """A shop's Admin client from its stored secret (the access token)."""
    return ShopifyClient(base_url, secret, api_version, **kwargs)


def refresh_grant(base_url: str, refresh_token: str, *, api_key: str, api_secret: str,
                  policy: RetryPolicy | None = None) -> TokenGrant:
    """Renew an expiring offline token (Shopify rotates the refresh token on every use)."""
    return ShopifyOAuthClient(base_url, api_key, api_secret, policy=policy).refresh(refresh_token)

