"""``POST /webhooks/woocommerce/<store_id>``: every WooCommerce topic, per-store secret.

WooCommerce never retries and disables a webhook after a handful of failed deliveries, so
this view answers fast and only refuses what is really not ours (bad signature, bad body).
"""

from __future__ import annotations

import logging

from flask import current_app, request
from sqlalchemy import Row, bindparam, select

from app.ingest.inbox import UnknownStore, insert_event
from app.storage.models import Store
from app.web.errors import ApiError
from app.web.webhooks import bp
from app.web.webhooks.inbox import acknowledge, enqueue, parse_json_object
from connectors.base import PayloadError
from connectors.woocommerce import consts, webhooks

log = logging.getLogger(__name__)
SUPPORTED_TOPICS = frozenset(consts.TOPICS_USED)
STORE_BY_ID = select(Store.id, Store.webhook_secret_enc).where(
    Store.platform == "woocommerce", Store.id == bindparam("store_id"))


@bp.post("/woocommerce/<int:store_id>")
def receive_woocommerce(store_id: int):
    """Answer the creation ping with 200; verify, record and enqueue real deliveries."""
    raw = request.get_data(cache=False)
    signature = request.headers.get(consts.HEADER_SIGNATURE)
    db = current_app.extensions["db"]
    stores = current_app.extensions["webhook_stores"]
    lookup = {"store_id": store_id}
    store, verified = stores.find_verified(db, STORE_BY_ID, lookup,
                                           lambda store: _verified(store, raw, signature))
    if (not verified and store is not None and signature is None
            and webhooks.is_ping(request.content_type, raw) is not None):
        return "", 200  # the unsigned creation ping: exactly 200, nothing else
    # An unknown store id answers exactly like a bad signature: ids are not probed here.
    if not verified:
        raise _bad_signature()
    topic = (request.headers.get(consts.HEADER_TOPIC) or "").strip()
    payload = parse_json_object(raw)
    if topic not in SUPPORTED_TOPICS:
        log.info("unsupported WooCommerce topic %s acknowledged", topic)
        return acknowledge("unsupported_topic")
    try:
        key = webhooks.dedupe_key(topic, payload)
    except PayloadError as exc:
        raise ApiError(400, "malformed_payload", str(exc)) from exc
    try:
        # Commits on its own, as for Shopify.
        inserted = insert_event(db, store.id, "woocommerce", topic, key, raw)
    except UnknownStore:
        # The remembered store was deleted since: as for an unknown store.
        if stores.find(db, STORE_BY_ID, lookup, fresh=True) is not None:
            raise
        raise _bad_signature() from None
    return enqueue(store.id, inserted)


def _verified(store: Row | None, raw: bytes, signature: str | None) -> bool:
    """Whether ``signature`` is the body's under the store's own secret (never for no store)."""
    if store is None:
        return False
    secret = current_app.extensions["secret_box"].decrypt(store.webhook_secret_enc or "")
    return webhooks.verify_signature(secret.encode(), raw, signature)


def _bad_signature() -> ApiError:
    """The one refusal for a bad signature and for an unknown or deleted store alike."""
    return ApiError(401, "bad_signature", "X-WC-Webhook-Signature does not match the body")
