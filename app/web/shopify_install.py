"""Install Tagwise on a Shopify shop: OAuth authorization code grant, then subscriptions.

``GET /auth/shopify/install?shop=X.myshopify.com`` sends the merchant to the shop's authorize
page with a single-use ``state``; ``GET /auth/shopify/callback`` checks everything Shopify
sent, exchanges the code, subscribes to webhooks and only then writes the store. Every check
and outside call happens before the one SQL transaction, so a failure at any step leaves no
store row behind (or, on a reinstall, the previous installation untouched), and every failure
answers with a page that says what went wrong — never a 500.
"""

from __future__ import annotations

import logging
import secrets
import time

from flask import Blueprint, current_app, redirect, render_template, request
from kombu.exceptions import OperationalError as BrokerError
from redis.exceptions import RedisError
from werkzeug.datastructures import MultiDict

from app.clients import save_grant, store_base_url
from app.services.stores import add_shopify_store, find_shopify_store
from app.storage.db import db
from app.storage.models import Store
from connectors.base import ConnectorError, PermanentError, RetryPolicy, TransientError
from connectors.shopify import oauth
from connectors.shopify.client import ShopifyClient, ShopifyOAuthClient
from connectors.shopify.consts import SUBSCRIBED_TOPICS
from connectors.shopify.subscriptions import ensure_subscriptions, shop_settings

log = logging.getLogger(__name__)
bp = Blueprint("shopify_install", __name__, url_prefix="/auth/shopify")

STATE_TTL_SECONDS = 600
STATE_MAX_LENGTH = 100
# Shopify signs the callback's `timestamp`; refuse a signed link replayed long after.
CALLBACK_MAX_AGE_SECONDS = 600
CLOCK_SKEW_SECONDS = 60
# A merchant is waiting on these calls: one retry, not the worker's patient schedule.
INSTALL_POLICY_ATTEMPTS = 2
BACKFILL_TASK = "tasks.backfill.backfill_store"


class InstallFailed(Exception):
    """An install step failed: an HTTP status, a machine reason, and words for the merchant."""

    def __init__(self, status: int, reason: str, message: str):
        super().__init__(message)
        self.status, self.reason, self.message = status, reason, message


@bp.errorhandler(InstallFailed)
def install_failed(exc: InstallFailed):
    """Render the failure as a page (the merchant's browser is on the other end)."""
    log.warning("shopify install failed: %s", exc.reason)
    return render_template("install/error.html", reason=exc.reason, message=exc.message,
                           status=exc.status), exc.status


def _state_key(state: str) -> str:
    return f"tw:oauth-state:{state}"


def _redirect_uri() -> str:
    return current_app.config["APP_URL"].rstrip("/") + "/auth/shopify/callback"


def _required_scopes() -> list[str]:
    return [s.strip() for s in current_app.config["SHOPIFY_SCOPES"].split(",") if s.strip()]


def _app_secrets() -> list[str]:
    return [current_app.config["SHOPIFY_API_SECRET"],
            current_app.config["SHOPIFY_API_SECRET_PREVIOUS"]]


def _query(args: MultiDict) -> dict[str, str | list[str]]:
    """The query as Shopify signed it: one value per name, a list for ``name[]``."""
    params: dict[str, str | list[str]] = {}
    for name, values in args.lists():
        if name.endswith("[]"):
            params[name] = values
        elif len(values) > 1:
            raise InstallFailed(400, "malformed_request", f"{name} is given more than once")
        else:
            params[name] = values[0]
    return params


def _shop(params: dict[str, str | list[str]]) -> str:
    shop = params.get("shop")
    if not isinstance(shop, str) or not oauth.is_valid_shop(shop):
        raise InstallFailed(400, "bad_shop", "The shop must be a SHOP.myshopify.com address.")
    return shop


def _base_url(shop: str) -> str:
    """Where a shop's OAuth and Admin calls go: the known store's own base URL wins."""
    with db().session() as session:
        store = find_shopify_store(session, shop)
        if store is not None:
            return store_base_url(store)
    return current_app.config["SHOPIFY_API_BASE_URL_TEMPLATE"].format(shop=shop)


def _require_app_credentials() -> None:
    if not current_app.config["SHOPIFY_API_KEY"]:
        raise InstallFailed(503, "not_configured",
                            "This Tagwise deployment has no SHOPIFY_API_KEY configured.")


@bp.get("/install")
def install_shopify():
    """Send the merchant to the shop's authorize page with a fresh single-use state."""
    _require_app_credentials()
    params = _query(request.args)
    shop = _shop(params)
    # Shopify signs the request when the merchant starts from the admin; a bare link has no hmac.
    if "hmac" in params and not oauth.verify_query(params, _app_secrets()):
        raise InstallFailed(401, "bad_signature", "The install link's signature is not valid.")
    state = secrets.token_urlsafe(32)
    try:
        current_app.extensions["redis"].set(_state_key(state), shop, ex=STATE_TTL_SECONDS)
    except RedisError as exc:
        raise InstallFailed(503, "unavailable", "Tagwise cannot start an install right "
                                                "now; try again in a minute.") from exc
    url = oauth.authorize_url(_base_url(shop), current_app.config["SHOPIFY_API_KEY"],
                              _required_scopes(), _redirect_uri(), state)
    return redirect(url, 302)


def _check_callback(params: dict[str, str | list[str]]) -> tuple[str, str]:
    """Signature, shop, freshness and state of the callback; return (shop, code)."""
    if not oauth.verify_query(params, _app_secrets()):
        raise InstallFailed(401, "bad_signature",
                            "The request did not come from Shopify (its signature is wrong).")
    shop = _shop(params)
    timestamp = params.get("timestamp")
    if not isinstance(timestamp, str) or not timestamp.isdigit():
        raise InstallFailed(400, "malformed_request", "The request has no timestamp.")
    age = time.time() - int(timestamp)
    if age > CALLBACK_MAX_AGE_SECONDS or age < -CLOCK_SKEW_SECONDS:
        raise InstallFailed(400, "stale_request",
                            "This install link has expired; start the install again.")
    code, state = params.get("code"), params.get("state")
    if not isinstance(code, str) or not code:
        raise InstallFailed(400, "malformed_request", "The request has no authorization code.")
    if not isinstance(state, str) or not state or len(state) > STATE_MAX_LENGTH:
        raise InstallFailed(400, "bad_state", "The request has no valid state.")
    try:
        bound = current_app.extensions["redis"].getdel(_state_key(state))  # single use
    except RedisError as exc:
        raise InstallFailed(503, "unavailable", "Tagwise cannot finish the install right "
                                                "now; start it again in a minute.") from exc
    if bound is None or bound.decode() != shop:
        raise InstallFailed(400, "bad_state", "This install link was already used, has "
                                              "expired or belongs to another shop; start the "
                                              "install again.")
    return shop, code


@bp.get("/callback")
def shopify_callback():
    """Verify, exchange the code, subscribe, then save the store and start its backfill."""
    _require_app_credentials()
    shop, code = _check_callback(_query(request.args))
    base_url = _base_url(shop)
    policy = RetryPolicy(max_attempts=INSTALL_POLICY_ATTEMPTS)
    try:
        grant = ShopifyOAuthClient(base_url, current_app.config["SHOPIFY_API_KEY"],
                                   current_app.config["SHOPIFY_API_SECRET"],
                                   policy=policy).exchange_code(code)
    except TransientError as exc:
        raise InstallFailed(502, "shopify_unavailable", "Shopify did not answer; start the "
                                                        "install again in a minute.") from exc
    except PermanentError as exc:
        raise InstallFailed(400, "code_refused", "Shopify refused the authorization; start "
                                                 "the install again.") from exc
    missing = oauth.missing_scopes(_required_scopes(), grant.scopes)
    if missing:
        raise InstallFailed(403, "missing_scopes", "Tagwise needs these permissions to work: "
                                                   + ", ".join(missing) + ".")
    admin = ShopifyClient(base_url, grant.access_token, current_app.config["SHOPIFY_API_VERSION"],
                          policy=policy)
    webhook_uri = current_app.config["APP_URL"].rstrip("/") + "/webhooks/shopify"
    try:
        created = ensure_subscriptions(admin, webhook_uri, SUBSCRIBED_TOPICS)
        currency, zone = shop_settings(admin)
    except ConnectorError as exc:
        reason = "shopify_unavailable" if isinstance(exc, TransientError) \
            else "subscriptions_failed"
        raise InstallFailed(502, reason, "Shopify did not accept Tagwise's webhook "
                                         f"subscriptions ({exc}).") from exc
    store_id = _save_store(shop, grant, currency, zone)
    log.info("store %s installed; %s webhook subscriptions created", store_id, len(created))
    backfill_queued = _start_backfill(store_id)
    return render_template("install/installed.html", shop=shop, store_id=store_id,
                           backfill_queued=backfill_queued)


def _save_store(shop: str, grant: oauth.TokenGrant, currency: str | None,
                zone: str | None) -> int:
    """Create the store (or revive it on a reinstall) with the new grant, in one transaction."""
    with db().session() as session:
        store: Store | None = find_shopify_store(session, shop)
        if store is None:
            store = add_shopify_store(session, shop,
                                      tag_prefix=current_app.config["DEFAULT_TAG_PREFIX"],
                                      currency=currency or "USD", timezone=zone or "UTC")
        save_grant(store, grant)
        store.webhook_secret_enc = None  # app subscriptions are signed with the app secret
        store.install_state = "active"
        return store.id


def _start_backfill(store_id: int) -> bool:
    """Queue the history import on the bulk queue (after commit); False if the broker is down."""
    try:
        current_app.extensions["celery"].send_task(BACKFILL_TASK, args=[store_id],
                                                   queue="bulk", retry=False)
    except (BrokerError, RedisError, OSError) as exc:
        log.warning("store %s installed but backfill not queued: %s", store_id,
                    type(exc).__name__)
        return False
    return True
