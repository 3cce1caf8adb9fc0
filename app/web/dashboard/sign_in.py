"""Signing in: password or API token (agency deployments), Shopify's signed admin launch."""

from __future__ import annotations

import time

from flask import current_app, redirect, render_template, request, url_for

from app.services.auth import (
    authenticate_password,
    authenticate_token,
    principal_for_shop,
    visible_stores,
)
from app.services.stores import find_shopify_store
from app.storage.db import db
from app.web.dashboard import bp, principal
from app.web.dashboard.session import sign_in, sign_out
from connectors.shopify.oauth import is_valid_shop, verify_query

MAX_FIELD_CHARS = 1024
LAUNCH_MAX_AGE_SECONDS = 600  # a signed admin launch link older than this is refused


def _safe_next(target: str | None) -> str | None:
    """Only a path on this site (no scheme, no //host) may be the post-login destination."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target[:MAX_FIELD_CHARS]
    return None


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Password or API-token sign-in."""
    error = None
    if request.method == "POST":
        email = request.form.get("email", "")[:MAX_FIELD_CHARS].strip()
        password = request.form.get("password", "")[:MAX_FIELD_CHARS]
        token = request.form.get("token", "")[:MAX_FIELD_CHARS].strip()
        with db().session() as session:
            if token:
                who = authenticate_token(session, token, current_app.config["TAGWISE_API_TOKEN"])
            elif email and password:
                who = authenticate_password(session, email, password)
            else:
                who = None
        if who is not None:
            sign_in(who)
            return redirect(_safe_next(request.args.get("next")) or url_for("dashboard.stores"))
        error = "Those credentials did not match. Check them and try again."
    status = 401 if error else 200
    return render_template("login.html", error=error), status


@bp.post("/logout")
def logout():
    """Sign out."""
    sign_out()
    return redirect(url_for("dashboard.login"))


def _launch_params() -> dict[str, str | list[str]]:
    return {key: values if key.endswith("[]") or len(values) > 1 else values[0]
            for key, values in request.args.lists()}


@bp.get("/shopify/launch")
def launch():
    """Shopify admin opening the app: verify the signed query, then a session for that shop."""
    params = _launch_params()
    shop = params.get("shop")
    secrets = (current_app.config["SHOPIFY_API_SECRET"],
               current_app.config["SHOPIFY_API_SECRET_PREVIOUS"])
    try:
        age = abs(time.time() - int(str(params.get("timestamp", ""))))
    except (ValueError, OverflowError):
        age = float("inf")
    if (not isinstance(shop, str) or not is_valid_shop(shop) or age > LAUNCH_MAX_AGE_SECONDS
            or not verify_query(params, secrets)):
        return render_template("error.html", status=401,
                               message="This launch link is not signed by Shopify or has "
                                       "expired. Open the app again from your Shopify admin."), 401
    with db().session() as session:
        store = find_shopify_store(session, shop)
        who = principal_for_shop(session, store.id) if store else None
    if who is None:  # not installed (or uninstalled): Shopify's OAuth install comes first
        return redirect(url_for("shopify_install.install_shopify", shop=shop))
    sign_in(who, shop_store_id=store.id)
    return redirect(url_for("dashboard.overview", store_id=store.id))


@bp.get("/")
def stores():
    """The stores this user may see; straight to the overview when there is only one."""
    with db().session() as session:
        rows = visible_stores(session, principal())
    if len(rows) == 1:
        return redirect(url_for("dashboard.overview", store_id=rows[0].id))
    return render_template("stores.html", stores=rows)
