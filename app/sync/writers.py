"""Build the TagWriter for a destination: the registry from configuration to connector."""

from __future__ import annotations

from collections.abc import Callable

from flask import current_app

from app.clients import CredentialsUnavailable, store_client
from app.storage.models import Destination, Store
from connectors.base import Attempt, RetryPolicy, TagWriter
from connectors.klaviyo import KlaviyoClient, KlaviyoWriter
from connectors.mailchimp import MailchimpClient, MailchimpWriter
from connectors.shopify.flow import ShopifyFlowWriter
from connectors.shopify.metafields import ShopifyMetafieldsWriter
from connectors.shopify.writer import ShopifyTagWriter
from connectors.woocommerce.writer import WooCommerceMetaWriter

EMAIL_DESTINATIONS = ("klaviyo", "mailchimp")


class DestinationUnavailable(CredentialsUnavailable):
    """The destination cannot be written now (uninstalled store, missing credentials)."""


def make_writer(store: Store, destination: Destination,
                on_attempt: Callable[[Attempt], None],
                policy: RetryPolicy | None = None) -> TagWriter:
    """The writer for one destination of one store."""
    box = current_app.extensions["secret_box"]
    if store.install_state != "active":
        raise DestinationUnavailable(f"store is {store.install_state}")
    if destination.kind == "shopify_tags":
        return ShopifyTagWriter(store_client(store, on_attempt, policy))
    if destination.kind == "shopify_metafields":
        return ShopifyMetafieldsWriter(store_client(store, on_attempt, policy))
    if destination.kind == "shopify_flow":
        return ShopifyFlowWriter(store_client(store, on_attempt, policy))
    if destination.kind == "woocommerce_meta":
        return WooCommerceMetaWriter(store_client(store, on_attempt, policy),
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
