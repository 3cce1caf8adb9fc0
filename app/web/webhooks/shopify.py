"""``POST /webhooks/shopify``: every Shopify topic for every installed shop."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from flask import current_app, request
from sqlalchemy import Row, bindparam, select

from app.ingest.inbox import UnknownStore, insert_event
from app.storage.db import utcnow
from app.storage.models import Store
from app.web.errors import ApiError
from app.web.webhooks import bp
from app.web.webhooks.inbox import (
    acknowledge,
    check_json_object,
    enqueue,
    parse_json_object,
)
from connectors.shopify import consts, webhooks

log = logging.getLogger(__name__)
# Only the columns the view needs, as a plain row: no ORM object per delivery.
STORE_BY_DOMAIN = select(Store.id, Store.webhook_secret_enc).where(
    Store.platform == "shopify", Store.domain == bindparam("domain"))


def _secrets(store: Row | None) -> list[str]:
    """The store's own webhook secret (custom apps), else the app secret and its predecessor."""
    if store is not None and store.webhook_secret_enc:
        return [current_app.extensions["secret_box"].decrypt(store.webhook_secret_enc)]
    return [current_app.config["SHOPIFY_API_SECRET"],
            current_app.config["SHOPIFY_API_SECRET_PREVIOUS"]]


@bp.post("/shopify")
def receive_shopify():
    """Verify the HMAC on the raw bytes, record the delivery, enqueue it, answer 200."""
    raw = request.get_data(cache=False)  # raises 413 past MAX_CONTENT_LENGTH
    headers = request.headers
    shop = _header(consts.HEADER_SHOP_DOMAIN).lower()
    topic = _header(consts.HEADER_TOPIC)
    webhook_id = _header(consts.HEADER_WEBHOOK_ID)
    db = current_app.extensions["db"]
    stores = current_app.extensions["webhook_stores"]
    lookup = {"domain": shop}
    signature = headers.get(consts.HEADER_HMAC)
    # The store, remembered for a few seconds (app/web/webhooks/stores.py).
    store, verified = stores.find_verified(
        db, STORE_BY_DOMAIN, lookup, lambda store: webhooks.verify(_secrets(store), raw, signature))
    if not verified:
        raise ApiError(401, "bad_signature", "X-Shopify-Hmac-Sha256 does not match the body")
    if not topic or not shop or not webhook_id:
        raise ApiError(400, "missing_header", "X-Shopify-Topic, X-Shopify-Shop-Domain and "
                                              "X-Shopify-Webhook-Id required")
    if len(webhook_id) > 100:
        raise ApiError(400, "bad_header", "X-Shopify-Webhook-Id is too long")
    event_id = _header(consts.HEADER_EVENT_ID) or None
    if event_id is not None and len(event_id) > 100:
        raise ApiError(400, "bad_header", "X-Shopify-Event-Id is too long")
    # Refuse a malformed body before it is stored; only the shop-naming topics are read here.
    if topic in webhooks.SHOP_NAMING_FIELDS:
        payload = parse_json_object(raw)
    else:
        check_json_object(raw)
    if store is None:
        log.info("webhook for unknown shop acknowledged without processing")
        return acknowledge("unknown_shop")
    if topic not in consts.SUPPORTED_TOPICS:
        log.info("unsupported Shopify topic %s acknowledged", topic)
        return acknowledge("unsupported_topic")
    if _is_stale(headers.get(consts.HEADER_TRIGGERED_AT)):
        log.warning("store %s: %s delivery triggered too long ago dropped", store.id, topic)
        return acknowledge("stale")
    why = (webhooks.binding_error(topic, shop, payload)
           if topic in webhooks.SHOP_NAMING_FIELDS else None)
    if why:
        # A signed body resent under another shop's domain or another topic: refuse it here
        # (the pipeline checks every topic again before acting).
        log.warning("store %s: %s delivery refused: %s", store.id, topic, why)
        raise ApiError(400, "body_mismatch", why)
    try:
        # Commits on its own; its foreign key holds the store to still being there.
        inserted = insert_event(db, store.id, "shopify", topic, webhook_id, raw, event_id)
    except UnknownStore:
        # The remembered store was deleted since (shop/redact): as for an unknown shop.
        if stores.find(db, STORE_BY_DOMAIN, lookup, fresh=True) is not None:
            raise
        log.info("webhook for a deleted shop acknowledged without processing")
        return acknowledge("unknown_shop")
    return enqueue(store.id, inserted)


def _header(name: str) -> str:
    """A header's value, stripped ("" when absent); a 400 when it holds a character that is
    not printable. Shopify's domains, topics and ids never do, and these values are looked up
    and stored: PostgreSQL refuses a NUL in text, which would otherwise be a 500."""
    value = (request.headers.get(name) or "").strip()
    if not value.isprintable():
        raise ApiError(400, "bad_header", f"{name} holds a character that is not printable")
    return value


def _is_stale(triggered_at: str | None) -> bool:
    """Whether ``X-Shopify-Triggered-At`` is older than WEBHOOK_MAX_AGE_SECONDS (a replay)."""
    if not triggered_at:
        return False
    try:
        when = datetime.fromisoformat(triggered_at.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(400, "bad_header", "X-Shopify-Triggered-At is not a timestamp") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return (utcnow() - when).total_seconds() > current_app.config["WEBHOOK_MAX_AGE_SECONDS"]
