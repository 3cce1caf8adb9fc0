"""Shopify Admin GraphQL client: the only place this connector speaks HTTP."""

from __future__ import annotations

from typing import Any

from connectors.base import ApiClient, PermanentError, TransientError
from connectors.shopify.consts import HEADER_ACCESS_TOKEN
from connectors.shopify.oauth import ACCESS_TOKEN_PATH, TokenGrant, parse_grant

THROTTLED = "THROTTLED"
# Cost points restored per second on the Standard plan; used to wait out a THROTTLED answer.
DEFAULT_RESTORE_RATE = 100.0


class ShopifyClient(ApiClient):
    """POST GraphQL documents to ``{base}/admin/api/{version}/graphql.json``."""

    def __init__(self, base_url: str, access_token: str, api_version: str, **kwargs: Any):
        super().__init__(base_url, **kwargs)
        self.api_version = api_version
        self.session.headers.update({HEADER_ACCESS_TOKEN: access_token,
                                     "Content-Type": "application/json"})

    def graphql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """Run one document; return ``data``. THROTTLED (HTTP 200 or 429) is retried here."""
        path = f"/admin/api/{self.api_version}/graphql.json"
        for attempt in range(self.policy.max_attempts):
            response = self.request("POST", path, json={"query": query, "variables": variables})
            try:
                body = response.json()
            except ValueError as exc:
                raise TransientError("GraphQL answer is not JSON", reason="bad_response") from exc
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
