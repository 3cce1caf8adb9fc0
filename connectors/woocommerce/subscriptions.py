"""The webhooks a WooCommerce site must send Tagwise, created through its REST API."""

from __future__ import annotations

from connectors.woocommerce.client import WooCommerceClient
from connectors.woocommerce.consts import TOPICS_USED


def create_subscriptions(client: WooCommerceClient, delivery_url: str, secret: str) -> None:
    """One webhook per topic Tagwise reads, all signed with ``secret``."""
    for topic in TOPICS_USED:
        client.create_webhook(topic, delivery_url, secret)
