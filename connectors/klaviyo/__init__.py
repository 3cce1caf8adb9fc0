"""Klaviyo: segments as profile properties (and optional static lists), written in bulk."""

from connectors.klaviyo.client import KlaviyoClient
from connectors.klaviyo.writer import KlaviyoWriter

__all__ = ["KlaviyoClient", "KlaviyoWriter"]
