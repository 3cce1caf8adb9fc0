"""Build the TagWriter for a destination: the registry from configuration to connector."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select

from app.storage.db import utcnow
from app.storage.models import Destination, Store
from connectors.base import Attempt, ConnectorError, PermanentError, RetryPolicy, TagWriter
from connectors.klaviyo import KlaviyoClient, KlaviyoWriter
from connectors.mailchimp import MailchimpClient, MailchimpWriter
from connectors.shopify.client import ShopifyClient, ShopifyOAuthClient
from connectors.shopify.flow import ShopifyFlowWriter
from connectors.shopify.metafields import ShopifyMetafieldsWriter
from connectors.shopify.oauth import TokenGrant
from connectors.shopify.writer import ShopifyTagWriter
from connectors.woocommerce.client import WooCommerceClient
from connectors.woocommerce.writer import WooCommerceMetaWriter

DESTINATION_KINDS = ("shopify_tags", "woocommerce_meta", "klaviyo", "mailchimp",
                     "shopify_metafields", "shopify_flow")
EMAIL_DESTINATIONS = ("klaviyo", "mailchimp")
# Renew an expiring offline token this long before it lapses (it lives one hour).
TOKEN_REFRESH_MARGIN = timedelta(minutes=5)


class DestinationUnavailable(Exception):
    """The destination cannot be written now (uninstalled store, missing credentials)."""


def shopify_base_url(store: Store) -> str:
    """Where a shop's Admin API lives: the store's override, else the configured template."""
    if store.api_base_url:
        return store.api_base_url
    return current_app.config["SHOPIFY_API_BASE_URL_TEMPLATE"].format(shop=store.domain)


def shopify_oauth_client(base_url: str, policy: RetryPolicy | None = None) -> ShopifyOAuthClient:
    """The token endpoint of a shop, as this app (SHOPIFY_API_KEY / SHOPIFY_API_SECRET)."""
    return ShopifyOAuthClient(base_url, current_app.config["SHOPIFY_API_KEY"],
                              current_app.config["SHOPIFY_API_SECRET"], policy=policy)


def save_grant(store: Store, grant: TokenGrant, now: datetime | None = None) -> None:
    """Keep a token grant on the store row, tokens encrypted, expiries as timestamps."""
    box = current_app.extensions["secret_box"]
    now = now or utcnow()

    def after(seconds: int | None) -> datetime | None:
        return now + timedelta(seconds=seconds) if seconds else None

    store.access_token_enc = box.encrypt(grant.access_token)
    store.access_token_expires_at = after(grant.expires_in)
    store.refresh_token_enc = box.encrypt(grant.refresh_token) if grant.refresh_token else None
    store.refresh_token_expires_at = after(grant.refresh_token_expires_in)
    if grant.scopes:
        store.scopes = ",".join(grant.scopes)


def _needs_refresh(store: Store) -> bool:
    expires = store.access_token_expires_at
    return expires is not None and expires <= utcnow() + TOKEN_REFRESH_MARGIN


def shopify_access_token(store: Store, policy: RetryPolicy | None = None) -> str:
    """The shop's access token, renewed first when an expiring token has (nearly) lapsed.

    The renewal runs in its own committed transaction with the store row locked, so two
    workers never spend the same refresh token (Shopify rotates it on every use) and a later
    rollback of the caller cannot lose the new one.
    """
    if not store.access_token_enc:
        raise DestinationUnavailable("no access token")
    box = current_app.extensions["secret_box"]
    if not _needs_refresh(store):
        return box.decrypt(store.access_token_enc)
    with current_app.extensions["db"].session() as session:
        row = session.execute(select(Store).filter_by(id=store.id).with_for_update()).scalar_one()
        if _needs_refresh(row):  # nobody renewed it while we waited for the lock
            if not row.refresh_token_enc:
                raise DestinationUnavailable("access token expired and no refresh token")
            try:
                grant = shopify_oauth_client(shopify_base_url(row), policy).refresh(
                    box.decrypt(row.refresh_token_enc))
            except PermanentError as exc:
                raise DestinationUnavailable(f"token refresh refused, reinstall the app: "
                                             f"{exc}") from exc
            except ConnectorError as exc:
                raise DestinationUnavailable(f"token refresh failed: {exc}") from exc
            save_grant(row, grant)
        for name in ("access_token_enc", "access_token_expires_at", "refresh_token_enc",
                     "refresh_token_expires_at", "scopes"):
            setattr(store, name, getattr(row, name))
    return box.decrypt(store.access_token_enc)


def shopify_client(store: Store, on_attempt: Callable[[Attempt], None] | None = None,
                   policy: RetryPolicy | None = None) -> ShopifyClient:
    """An Admin GraphQL client for a shop, with a token that has not expired."""
    return ShopifyClient(shopify_base_url(store), shopify_access_token(store, policy),
                         current_app.config["SHOPIFY_API_VERSION"], on_attempt=on_attempt,
                         policy=policy)


def woocommerce_client(store: Store, on_attempt: Callable[[Attempt], None] | None = None,
                       policy: RetryPolicy | None = None) -> WooCommerceClient:
    """A REST client for a WooCommerce store from its encrypted consumer key and secret."""
    if not store.access_token_enc:
        raise DestinationUnavailable("no REST API credentials")
    box = current_app.extensions["secret_box"]
    credentials = json.loads(box.decrypt(store.access_token_enc))
    return WooCommerceClient(store.api_base_url or store.domain, credentials["consumer_key"],
                             credentials["consumer_secret"], on_attempt=on_attempt,
                             policy=policy)


def make_writer(store: Store, destination: Destination,
                on_attempt: Callable[[Attempt], None],
                policy: RetryPolicy | None = None) -> TagWriter:
    """The writer for one destination of one store."""
    box = current_app.extensions["secret_box"]
    if store.install_state != "active":
        raise DestinationUnavailable(f"store is {store.install_state}")
    if destination.kind == "shopify_tags":
        return ShopifyTagWriter(shopify_client(store, on_attempt, policy))
    if destination.kind == "shopify_metafields":
        return ShopifyMetafieldsWriter(shopify_client(store, on_attempt, policy))
    if destination.kind == "shopify_flow":
        return ShopifyFlowWriter(shopify_client(store, on_attempt, policy))
    if destination.kind == "woocommerce_meta":
        return WooCommerceMetaWriter(woocommerce_client(store, on_attempt, policy),
                                     prefix=store.tag_prefix)
    if destination.kind in EMAIL_DESTINATIONS:
        if not destination.credentials_enc:
            raise DestinationUnavailable("no API key")
        api_key = box.decrypt(destination.credentials_enc)
        base_url = destination.config.get("api_base_url")
        if destination.kind == "klaviyo":
            options = {"base_url": base_url} if base_url else {}
            klaviyo = KlaviyoClient(api_key, on_attempt=on_attempt, policy=policy, **options)
            return KlaviyoWriter(klaviyo, prefix=store.tag_prefix,
                                 list_per_segment=bool(destination.config.get("list_per_segment")))
        mailchimp = MailchimpClient(api_key, base_url=base_url, on_attempt=on_attempt,
                                    policy=policy)
        return MailchimpWriter(mailchimp, destination.config["list_id"], prefix=store.tag_prefix)
    raise DestinationUnavailable(f"unknown destination kind {destination.kind}")
