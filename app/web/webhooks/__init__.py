"""Inbound webhooks: verify, record in the inbox, enqueue, acknowledge. Nothing else."""

from flask import Blueprint

from app.web.webhooks.stores import RecentStores

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")
bp.record_once(lambda state: state.app.extensions.setdefault("webhook_stores", RecentStores()))

from app.web.webhooks import shopify, woocommerce  # noqa: E402,F401  (routes register on bp)
