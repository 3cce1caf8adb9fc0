"""``GET /metrics``: the Prometheus exposition, for operator tokens only; and the webhook
answers counted by platform, topic and outcome (a label takes only known topics)."""

from __future__ import annotations

import hmac

from flask import Blueprint, Flask, Response, current_app, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from app.storage.metrics import TagwiseCollector, count
from app.web.errors import ApiError
from connectors.shopify import consts as shopify_consts
from connectors.woocommerce import consts as woocommerce_consts

bp = Blueprint("metrics", __name__)
KNOWN_TOPICS = {"shopify": shopify_consts.SUPPORTED_TOPICS,
                "woocommerce": frozenset(woocommerce_consts.TOPICS_USED)}
TOPIC_HEADERS = {"shopify": shopify_consts.HEADER_TOPIC,
                 "woocommerce": woocommerce_consts.HEADER_TOPIC}

def _authorised() -> bool:
    """The deployment's API token or the dedicated METRICS_TOKEN; never a store user's token."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        return False
    allowed = [current_app.config.get(k) for k in ("TAGWISE_API_TOKEN", "METRICS_TOKEN")]
    return any(hmac.compare_digest(token.encode(), a.encode()) for a in allowed if a)


@bp.get("/metrics")
def show_metrics():
    """The Prometheus exposition of every Tagwise metric."""
    if not _authorised():
        raise ApiError(401, "unauthorized", "a valid operator bearer token is required")
    registry = CollectorRegistry(auto_describe=False)
    registry.register(TagwiseCollector(current_app._get_current_object()))
    return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)


def count_webhook(response):
    """Count every answer of a webhook endpoint by platform, topic and outcome."""
    endpoint = request.endpoint or ""
    if not endpoint.startswith("webhooks."):
        return response
    platform = endpoint.removeprefix("webhooks.receive_")
    topic = (request.headers.get(TOPIC_HEADERS.get(platform, "")) or "").strip()
    if topic not in KNOWN_TOPICS.get(platform, ()):
        topic = "other"  # a label must not take whatever a caller sends
    outcome = "rejected" if response.status_code >= 400 else "accepted"
    if response.status_code < 400 and response.is_json:
        outcome = (response.get_json(silent=True) or {}).get("status", outcome)
    count("tagwise_webhooks", (platform, topic, outcome))
    return response


def init_app(app: Flask) -> None:
    """Serve /metrics and count webhook answers."""
    app.register_blueprint(bp)
    app.after_request(count_webhook)
