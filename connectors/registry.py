"""Every platform and every destination kind, and what the rest of Tagwise may know of them.

Code outside ``connectors/`` reaches a platform only through :func:`platform_for` (keyed by
``Store.platform``) and a destination only through :func:`destination_kind` (keyed by
``Destination.kind``). Adding a platform is its folder plus one line in :data:`PLATFORMS`;
adding a destination is its folder plus one line in :data:`DESTINATIONS` (and its import): the
writer factory, ``tagwise destinations add``, sync's audience and the API's kind enum read it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from connectors.base import (
    CanonicalEvent,
    DestinationKind,
    PayloadError,
    RequestedCustomer,
    StoreAction,
)
from connectors.klaviyo import writer as klaviyo_writer
from connectors.mailchimp import writer as mailchimp_writer
from connectors.shopify import consts as shopify_consts
from connectors.shopify import normalise as shopify_normalise
from connectors.shopify import privacy as shopify_privacy
from connectors.shopify import writer as shopify_writer
from connectors.webhook import writer as webhook_writer
from connectors.woocommerce import normalise as woocommerce_normalise
from connectors.woocommerce import writer as woocommerce_writer

Normaliser = Callable[[str, Any], list[CanonicalEvent]]


def _no_privacy_requests(topic: str, payload: Any) -> RequestedCustomer:
    raise PayloadError(f"{topic} is not a privacy request")


@dataclass(frozen=True)
class Platform:
    """A store platform: how its deliveries read, and where its own tags live."""

    name: str
    normalise: Normaliser  # (topic, body) -> canonical records; [] for nothing to ingest
    store_destination: str  # the destination kind that writes segments to the store itself
    actions: Mapping[str, StoreAction] = field(default_factory=dict)  # topic -> action
    requested_customer: Callable[[str, Any], RequestedCustomer] = _no_privacy_requests


PLATFORMS: dict[str, Platform] = {
    "shopify": Platform("shopify", shopify_normalise.normalise, "shopify_tags",
                        shopify_consts.ACTION_TOPICS, shopify_privacy.requested_customer),
    "woocommerce": Platform("woocommerce", woocommerce_normalise.normalise, "woocommerce_meta"),
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
)}


def platform_for(name: str) -> Platform:
    """The platform called ``name`` (KeyError for one Tagwise does not know)."""
    return PLATFORMS[name]


def destination_kind(kind: str) -> DestinationKind:
    """The destination kind called ``kind`` (KeyError for one Tagwise does not know)."""
    return DESTINATIONS[kind]
