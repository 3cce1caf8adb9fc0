"""Every platform and what the rest of Tagwise may know about it, keyed by ``Store.platform``.

Code outside ``connectors/`` reaches a platform only through :func:`platform_for`: adding a
platform is its folder plus one line in :data:`PLATFORMS`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from connectors.base import CanonicalEvent, PayloadError, RequestedCustomer, StoreAction
from connectors.shopify import consts as shopify_consts
from connectors.shopify import normalise as shopify_normalise
from connectors.shopify import privacy as shopify_privacy
from connectors.woocommerce import normalise as woocommerce_normalise

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


def platform_for(name: str) -> Platform:
    """The platform called ``name`` (KeyError for one Tagwise does not know)."""
    return PLATFORMS[name]
