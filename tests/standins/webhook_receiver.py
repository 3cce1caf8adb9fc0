"""A stand-in webhook receiver (WSGI): what a merchant's endpoint behind Zapier or n8n does.

It verifies each POST the way connectors/webhook/README.md tells receivers to — HMAC-SHA256
over ``timestamp.body`` with its own copy of the secret, compared in constant time, and a
timestamp no older than five minutes — and answers 401 when either check fails. It records
every attempt (accepted or not), can be told to fail the next few with a status and a
``Retry-After``, and keeps the deliveries it accepted, deduplicated by idempotency key.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from werkzeug.wrappers import Request, Response

TOLERANCE_SECONDS = 300


@dataclass(frozen=True)
class Received:
    """One POST as it arrived, and what the receiver answered."""

    headers: dict[str, str]
    body: bytes
    status: int

    @property
    def document(self) -> dict[str, Any]:
        return json.loads(self.body)


class WebhookReceiver:
    """The WSGI app plus what tests assert on: every attempt, and the accepted deliveries."""

    def __init__(self, secret: str, *, clock: Callable[[], float] = time.time):
        self.secret = secret
        self.clock = clock
        self.lock = threading.Lock()
        self.attempts: list[Received] = []
        self.accepted: dict[str, dict[str, Any]] = {}  # idempotency key -> document
        self._scripted: list[tuple[int, str | None]] = []

    def fail_next(self, status: int, times: int = 1, retry_after: str | None = None) -> None:
        """Answer the next ``times`` valid POSTs with ``status`` (and ``Retry-After``)."""
        with self.lock:
            self._scripted.extend([(status, retry_after)] * times)

    def verified(self, request: Request, body: bytes) -> bool:
        """The receiver-side check from connectors/webhook/README.md."""
        timestamp = request.headers.get("Tagwise-Timestamp", "")
        signature = request.headers.get("Tagwise-Signature", "")
        if not timestamp.isdigit() or abs(self.clock() - int(timestamp)) > TOLERANCE_SECONDS:
            return False
        expected = hmac.new(self.secret.encode(), timestamp.encode() + b"." + body,
                            hashlib.sha256).hexdigest()
        return hmac.compare_digest(signature, "v1=" + expected)

    def __call__(self, environ, start_response):
        request = Request(environ)
        body = request.get_data()
        with self.lock:
            if request.method != "POST":
                status, retry_after = 405, None
            elif not self.verified(request, body):
                status, retry_after = 401, None
            elif self._scripted:
                status, retry_after = self._scripted.pop(0)
            else:
                status, retry_after = 200, None
                key = request.headers.get("Idempotency-Key", "")
                self.accepted.setdefault(key, json.loads(body))
            self.attempts.append(Received(dict(request.headers), body, status))
        response = Response(json.dumps({"status": status}), status=status,
                            content_type="application/json")
        if retry_after is not None:
            response.headers["Retry-After"] = retry_after
        return response(environ, start_response)
