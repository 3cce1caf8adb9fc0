"""Signing in: password or API token (agency deployments), Shopify's signed admin launch."""

from __future__ import annotations

import hashlib
import logging
import time
from urllib.parse import urlsplit

from flask import current_app, redirect, render_template, request, url_for
from redis.exceptions import RedisError

from app.services.auth import (
    authenticate_password,
    authenticate_token,
    principal_for_shop,
    visible_stores,
)
from app.services.stores import find_shopify_store
from app.storage.db import db
from app.web.dashboard import bp, principal, throttle
from app.web.dashboard.session import sign_in, sign_out, signed_in_principal
from connectors.shopify.oauth import is_valid_shop, verify_query

log = logging.getLogger(__name__)

MAX_FIELD_CHARS = 1024
LAUNCH_MAX_AGE_SECONDS = 600  # a signed admin launch link older than this is refused
LAUNCH_CLOCK_SKEW_SECONDS = 60  # and one dated further ahead than this


def _safe_next(target: str | None) -> str | None:
    """Only a path on this site may be the post-login destination.

    Browsers drop tabs and newlines from URLs and read ``\\`` as ``/``, so ``/\t/evil.com``
    would become ``//evil.com``: any control character, space or backslash is refused.
    """
    if (not target or len(target) > MAX_FIELD_CHARS or not target.startswith("/")
            or target.startswith("//") or "\\" in target
            or any(ord(c) <= 0x20 or ord(c) == 0x7F for c in target)):
        return None
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else None


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Password or API-token sign-in."""
    error = None
    if request.method == "POST":
        email = request.form.get("email", "")[:MAX_FIELD_CHARS].strip()
        password = request.form.get("password", "")[:MAX_FIELD_CHARS]
        token = request.form.get("token", "")[:MAX_FIELD_CHARS].strip()
        account = None if token else email
        address = request.remote_addr or "unknown"
        if wait := throttle.retry_after(account, address):
            return render_template("login.html", error="Too many failed sign-ins. Try again "
                                   f"in {wait} seconds."), 429, {"Retry-After": str(wait)}
        with db().session() as session:
            if token:
                who = authenticate_token(session, token, current_app.config["TAGWISE_API_TOKEN"])
            elif email and password:
                who = authenticate_password(session, email, password)
            else:
                who = None
        if who is not None:
            throttle.record_success(account, address)
            sign_in(who)
            return redirect(_safe_next(request.args.get("next")) or url_for("dashboard.stores"))
        if token or (email and password):
            throttle.record_failure(account, address)
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
        age = time.time() - int(str(params.get("timestamp", "")))
    except (ValueError, OverflowError):
        age = float("inf")
    if (not isinstance(shop, str) or not is_valid_shop(shop)
            or not -LAUNCH_CLOCK_SKEW_SECONDS <= age <= LAUNCH_MAX_AGE_SECONDS
            or not verify_query(params, secrets)):
        return _launch_refused()
    with db().session() as session:
        store = find_shopify_store(session, shop)
        who = principal_for_shop(session, store.id) if store else None
        current = signed_in_principal(session)
    if who is not None and current == who:
        return redirect(url_for("dashboard.overview", store_id=store.id))  # a reload
    if not _first_use(str(params["hmac"])):
        return _launch_refused()  # a signed link copied from a log or history
    if who is None:  # not installed (or uninstalled): Shopify's OAuth install comes first
        return redirect(url_for("shopify_install.install_shopify", shop=shop))
    sign_in(who, shop_store_id=store.id)
    return redirect(url_for("dashboard.overview", store_id=store.id))


def _launch_refused():
    return render_template("error.html", status=401,
                           message="This launch link is not signed by Shopify or has "
                                   "expired. Open the app again from your Shopify admin."), 401


def _first_use(signature: str) -> bool:
    """Whether this signed launch link is used for the first time (each opens one session)."""
    key = "tw:launch:" + hashlib.sha256(signature.encode()).hexdigest()
    try:
        return bool(current_app.extensions["redis"].set(
            key, 1, nx=True, ex=LAUNCH_MAX_AGE_SECONDS + LAUNCH_CLOCK_SKEW_SECONDS))
    except RedisError as exc:
        log.warning("launch links cannot be marked used: %s", type(exc).__name__)
        return True


@bp.get("/")
def stores():
    """The stores this user may see; straight to the overview when there is only one."""
    with db().session() as session:
        rows = visible_stores(session, principal())
    if len(rows) == 1:
        return redirect(url_for("dashboard.overview", store_id=rows[0].id))
    return render_template("stores.html", stores=rows)
