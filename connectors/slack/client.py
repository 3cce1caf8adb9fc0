"""POST alert messages to a Slack-compatible incoming webhook (``{"text": ...}`` JSON).

api.slack.com/messaging/webhooks: one JSON POST per message, ``text`` is the fallback body
every compatible receiver (Slack, Mattermost, Rocket.Chat, Teams connectors) shows. The URL is
operator-set, so it passes the outbound URL guard before anything is sent.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

from connectors.base import ApiClient
from connectors.netguard import ensure_public_url

HEADER_SIGNATURE = "X-Tagwise-Signature"


def sign(secret: str, raw_body: bytes) -> str:
    """Base64 HMAC-SHA256 of the raw body (the scheme Shopify uses for its webhooks)."""
    digest = hmac.new(secret.encode(), raw_body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


class AlertClient(ApiClient):
    """One alert receiver; ``signing_secret`` adds an HMAC header so it can verify the sender."""

    def __init__(self, url: str, *, signing_secret: str = "", allow_private: bool = False,
                 **kwargs: Any):
        super().__init__(ensure_public_url(url, allow_private=allow_private), **kwargs)
        self.url, self.signing_secret = url, signing_secret

    def post_message(self, text: str, fields: dict[str, Any]) -> None:
        """Send one message; ``fields`` ride along for machine readers (never personal data)."""
        body = json.dumps({"text": text, "tagwise": fields}, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json"}
        if self.signing_secret:
            headers[HEADER_SIGNATURE] = sign(self.signing_secret, body)
        self.request("POST", self.url, data=body, headers=headers)
