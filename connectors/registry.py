"""Every platform and every destination kind, and what the rest of Tagwise may know of them.

Code outside ``connectors/`` reaches a platform only through :func:`platform_for` (keyed by
``Store.platform``) and a destination only through :func:`destination_kind` (keyed by
``Destination.kind``). Adding a platform is its folder plus one line in :data:`PLATFORMS`;
adding a destination is its folder plus one line in :data:`DESTINATIONS` (and its import): the
writer factory, ``tagwise destinations add``, sync's audience and the API's kind enum read it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from connectors.base import (
    ApiClient,
    CanonicalEvent,
    Change,
    DestinationKind,
    PayloadError,
    RequestedCustomer,
    StoreAction,
)
from connectors.klaviyo import writer as klaviyo_writer
from connectors.mailchimp import writer as mailchimp_writer
from connectors.shopify import client as shopify_client
from connectors.shopify import consts as shopify_consts
from connectors.shopify import flow as shopify_flow
from connectors.shopify import history as shopify_history
from connectors.shopify import metafields as shopify_metafields
from connectors.shopify import normalise as shopify_normalise
from connectors.shopify import privacy as shopify_privacy
from connectors.shopify import writer as shopify_writer
from connectors.webhook import writer as webhook_writer
from connectors.woocommerce import client as woocommerce_client
from connectors.woocommerce import history as woocommerce_history
from connectors.woocommerce import normalise as woocommerce_normalise
from connectors.woocommerce import writer as woocommerce_writer

Normaliser = Callable[[str, Any], list[CanonicalEvent]]


def _no_privacy_requests(topic: str, payload: Any) -> RequestedCustomer:
    raise PayloadError(f"{topic} is not a privacy request")


def _no_upkeep(client: ApiClient) -> list[str]:
    return []


@dataclass(frozen=True)
class Platform:
    """A store platform: how its deliveries read, how to reach its API, where its tags live."""

    name: str
    normalise: Normaliser  # (topic, body) -> canonical records; [] for nothing to ingest
    store_destination: str  # the destination kind that writes segments to the store itself
    # (base_url, stored secret, api_version=, on_attempt=, policy=) -> the platform's API client
    client: Callable[..., ApiClient]
    # (client, since) -> what changed, webhook-shaped (Change), or what could not be read
    changes_since: Callable[[Any, datetime | None], Iterator[Change | PayloadError]]
    actions: Mapping[str, StoreAction] = field(default_factory=dict)  # topic -> action
    requested_customer: Callable[[str, Any], RequestedCustomer] = _no_privacy_requests
    # (base_url, refresh_token, api_key=, api_secret=, policy=) -> a new grant, for platforms
    # whose tokens expire
    refresh_grant: Callable[..., Any] | None = None
    # (client) -> what reconciliation repaired at the platform (e.g. paused webhooks)
    upkeep: Callable[[Any], list[str]] = _no_upkeep
    # (client, product ids) -> category per product, for platforms whose order payloads
    # carry none; a failed lookup is left out
    product_categories: Callable[[Any, list[str]], dict[str, str]] | None = None


PLATFORMS: dict[str, Platform] = {
    "shopify": Platform(
        "shopify", shopify_normalise.normalise, "shopify_tags",
        client=shopify_client.client_from_credentials,
        changes_since=shopify_history.changes_since,
        actions=shopify_consts.ACTION_TOPICS,
        requested_customer=shopify_privacy.requested_customer,
        refresh_grant=shopify_client.refresh_grant,
        product_categories=shopify_history.product_categories),
    "woocommerce": Platform(
        "woocommerce", woocommerce_normalise.normalise, "woocommerce_meta",
        client=woocommerce_client.client_from_credentials,
        changes_since=woocommerce_history.changes_since,
        upkeep=woocommerce_history.revive_webhooks,
        product_categories=woocommerce_history.product_categories),
}
# Destination kinds that write to the store itself (they address customers by platform id).
STORE_DESTINATIONS = frozenset(p.store_destination for p in PLATFORMS.values())
# Topics processed alone, on any platform.
ACTION_TOPICS = frozenset(topic for p in PLATFORMS.values() for topic in p.actions)


DESTINATIONS: dict[str, DestinationKind] = {kind.kind: kind for kind in (
    shopify_writer.DESTINATION,
    woocommerce_writer.DESTINATION,
    klaviyo_writer.DESTINATION,
    mailchimp_writer.DESTINATION,
    webhook_writer.DESTINATION,
    shopify_metafields.DESTINATION,
    shopify_flow.DESTINATION,
)}


def platform_for(name: str) -> Platform:
    """The platform called ``name`` (KeyError for one Tagwise does not know)."""
    return PLATFORMS[name]


def destination_kind(kind: str) -> DestinationKind:
    """The destination kind called ``kind`` (KeyError for one Tagwise does not know)."""
    return DESTINATIONS[kind]
