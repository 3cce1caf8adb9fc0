"""Slack-compatible incoming webhooks: where operator alerts are posted."""

from connectors.slack.client import AlertClient

__all__ = ["AlertClient"]
