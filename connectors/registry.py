"""The registry: which normaliser reads which platform's webhooks, and every destination kind.

A new destination is its folder under ``connectors/`` plus its entry in ``DESTINATIONS`` (and
the import of its writer module): the writer factory, ``tagwise destinations add``, sync's
audience and the API's kind enum all read it from here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from connectors.base import CanonicalEvent, DestinationKind
from connectors.klaviyo import writer as klaviyo_writer
from connectors.mailchimp import writer as mailchimp_writer
from connectors.shopify import normalise as shopify
from connectors.shopify import writer as shopify_writer
from connectors.webhook import writer as webhook_writer
from connectors.woocommerce import normalise as woocommerce
from connectors.woocommerce import writer as woocommerce_writer

Normaliser = Callable[[str, Any], list[CanonicalEvent]]


def _woocommerce(topic: str, payload: Any) -> list[CanonicalEvent]:
    record = woocommerce.normalise(topic, payload)  # None: a draft, or nothing to ingest
    return [record] if record is not None else []


NORMALISERS: dict[str, Normaliser] = {"shopify": shopify.normalise, "woocommerce": _woocommerce}

DESTINATIONS: dict[str, DestinationKind] = {kind.kind: kind for kind in (
    shopify_writer.DESTINATION,
    woocommerce_writer.DESTINATION,
    klaviyo_writer.DESTINATION,
    mailchimp_writer.DESTINATION,
    webhook_writer.DESTINATION,
)}


def normaliser_for(platform: str) -> Normaliser:
    """The normaliser of a platform (KeyError for one Tagwise does not know)."""
    return NORMALISERS[platform]


def destination_kind(kind: str) -> DestinationKind:
    """The destination kind called ``kind`` (KeyError for one Tagwise does not know)."""
    return DESTINATIONS[kind]
