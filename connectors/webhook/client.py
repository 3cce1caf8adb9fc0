"""POST signed JSON to one merchant URL; every retry is re-signed with a fresh timestamp.

Retries are :class:`ApiClient`'s: 429 honouring ``Retry-After``, 5xx and timeouts with
backoff, other 4xx permanent. Redirects are never followed (a redirect could lead past the
SSRF guard to a private address) and count as permanent failures.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable
from urllib.parse import urlsplit

import requests
from requests.auth import AuthBase

from connectors.base import DEFAULT_TIMEOUT_SECONDS, ApiClient, Attempt, PermanentError, RetryPolicy
from connectors.webhook import consts


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header value: ``v1=`` + hex HMAC-SHA256 over ``timestamp.body``."""
    message = timestamp.encode("ascii") + b"." + body
    digest = hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()
    return f"{consts.SIGNATURE_VERSION}={digest}"


class Signer(AuthBase):
    """Sign each attempt as it is sent (requests calls this once per ``session.request``)."""

    def __init__(self, secret: str, clock: Callable[[], float]):
        self.secret = secret
        self.clock = clock

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        timestamp = str(int(self.clock()))
        body = request.body if isinstance(request.body, bytes) else b""
        request.headers[consts.TIMESTAMP_HEADER] = timestamp
        request.headers[consts.SIGNATURE_HEADER] = sign(self.secret, timestamp, body)
        return request


class WebhookClient(ApiClient):
    """Deliver bodies to one URL signed with one secret."""

    def __init__(
        self,
        url: str,
        secret: str,
        *,
        session: requests.Session | None = None,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        policy: RetryPolicy | None = None,
        on_attempt: Callable[[Attempt], None] | None = None,
        clock: Callable[[], float] = time.time,
    ):
        super().__init__(url, session=session, timeout=timeout, policy=policy,
                         on_attempt=on_attempt)
        self.url = url
        self.signer = Signer(secret, clock)

    def deliver(self, body: bytes, idempotency_key: str, event: str) -> None:
        """POST ``body``; return once the receiver answered 2xx, else raise a classified error."""
        headers = {"Content-Type": consts.CONTENT_TYPE, "User-Agent": consts.USER_AGENT,
                   consts.IDEMPOTENCY_HEADER: idempotency_key, consts.EVENT_HEADER: event}
        response = self.request("POST", self.url, data=body, headers=headers, auth=self.signer,
                                allow_redirects=False)
        if response.status_code >= 300:
            raise PermanentError(f"HTTP {response.status_code}: redirects are not followed",
                                 reason="redirect", status=response.status_code)

    def _record(self, method: str, url: str, status: int | None, started: float,
                error: str | None):
        # Catch-hook URLs (Zapier, Make, n8n) carry their secret in the path: record the host.
        super()._record(method, shown_url(url), status, started, error)


def shown_url(url: str) -> str:
    """The URL as attempt logs show it: scheme and host only."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}/…"
