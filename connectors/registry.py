"""Which normaliser reads which platform's webhooks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from connectors.base import CanonicalEvent
from connectors.shopify import normalise as shopify
from connectors.woocommerce import normalise as woocommerce

Normaliser = Callable[[str, Any], list[CanonicalEvent]]


def _woocommerce(topic: str, payload: Any) -> list[CanonicalEvent]:
    record = woocommerce.normalise(topic, payload)  # None: a draft, or nothing to ingest
    return [record] if record is not None else []


NORMALISERS: dict[str, Normaliser] = {"shopify": shopify.normalise, "woocommerce": _woocommerce}


def normaliser_for(platform: str) -> Normaliser:
    """The normaliser of a platform (KeyError for one Tagwise does not know)."""
    return NORMALISERS[platform]
