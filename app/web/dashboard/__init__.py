"""The merchant dashboard: server-rendered pages, every one scoped to the stores the user may see.

Every request passes one gate (:func:`guard`): ids that cannot exist are 404, every POST carries
the session's CSRF token, every page but the sign-in ones needs a signed-in principal, and a
``store_id`` outside the principal's stores is 404 exactly like a missing store.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Blueprint, Flask, abort, g, redirect, render_template, request, url_for
from sqlalchemy import select
from werkzeug.exceptions import HTTPException, InternalServerError

from app.services.auth import Principal, visible_store
from app.services.errors import ServiceError
from app.storage.db import db
from app.storage.models import Destination, Store
from app.web.dashboard.session import csrf_ok, csrf_token, signed_in_principal
from app.web.dashboard.times import store_time
from app.web.errors import SERVER_ERROR

bp = Blueprint("dashboard", __name__, template_folder="../../templates/dashboard")

PUBLIC_ENDPOINTS = {"dashboard.login", "dashboard.launch"}
MAX_ID = 2**63 - 1  # larger ids cannot exist (BIGINT) and would overflow the driver
SESSION_HOURS = 12


def init_app(app: Flask) -> None:
    """Register the blueprint and harden the session cookie.

    Over https the cookie is ``SameSite=None; Secure; Partitioned``: the embedded app runs in
    the Shopify admin's iframe, where a ``Lax`` cookie is never sent (every POST still needs
    the session's CSRF token). Plain http (local development) keeps ``Lax``.
    """
    https = str(app.config["APP_URL"]).startswith("https://")
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="None" if https else "Lax",
        SESSION_COOKIE_SECURE=https,
        SESSION_COOKIE_PARTITIONED=https,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=SESSION_HOURS),
    )
    app.register_blueprint(bp)


def principal() -> Principal:
    """The signed-in principal of this request."""
    return g.principal


def current_store(store_id: int) -> Store:
    """The store a page is about (for its header and links), or 404 outside the user's stores."""
    with db().session() as session:
        return visible_store(session, principal(), store_id)


@bp.before_request
def guard():
    """Refuse impossible ids, POSTs without the CSRF token, and anyone not signed in."""
    args = request.view_args or {}
    if any(isinstance(v, int) and not 0 < v <= MAX_ID for v in args.values()):
        abort(404)
    if request.method == "POST" and not csrf_ok():
        abort(400, "The form expired or did not come from this site; reload and try again.")
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    if request.endpoint == "dashboard.stores" and "hmac" in request.args:
        # Shopify opens the app URL itself with a signed query: that is a launch.
        return redirect(f"{url_for('dashboard.launch')}?{request.query_string.decode()}")
    with db().session() as session:
        g.principal = signed_in_principal(session)
    if g.principal is None:
        return redirect(url_for("dashboard.login", next=request.path))
    store_id = args.get("store_id")
    if store_id is not None and not g.principal.can_see(store_id):
        abort(404)
    return None


@bp.after_request
def security_headers(response):
    """No framing except by Shopify's admin for shop sessions; no inline scripts."""
    ancestors = "'none'"
    if getattr(g, "principal", None) is not None and g.principal.name.startswith("shop:"):
        ancestors = "https://admin.shopify.com https://*.myshopify.com"
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        f"img-src 'self' data:; form-action 'self'; frame-ancestors {ancestors}")
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def dry_run_destinations(store_id: int) -> list[str]:
    """Kinds of the store's destinations that only record diffs (the page banner names them)."""
    with db().session() as session:
        return list(session.execute(select(Destination.kind).where(
            Destination.store_id == store_id, Destination.mode == "dry_run")
            .order_by(Destination.id)).scalars())


@bp.app_context_processor
def template_globals() -> dict[str, Any]:
    return {"csrf_token": csrf_token, "dry_run_destinations": dry_run_destinations}


bp.add_app_template_filter(store_time)


@bp.errorhandler(ServiceError)
def service_error(exc: ServiceError):
    return render_template("error.html", status=exc.status, message=exc.message), exc.status


@bp.errorhandler(HTTPException)
def http_error(exc: HTTPException):
    status = exc.code or 500
    message = SERVER_ERROR if isinstance(exc, InternalServerError) else exc.description
    return render_template("error.html", status=status, message=message), status


from app.web.dashboard import (  # noqa: E402,F401
    customers,
    destinations,
    reports,
    segments,
    sign_in,
)
