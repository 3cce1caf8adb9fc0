"""Which normaliser reads which platform's webhooks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from connectors.base import CanonicalEvent
from connectors.shopify import normalise as shopify

Normaliser = Callable[[str, Any], list[CanonicalEvent]]

NORMALISERS: dict[str, Normaliser] = {"shopify": shopify.normalise}


def normaliser_for(platform: str) -> Normaliser:
    """The normaliser of a platform (KeyError for one Tagwise does not know)."""
    return NORMALISERS[platform]
