"""Register the webhook subscriptions Tagwise needs, idempotently, through Admin GraphQL.

Existing subscriptions are listed first and only the missing (topic, uri) pairs are created,
so a reinstall creates no duplicates (Shopify would also refuse one: "Address for this topic
has already been taken"). The privacy topics are not subscribable through the API: they are
declared in the app's configuration.
https://shopify.dev/docs/api/admin-graphql/latest/mutations/webhookSubscriptionCreate
"""

from __future__ import annotations

from collections.abc import Iterable

from connectors.base import PermanentError
from connectors.shopify.client import ShopifyClient

LIST_QUERY = """
query TagwiseSubscriptions($after: String) {
  webhookSubscriptions(first: 100, after: $after) {
    nodes { id topic uri }
    pageInfo { hasNextPage endCursor }
  }
}"""

CREATE_MUTATION = """
mutation TagwiseSubscribe($topic: WebhookSubscriptionTopic!, $sub: WebhookSubscriptionInput!) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: $sub) {
    webhookSubscription { id topic uri }
    userErrors { field message }
  }
}"""

SHOP_QUERY = "query TagwiseShop { shop { currencyCode ianaTimezone } }"


def topic_enum(topic: str) -> str:
    """``orders/create`` → ``ORDERS_CREATE`` (WebhookSubscriptionTopic)."""
    return topic.replace("/", "_").replace(".", "_").upper()


def existing_subscriptions(client: ShopifyClient) -> set[tuple[str, str]]:
    """Every (topic enum, uri) the app is already subscribed to on this shop."""
    found: set[tuple[str, str]] = set()
    after = None
    while True:
        page = client.graphql(LIST_QUERY, {"after": after}).get("webhookSubscriptions") or {}
        found |= {(n["topic"], n["uri"]) for n in page.get("nodes") or []}
        info = page.get("pageInfo") or {}
        if not info.get("hasNextPage"):
            return found
        after = info.get("endCursor")


def ensure_subscriptions(client: ShopifyClient, uri: str, topics: Iterable[str]) -> list[str]:
    """Create each missing subscription to ``uri``; return the topics created now.

    A ``userErrors`` answer raises PermanentError naming the topic and Shopify's message.
    """
    have = existing_subscriptions(client)
    created = []
    for topic in topics:
        if (topic_enum(topic), uri) in have:
            continue
        result = client.graphql(CREATE_MUTATION, {"topic": topic_enum(topic),
                                                  "sub": {"uri": uri, "format": "JSON"}})
        payload = result.get("webhookSubscriptionCreate") or {}
        errors = payload.get("userErrors") or []
        if errors or not payload.get("webhookSubscription"):
            messages = "; ".join(str(e.get("message")) for e in errors) or "no subscription"
            raise PermanentError(f"{topic}: {messages}"[:500], reason="subscription_refused")
        created.append(topic)
    return created


def shop_settings(client: ShopifyClient) -> tuple[str | None, str | None]:
    """The shop's currency code and IANA timezone (None where Shopify says nothing)."""
    shop = client.graphql(SHOP_QUERY).get("shop") or {}
    currency, zone = shop.get("currencyCode"), shop.get("ianaTimezone")
    return (currency if isinstance(currency, str) and len(currency) == 3 else None,
            zone if isinstance(zone, str) and zone else None)
