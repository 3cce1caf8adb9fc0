"""The JSON API, ``/api/v1``: bearer-token authenticated, store-scoped, one error shape."""

from __future__ import annotations

from flask import Blueprint, current_app, g, request

from app.services.auth import Principal, authenticate_token
from app.storage.db import db
from app.web.errors import ApiError

bp = Blueprint("api", __name__, url_prefix="/api/v1")
PUBLIC_ENDPOINTS = {"api.openapi_document"}
MAX_ID = 2**63 - 1  # BIGINT: larger ids cannot exist and would overflow the query
MAX_PATH_TEXT_CHARS = 255


@bp.before_request
def require_principal() -> None:
    """Authenticate the bearer token; answer 404 for a store outside the caller's scope.

    ``Authorization: Bearer <token>`` with the deployment's ``TAGWISE_API_TOKEN`` (every store)
    or a user's personal token (``tagwise users add``: that user's stores). Every route with a
    ``store_id`` is checked here, so no view can forget it; so are impossible path values and
    query arguments the OpenAPI document does not list for the route.
    """
    if request.endpoint in PUBLIC_ENDPOINTS:
        return
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    principal = None
    if scheme.lower() == "bearer":
        with db().session() as session:
            principal = authenticate_token(session, token, current_app.config["TAGWISE_API_TOKEN"])
    if principal is None:
        raise ApiError(401, "unauthorized", "a valid bearer token is required")
    args = request.view_args or {}
    store_id = args.get("store_id")
    if store_id is not None and not principal.can_see(store_id):
        raise ApiError(404, "store_not_found", f"no store {store_id}")
    for name, value in args.items():
        _check_path_value(name, value)
    method = "GET" if request.method == "HEAD" else request.method
    if unknown := sorted(set(request.args) - query_parameters(method, request.url_rule.rule)):
        raise ApiError(400, "unknown_argument", f"unknown query argument {unknown[0]!r}")
    g.principal = principal


def _check_path_value(name: str, value: object) -> None:
    """404 for path values no row can have (beyond BIGINT, NUL characters, overlong)."""
    if isinstance(value, int) and value > MAX_ID:
        thing = name.removesuffix("_id")
        raise ApiError(404, f"{thing}_not_found", f"no {thing} {value}")
    if isinstance(value, str) and ("\x00" in value or len(value) > MAX_PATH_TEXT_CHARS):
        raise ApiError(404, "not_found", f"no {name} like that")


def current_principal() -> Principal:
    """The authenticated caller of this request."""
    return g.principal


from app.web.api import customers, data_requests, segments, stores  # noqa: E402,F401
from app.web.api.openapi import query_parameters  # noqa: E402
