"""Build the TagWriter for a destination: the registry from configuration to connector."""

from __future__ import annotations

import json
from collections.abc import Callable

from flask import current_app

from app.models import Destination, Store
from connectors.base import Attempt, RetryPolicy, TagWriter
from connectors.klaviyo import KlaviyoClient, KlaviyoWriter
from connectors.mailchimp import MailchimpClient, MailchimpWriter
from connectors.shopify.client import ShopifyClient
from connectors.shopify.writer import ShopifyTagWriter
from connectors.woocommerce.client import WooCommerceClient
from connectors.woocommerce.writer import WooCommerceMetaWriter

DESTINATION_KINDS = ("shopify_tags", "woocommerce_meta", "klaviyo", "mailchimp")
EMAIL_DESTINATIONS = ("klaviyo", "mailchimp")


class DestinationUnavailable(Exception):
    """The destination cannot be written now (uninstalled store, missing credentials)."""


def shopify_base_url(store: Store) -> str:
    """Where a shop's Admin API lives: the store's override, else the configured template."""
    if store.api_base_url:
        return store.api_base_url
    return current_app.config["SHOPIFY_API_BASE_URL_TEMPLATE"].format(shop=store.domain)


def shopify_client(store: Store, on_attempt: Callable[[Attempt], None] | None = None,
                   policy: RetryPolicy | None = None) -> ShopifyClient:
    """An Admin GraphQL client for a shop from its encrypted access token."""
    if not store.access_token_enc:
        raise DestinationUnavailable("no access token")
    box = current_app.extensions["secret_box"]
    return ShopifyClient(shopify_base_url(store), box.decrypt(store.access_token_enc),
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
