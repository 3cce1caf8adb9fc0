"""Inbound WooCommerce deliveries: signature check, creation ping, dedupe key, drafts.

Facts (WC_Webhook, woocommerce/includes/class-wc-webhook.php):
- the signature is base64(HMAC-SHA256(webhook secret, raw body)); the secret is the one set on
  the webhook itself, not the REST consumer secret;
- on creation WooCommerce POSTs the unsigned form body ``webhook_id=N`` (no X-WC-* headers)
  and only an exact 200 counts as success;
- X-WC-Webhook-Delivery-ID changes on every send, and repeated events for one record are
  merged and built at send time, so dedupe on the resource's own id and modification time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping
from typing import Any

from connectors.base import PayloadError
from connectors.woocommerce.consts import DELETION_TOPICS, DRAFT_ORDER_STATUSES

# deliver_ping() sends exactly "webhook_id=<id>"; allow the trailing newline a proxy may add.
_PING_BODY = re.compile(rb"webhook_id=(\d{1,19})\s*")
_PING_MAX_BYTES = 64
# Marks a deletion in the dedupe key: a "*.deleted" body is {"id": N} with no timestamp.
DELETED_MARKER = "deleted"


def verify_signature(secret: bytes, raw_body: bytes, signature_header: str | None) -> bool:
    """Return True when the header is base64 HMAC-SHA256 of the raw body under ``secret``."""
    if not secret or not signature_header:
        return False
    try:
        received = signature_header.strip().encode("ascii")
    except UnicodeEncodeError:
        return False
    expected = base64.b64encode(hmac.new(secret, raw_body, hashlib.sha256).digest())
    return hmac.compare_digest(expected, received)


def is_ping(content_type: str | None, raw_body: bytes) -> int | None:
    """Return the webhook id if this is WooCommerce's unsigned creation ping, else None.

    WooCommerce sets no Content-Type on the ping (cURL then sends it form-encoded), so the
    body decides; a declared JSON body is never a ping.
    """
    if len(raw_body) > _PING_MAX_BYTES:
        return None
    if content_type and "json" in content_type.lower():
        return None
    match = _PING_BODY.fullmatch(raw_body)
    return int(match.group(1)) if match else None


def dedupe_key(topic: str, payload: Mapping[str, Any]) -> str:
    """Return a key equal for deliveries that carry the same state of the same resource.

    ``order.updated`` fires several times per change with the same body; the key is
    topic + resource id + ``date_modified_gmt``. A ``*.deleted`` body is usually only
    ``{"id": N}``, so its key is topic + id + a fixed marker: a second deletion of the same
    record after a restore shares that key, so keep dedupe keys for hours, not forever.
    The caller scopes the key to the store.
    """
    if not isinstance(payload, Mapping):
        raise PayloadError(f"{topic}: payload is {type(payload).__name__}, expected an object")
    resource_id = _resource_id(topic, payload)
    modified = payload.get("date_modified_gmt")
    if topic in DELETION_TOPICS and not (isinstance(modified, str) and modified):
        return f"{topic}:{resource_id}:{DELETED_MARKER}"
    if not isinstance(modified, str) or not modified:
        raise PayloadError(f"{topic} {resource_id}: date_modified_gmt missing or not a string")
    return f"{topic}:{resource_id}:{modified}"


def is_draft(order_payload: Mapping[str, Any]) -> bool:
    """Return True for a block-checkout draft order (not a real order yet)."""
    status = order_payload.get("status")
    return isinstance(status, str) and status in DRAFT_ORDER_STATUSES


def _resource_id(topic: str, payload: Mapping[str, Any]) -> int:
    value = payload.get("id")
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise PayloadError(f"{topic}: id missing or not a positive integer ({value!r})")
    return value
