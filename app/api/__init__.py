"""The JSON API, ``/api/v1``: bearer-token authenticated, one error shape."""

from __future__ import annotations

import hmac

from flask import Blueprint, current_app, request

from app.errors import ApiError

bp = Blueprint("api", __name__, url_prefix="/api/v1")


@bp.before_request
def require_token() -> None:
    """Every API call carries ``Authorization: Bearer <TAGWISE_API_TOKEN>``."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    expected = current_app.config["TAGWISE_API_TOKEN"]
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(),
                                                             expected.encode()):
        raise ApiError(401, "unauthorized", "a valid bearer token is required")


from app.api import customers, data_requests, stores  # noqa: E402,F401
