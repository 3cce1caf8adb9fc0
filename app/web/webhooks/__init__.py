"""Inbound webhooks: verify, record in the inbox, enqueue, acknowledge. Nothing else."""

from flask import Blueprint

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")

from app.web.webhooks import shopify, woocommerce  # noqa: E402,F401  (routes register on bp)
