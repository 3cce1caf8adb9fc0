"""Shopify webhook signatures: base64 HMAC-SHA256 of the raw body with the app secret."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable


def sign(secret: str, raw_body: bytes) -> str:
    """The value Shopify puts in ``X-Shopify-Hmac-Sha256`` for ``raw_body``."""
    digest = hmac.new(secret.encode(), raw_body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def verify(secrets: Iterable[str], raw_body: bytes, signature: str | None) -> bool:
    """True when ``signature`` matches under any of ``secrets`` (rotation keeps two alive)."""
    if not signature:
        return False
    matched = False
    for secret in secrets:
        if secret:
            # Compare every candidate, in constant time, so timing says nothing about which.
            matched |= hmac.compare_digest(sign(secret, raw_body), signature.strip())
    return matched
