"""``GET /metrics``: the Prometheus exposition, for operator tokens only (webhook answers are
counted by ``app.web.webhooks.inbox``, with the store's pending mark)."""

from __future__ import annotations

import hmac

from flask import Blueprint, Flask, Response, current_app, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from app.storage.metrics import TagwiseCollector
from app.web.errors import ApiError

bp = Blueprint("metrics", __name__)


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


def init_app(app: Flask) -> None:
    """Serve /metrics."""
    app.register_blueprint(bp)
