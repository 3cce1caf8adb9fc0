"""Shopify webhook signatures (base64 HMAC-SHA256 of the raw body with the app secret), and
what a signed body must say to be a delivery of its topic for its shop.

Shopify signs only the body: the shop domain, topic and webhook id are unsigned headers, and
every OAuth-installed shop shares the app secret. A captured body can therefore be resent with
another shop's domain or another topic; :func:`binding_error` refuses a body that does not
itself name the shop (privacy and uninstall topics) or that lacks the shape of its topic.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable
from typing import Any

from connectors.shopify.consts import CUSTOMER_TOPICS, ORDER_TOPICS, TAG_TOPICS

# Topics whose body names the shop, and the body fields that do.
SHOP_NAMING_FIELDS = {
    "shop/redact": "shop_domain",
    "customers/redact": "shop_domain",
    "customers/data_request": "shop_domain",
    "app/uninstalled": "myshopify_domain",
}
# The resource an ``admin_graphql_api_id`` must name for each topic that carries one.
GID_KINDS = {**{t: "Order" for t in ORDER_TOPICS},
             **{t: "Customer" for t in CUSTOMER_TOPICS | {"customers/delete"}},
             "refunds/create": "Refund", "app/uninstalled": "Shop"}


def sign(secret: str, raw_body: bytes) -> str:
    """The value Shopify puts in ``X-Shopify-Hmac-Sha256`` for ``raw_body``."""
    digest = hmac.new(secret.encode(), raw_body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def verify(secrets: Iterable[str], raw_body: bytes, signature: str | None) -> bool:
    """True when ``signature`` matches under any of ``secrets`` (rotation keeps two alive)."""
    if not signature:
        return False
    try:
        given = signature.strip().encode("ascii")
    except UnicodeEncodeError:  # not base64, so not a signature (and no 500)
        return False
    matched = False
    for secret in secrets:
        if secret:
            # Compare every candidate, in constant time, so timing says nothing about which.
            matched |= hmac.compare_digest(sign(secret, raw_body).encode(), given)
    return matched


def binding_error(topic: str, shop: str, payload: dict[str, Any]) -> str | None:
    """Why ``payload`` cannot be a ``topic`` delivery for ``shop``; None when it can.

    Privacy and uninstall bodies must name the shop; order, customer, refund and tag bodies
    must have the shape of their topic (an order body resent as ``customers/redact`` or as
    ``shop/redact`` is refused).
    """
    field = SHOP_NAMING_FIELDS.get(topic)
    if field is not None:
        named = payload.get(field)
        if not isinstance(named, str) or named.strip().lower() != shop:
            return f"{topic} body does not name the shop in {field}"
    kind = GID_KINDS.get(topic)
    gid = payload.get("admin_graphql_api_id")
    if kind is not None and gid is not None and not str(gid).startswith(f"gid://shopify/{kind}/"):
        return f"{topic} body is not a {kind}"
    if topic in ORDER_TOPICS and not isinstance(payload.get("line_items"), list):
        return f"{topic} body has no line_items"
    if topic == "refunds/create" and (payload.get("order_id") is None or "line_items" in payload):
        return "refunds/create body is not a refund"
    if (topic in CUSTOMER_TOPICS or topic == "customers/delete") and (
            "line_items" in payload or "order_id" in payload or "shop_domain" in payload):
        return f"{topic} body is not a customer"
    if topic in TAG_TOPICS and not isinstance(payload.get("customerId"), str):
        return f"{topic} body names no customer"
    return None
