"""Outgoing webhooks: segment changes POSTed as signed JSON to a URL the merchant chose.

The payload and the signature scheme are described in this folder's ``README.md``; receivers
(Zapier, Make, n8n or the merchant's own code) verify them with the snippet there.
"""

from connectors.webhook.client import WebhookClient, sign
from connectors.webhook.writer import DESTINATION, WebhookWriter

__all__ = ["DESTINATION", "WebhookClient", "WebhookWriter", "sign"]
