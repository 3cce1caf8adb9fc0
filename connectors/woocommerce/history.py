"""WooCommerce reads beyond webhooks: changes since a watermark, paused webhooks, product
categories (order payloads carry product ids only)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from connectors.base import Change, ConnectorError, PayloadError
from connectors.woocommerce.client import WooCommerceClient
from connectors.woocommerce.normalise import category_from_product
from connectors.woocommerce.webhooks import dedupe_key

DELIVERY_PATH = "/webhooks/woocommerce/"


def changes_since(client: WooCommerceClient,
                  since: datetime | None) -> Iterator[Change | PayloadError]:
    """Every customer and order modified since ``since``, as the REST objects webhooks carry;
    one without a usable id or date is yielded as its PayloadError."""
    for topic, resources in (("customer.updated", client.iter_customers(since)),
                             ("order.updated", client.iter_orders(since))):
        for resource in resources:
            try:
                yield Change(topic, dedupe_key(topic, resource), resource)
            except PayloadError as exc:
                yield exc


def revive_webhooks(client: WooCommerceClient) -> list[str]:
    """Re-activate any of Tagwise's webhooks the site paused or disabled; say which."""
    revived = []
    for hook in client.list_webhooks():
        if hook.get("status") != "active" and DELIVERY_PATH in hook.get("delivery_url", ""):
            client.activate_webhook(hook["id"])
            revived.append(f"{hook.get('topic')} was {hook.get('status')}")
    return revived


def product_categories(client: WooCommerceClient, product_ids: list[str]) -> dict[str, str]:
    """Each product's first category name ("" for none); a product whose lookup failed is left
    out, so the next order of it tries again."""
    found = {}
    for product_id in product_ids:
        try:
            found[product_id] = category_from_product(client.get_product(int(product_id))) or ""
        except (ConnectorError, ValueError):
            continue
    return found
